/** Klines selection rules (binance.md §1-2) over real HTTP. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { klineOpenTime } from '../../shared/contracts/common.ts';
import { aggregate, asCandle, DAY, HOUR, MIN, NOW, start, type Row, type Running } from './helpers.ts';

let sim: Running;
let later: Running;
beforeAll(async () => {
  sim = await start({ seed: 7, gaps: { perYear: 0 }, now: () => NOW });
  // Same market two minutes later: the candle open at NOW is complete there.
  later = await start({ seed: 7, gaps: { perYear: 0 }, now: () => NOW + 2 * MIN });
});
afterAll(async () => {
  await sim.close();
  await later.close();
});

const klines = (s: Running, q: string) => s.json<Row[]>(`/api/v3/klines?symbol=BTCUSDT&${q}`);
const opens = (rows: Row[]) => rows.map((r) => r[0]);

describe('spot klines selection', () => {
  it('returns rows whose open time lies in [startTime, endTime]; a mid-candle start skips that candle', async () => {
    const startTime = Date.UTC(2025, 5, 21, 3, 0, 31, 191);
    const endTime = startTime + 10 * MIN;
    const rows = await klines(sim, `interval=1m&startTime=${startTime}&endTime=${endTime}&limit=1500`);
    expect(rows[0]![0]).toBe(Date.UTC(2025, 5, 21, 3, 1));
    expect(rows.at(-1)![0]).toBe(Date.UTC(2025, 5, 21, 3, 10));
    expect(rows).toHaveLength(10);
    for (const r of rows) {
      expect(r[0]).toBeGreaterThanOrEqual(startTime);
      expect(r[0]).toBeLessThanOrEqual(endTime);
      expect(r[6]).toBe(r[0] + MIN - 1);
    }
    // The last row may close after endTime, like the capture.
    expect(rows.at(-1)![6]).toBeGreaterThan(endTime);
  });

  it('startTime == endTime on a candle open is legal and returns that candle', async () => {
    const t = Date.UTC(2025, 5, 20, 7, 0);
    expect(opens(await klines(sim, `interval=1h&startTime=${t}&endTime=${t}`))).toEqual([t]);
  });

  it('limit defaults to 500 and is cut to 1000', async () => {
    const startTime = Date.UTC(2025, 0, 1);
    expect(await klines(sim, `interval=1m&startTime=${startTime}`)).toHaveLength(500);
    const big = await klines(sim, `interval=1m&startTime=${startTime}&limit=5000`);
    expect(big).toHaveLength(1000);
    expect(big.at(-1)![0]).toBe(startTime + 999 * MIN);
  });

  it('only startTime pages forward contiguously', async () => {
    const a = await klines(sim, `interval=5m&startTime=${Date.UTC(2025, 0, 1)}&limit=3`);
    const b = await klines(sim, `interval=5m&startTime=${a.at(-1)![0] + 1}&limit=3`);
    expect([...opens(a), ...opens(b)]).toEqual(
      [0, 1, 2, 3, 4, 5].map((i) => Date.UTC(2025, 0, 1) + i * 5 * MIN),
    );
  });

  it('only endTime returns the newest `limit` candles up to endTime', async () => {
    const endTime = Date.UTC(2025, 2, 3, 10, 30, 5);
    const rows = await klines(sim, `interval=1h&endTime=${endTime}&limit=24`);
    expect(rows).toHaveLength(24);
    expect(rows.at(-1)![0]).toBe(Date.UTC(2025, 2, 3, 10));
    expect(opens(rows)).toEqual(rows.map((_, i) => Date.UTC(2025, 2, 3, 10) - (23 - i) * HOUR));
  });

  it('without times returns the newest candles, the last one still open with partial values', async () => {
    const rows = await klines(sim, 'interval=1m&limit=3');
    const open = rows.at(-1)!;
    expect(open[0]).toBe(klineOpenTime('1m', NOW));
    expect(open[6]).toBeGreaterThan(NOW);
    // Partial = exactly the trades up to now; two minutes later the same candle is complete.
    const done = (await klines(later, `interval=1m&startTime=${open[0]}&limit=1`))[0]!;
    expect(done[0]).toBe(open[0]);
    expect(open[8]).toBeLessThan(done[8]);
    expect(units(open[5])).toBeLessThan(units(done[5]));
    const aggs = await sim.json<Array<{ q: string; T: number }>>(
      `/api/v3/aggTrades?symbol=BTCUSDT&startTime=${open[0]}&endTime=${open[0] + MIN - 1}&limit=1000`,
    );
    expect(aggs.length).toBeGreaterThan(0);
    expect(aggs.every((t) => t.T <= NOW)).toBe(true);
    expect(aggs.reduce((a, t) => a + units(t.q), 0n)).toBe(units(open[5]));
    // Higher intervals: the open hour aggregates the hour's minutes up to now.
    const hour = (await klines(sim, 'interval=1h&limit=1'))[0]!;
    const minutes = await klines(sim, `interval=1m&startTime=${hour[0]}&limit=60`);
    expect(asCandle(hour)).toEqual(aggregate(minutes));
  });

  it('answers [] past the end and before listing', async () => {
    const listing = sim.ex.listingTime('BTCUSDT', 'spot');
    expect(await klines(sim, `interval=1m&startTime=${NOW + MIN}`)).toEqual([]);
    expect(await klines(sim, `interval=1m&endTime=${listing - 1}`)).toEqual([]);
    expect(await klines(sim, `interval=1d&startTime=0&endTime=${listing - DAY}`)).toEqual([]);
    const first = await klines(sim, `interval=1m&startTime=0&limit=2`);
    expect(first[0]![0]).toBe(listing);
  });

  it('spot answers [] (no error) when startTime > endTime', async () => {
    expect(await klines(sim, `interval=1m&startTime=${NOW - MIN}&endTime=${NOW - 10 * MIN}`)).toEqual([]);
  });

  it('accepts microsecond times on spot', async () => {
    const ms = Date.UTC(2025, 0, 1);
    const a = await klines(sim, `interval=1m&startTime=${ms * 1000}&limit=2`);
    expect(opens(a)).toEqual([ms, ms + MIN]);
  });

  it('serves 1s candles and aligns 1w on Monday and 1M on the 1st', async () => {
    const s = await klines(sim, `interval=1s&startTime=${Date.UTC(2025, 0, 1)}&limit=1000`);
    expect(opens(s)).toEqual(s.map((_, i) => Date.UTC(2025, 0, 1) + i * 1000));
    const w = await klines(sim, `interval=1w&startTime=${Date.UTC(2025, 0, 1)}&limit=2`);
    expect(w.map((r) => new Date(r[0]).getUTCDay())).toEqual([1, 1]);
    const mo = await klines(sim, `interval=1M&startTime=${Date.UTC(2024, 10, 15)}&limit=3`);
    expect(opens(mo)).toEqual([Date.UTC(2024, 11, 1), Date.UTC(2025, 0, 1), Date.UTC(2025, 1, 1)]);
    expect(mo[0]![6]).toBe(Date.UTC(2025, 0, 1) - 1);
  });
});

describe('USD-M klines selection', () => {
  const fk = (q: string) => sim.json<Row[]>(`/fapi/v1/klines?symbol=BTCUSDT&${q}`);
  it('limit defaults to 500 and is cut to 1500', async () => {
    const startTime = Date.UTC(2025, 0, 1);
    expect(await fk(`interval=1m&startTime=${startTime}`)).toHaveLength(500);
    expect(await fk(`interval=1m&startTime=${startTime}&limit=2000`)).toHaveLength(1500);
  });
  it('prints the symbol precision (2 price, 3 quantity decimals)', async () => {
    const [r] = await fk('interval=1h&limit=1');
    expect(r![1]).toMatch(/^\d+\.\d{2}$/);
    expect(r![5]).toMatch(/^\d+\.\d{3}$/);
    expect(r![7]).toMatch(/^\d+\.\d{5}$/);
  });
});

const units = (s: string) => BigInt(s.replace('.', ''));
