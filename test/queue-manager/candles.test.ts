/**
 * GET /series/{market}/{symbol}/{dataset}/candles (functions/queue-manager/chart-routes.ts): a
 * kline series bucketed by the store to at most `max` candles, on the bucket's own grid.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bucketFor } from '../../functions/queue-manager/chart-routes.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { seriesRecord } from '../../shared/store/store.ts';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import { startManager, tempDir, type TestManager } from './helpers.ts';

const MIN = 60_000;
const HOUR = 60 * MIN;
const START = Date.UTC(2024, 0, 1);

describe('bucketFor', () => {
  it('picks the smallest Binance interval, not finer than the series, that fits max', () => {
    expect(bucketFor(MIN, 0, 1000 * MIN, 2000)).toBe(MIN);
    expect(bucketFor(MIN, 0, 4320 * MIN, 4000)).toBe(3 * MIN);
    expect(bucketFor(MIN, 0, 525_600 * MIN, 4000)).toBe(4 * HOUR);
    expect(bucketFor(HOUR, 0, 10 * HOUR, 2000)).toBe(HOUR);
    // Beyond a week per candle: whole weeks.
    expect(bucketFor(MIN, 0, 5000 * 7 * 24 * HOUR, 10)).toBe(500 * 7 * 24 * HOUR);
  });
});

describe('GET /series/…/candles', () => {
  let m: TestManager;
  let cleanup = () => {};
  const market = syntheticMarket({ symbols: ['BTCUSDT'], bars: 600, interval: '1m', start: START, seed: 4 });
  const klines = market.klines[0]!;

  beforeAll(async () => {
    const t = tempDir();
    cleanup = t.cleanup;
    m = await startManager({ sqlitePath: path.join(t.dir, 'm.sqlite') });
    await m.store.upsertRecords(
      canonicalCollection('kline'),
      klines.map((k) => seriesRecord('kline', k)),
    );
  });
  afterAll(async () => {
    await m.close();
    cleanup();
  });

  it('buckets the klines: first open, highest high, lowest low, last close, summed volume', async () => {
    const res = await m.request(`/series/spot/BTCUSDT/klines_1m/candles?max=50`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as {
      bucket_ms: number;
      interval_ms: number;
      candles: { t: number; o: number; h: number; l: number; c: number; v: number }[];
    };
    // 600 minutes in at most 50 candles: 15m buckets (40 of them).
    expect(body.interval_ms).toBe(MIN);
    expect(body.bucket_ms).toBe(15 * MIN);
    expect(body.candles).toHaveLength(40);
    const b = body.candles[7]!;
    const inside = klines.filter(
      (k) => k.open_time >= START + 7 * 15 * MIN && k.open_time < START + 8 * 15 * MIN,
    );
    expect(b).toEqual({
      t: inside[0]!.open_time,
      o: Number(inside[0]!.open),
      h: Math.max(...inside.map((k) => Number(k.high))),
      l: Math.min(...inside.map((k) => Number(k.low))),
      c: Number(inside.at(-1)!.close),
      v: expect.closeTo(
        inside.reduce((s, k) => s + Number(k.volume), 0),
        6,
      ) as number,
    });
  });

  it('reads a range finer: 1m candles for an hour', async () => {
    const from = START + 2 * HOUR;
    const res = await m.request(`/series/spot/BTCUSDT/klines_1m/candles?from=${from}&to=${from + HOUR}`);
    const body = (await res.json()) as { bucket_ms: number; candles: { t: number }[] };
    expect(body.bucket_ms).toBe(MIN);
    expect(body.candles.map((c) => c.t)).toEqual(Array.from({ length: 60 }, (_, i) => from + i * MIN));
  });

  it('answers 404 for a series without klines and 400 for one that is not klines or a bad max', async () => {
    expect((await m.request('/series/spot/ETHUSDT/klines_1m/candles')).status).toBe(404);
    const notKlines = await m.request('/series/spot/BTCUSDT/trades/candles');
    expect(notKlines.status).toBe(400);
    expect(JSON.stringify(await notKlines.json())).toContain('klines_<interval>');
    const bad = await m.request('/series/spot/BTCUSDT/klines_1m/candles?max=5');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
    expect(
      (await m.request(`/series/spot/BTCUSDT/klines_1m/candles?from=${START + HOUR}&to=${START}`)).status,
    ).toBe(400);
  });
});
