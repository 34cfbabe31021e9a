/**
 * Completeness over real HTTP against the simulator with faults on: every record the simulator
 * has in the range is published exactly once, pages tile the range in seq order, and the exchange
 * gaps reported are exactly the simulator's (gapsIn / candles that do not exist).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoader } from '../../functions/loader-api/handler.ts';
import {
  klineNextOpenTime,
  klineOpenTime,
  type KlineInterval,
  type Market,
} from '../../shared/contracts/common.ts';
import { Topics, canonicalCollection } from '../../shared/contracts/events.ts';
import { RECORD_SCHEMAS, datasetKind, identify } from '../../shared/contracts/records.ts';
import { checkRows, recordFromRow, type Row } from '../../shared/contracts/rows.ts';
import { planFor, type WorkflowType } from '../../shared/contracts/workflow.ts';
import { mergeRangeSet } from '../../shared/store/ranges.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import type { Range } from '../../shared/store/store.ts';
import { collect, command, makeDeps, memoryBus, startSim, until, type Sim } from './helpers.ts';

const H = 3_600_000;

const GAP_1 = { from: Date.UTC(2024, 2, 2, 5, 0), to: Date.UTC(2024, 2, 2, 7, 30) };
const GAP_2 = { from: Date.UTC(2024, 2, 10, 0, 0), to: Date.UTC(2024, 2, 11, 0, 0) };

let sim: Sim;
beforeAll(async () => {
  sim = await startSim({
    seed: 3,
    weightLimit: 0,
    faults: { rate5xx: 0.1, resetRate: 0.05, malformedRate: 0.1, latencyMs: 0, latencyJitterMs: 3 },
    gaps: { perYear: 0, windows: [GAP_1, GAP_2] },
  });
});
afterAll(() => sim.close());

/** Open times of the candles the simulator has (and has closed) in [from, to), and the missing slots as gaps. */
function expectedKlines(market: Market, symbol: string, interval: KlineInterval, r: Range, now: number) {
  const builder = sim.ex.data.candles(market, symbol);
  const end = Math.min(r.to, klineOpenTime(interval, now));
  const keys: number[] = [];
  const gaps: Range[] = [];
  let t = klineOpenTime(interval, r.from);
  if (t < r.from) t = klineNextOpenTime(interval, t);
  for (; t < end; t = klineNextOpenTime(interval, t)) {
    if (builder.candle(interval, t, now)) keys.push(t);
    else gaps.push({ from: t, to: Math.min(klineNextOpenTime(interval, t), end) });
  }
  return { keys, gaps: mergeRangeSet(gaps), end };
}

async function load(type: WorkflowType, market: Market, symbol: string, r: Range) {
  const kind = datasetKind(planFor(type).dataset!);
  const bus = memoryBus();
  const store = createSqliteStore({ path: ':memory:' });
  const topic = Topics.data(kind);
  const got = await collect(bus, topic);
  const cmd = command({
    type,
    market,
    symbol,
    start: r.from,
    end: r.to,
    kafka_topic: topic,
    collection_name: canonicalCollection(kind),
  });
  const code = await runLoader(makeDeps(sim, bus, store, { maxTries: 10 }), {
    commandJson: JSON.stringify(cmd),
    signal: new AbortController().signal,
  });
  const final = () => got.events.find((e) => e.message === 'loader finished');
  if (code === 0)
    await until(() => final() !== undefined && got.batches.length === final()!.batches_published);
  await got.close();
  await bus.close();
  await store.close();
  return { code, got, final: final(), kind };
}

/** Checks what every dataset shares: seq order, tiling, each record valid and published once. */
function checkBatches(res: Awaited<ReturnType<typeof load>>, r: Range, end: number) {
  const { got, kind } = res;
  expect(res.code).toBe(0);
  expect(got.batches.map((b) => b.seq)).toEqual(got.batches.map((_, i) => i));
  expect(res.final?.batches_published).toBe(got.batches.length);
  expect(new Set(got.batchIds).size).toBe(got.batchIds.length);
  let at = r.from;
  for (const b of got.batches) {
    expect(b.covers!.from).toBe(at);
    at = b.covers!.to;
  }
  expect(at).toBe(end);
  const keys = got.batches.flatMap((b) =>
    b.rows.map((row) => {
      // Every published row is a valid row of its kind, and its record a valid record.
      expect(checkRows(kind, [row]).bad).toEqual([]);
      const series = { market: b.market, symbol: b.symbol, dataset: b.dataset };
      return identify(kind, RECORD_SCHEMAS[kind].parse(recordFromRow(kind, series, row as Row)) as never);
    }),
  );
  expect(new Set(keys.map((k) => k.key)).size).toBe(keys.length);
  for (const k of keys) expect(k.time >= r.from && k.time < end).toBe(true);
  return keys;
}

describe('loader-api completeness against the simulator (5xx, resets, malformed bodies on)', () => {
  it.each<[WorkflowType, Market, string, Range]>([
    ['api_candles_1m', 'spot', 'BTCUSDT', { from: Date.UTC(2024, 2, 1), to: Date.UTC(2024, 2, 4) }],
    [
      'api_candles_1s',
      'spot',
      'BTCUSDT',
      { from: Date.UTC(2024, 2, 2, 4, 50), to: Date.UTC(2024, 2, 2, 5, 20) },
    ],
    ['api_candles_1h', 'spot', 'ETHUSDT', { from: Date.UTC(2024, 1, 20, 13, 30), to: Date.UTC(2024, 3, 1) }],
    ['api_candles_1w', 'spot', 'BTCUSDT', { from: Date.UTC(2023, 5, 7, 9), to: Date.UTC(2024, 2, 13, 12) }],
    ['api_candles_1M', 'spot', 'BTCUSDT', { from: Date.UTC(2023, 0, 15), to: Date.UTC(2024, 3, 1) }],
    ['api_candles_1m', 'usdm', 'BTCUSDT', { from: Date.UTC(2024, 2, 1, 12), to: Date.UTC(2024, 2, 3) }],
    ['api_candles_4h', 'usdm', 'ETHUSDT', { from: Date.UTC(2023, 9, 1), to: Date.UTC(2024, 2, 20) }],
    ['api_candles_15m', 'spot', 'ETHBTC', { from: Date.UTC(2017, 6, 14), to: Date.UTC(2017, 6, 20) }],
  ])('%s %s %s: every candle once, gaps as the simulator has them', async (type, market, symbol, r) => {
    const interval = planFor(type).interval!;
    const res = await load(type, market, symbol, r);
    const exp = expectedKlines(market, symbol, interval, r, Date.now());
    const keys = checkBatches(res, r, exp.end);
    expect(keys.map((k) => k.time)).toEqual(exp.keys);
    const gaps = mergeRangeSet(res.got.batches.flatMap((b) => b.gaps));
    expect(gaps).toEqual(exp.gaps);
    expect(res.final?.gaps).toEqual(gaps);
    if (interval === '1m') {
      // Minute gaps are the planted maintenance windows themselves.
      expect(gaps).toEqual(sim.ex.gapsIn(symbol, market, r.from, r.to));
      expect(gaps.length).toBeGreaterThan(0);
    }
  });

  it('spot aggTrades: every aggregate trade id of the range once, none outside', async () => {
    const r = { from: Date.UTC(2024, 2, 2, 4, 40, 17, 123), to: Date.UTC(2024, 2, 2, 8, 0) }; // spans GAP_1
    const res = await load('api_agg_trades', 'spot', 'BTCUSDT', r);
    const keys = checkBatches(res, r, r.to);
    const now = Date.now();
    const first = sim.ex.data.aggTrades('spot', 'BTCUSDT', { startTime: r.from, limit: 1 }, now)[0]!;
    const after = sim.ex.data.aggTrades('spot', 'BTCUSDT', { startTime: r.to, limit: 1 }, now)[0]!;
    const ids = res.got.batches.flatMap((b) => b.rows.map((x) => Number((x as unknown[])[0])));
    expect(ids).toEqual(Array.from({ length: after.a - first.a }, (_, i) => first.a + i));
    expect(keys.length).toBeGreaterThan(1000);
    expect(res.final?.gaps).toEqual([]);
  });

  it('spot trades through historicalTrades: every trade id of the range once', async () => {
    const r = { from: Date.UTC(2024, 2, 3, 10, 0, 0, 500), to: Date.UTC(2024, 2, 3, 11, 0) };
    const res = await load('api_trades', 'spot', 'BTCUSDT', r);
    checkBatches(res, r, r.to);
    const now = Date.now();
    const first = sim.ex.data.aggTrades('spot', 'BTCUSDT', { startTime: r.from, limit: 1 }, now)[0]!;
    const after = sim.ex.data.aggTrades('spot', 'BTCUSDT', { startTime: r.to, limit: 1 }, now)[0]!;
    const ids = res.got.batches.flatMap((b) => b.rows.map((x) => Number((x as unknown[])[0])));
    expect(ids).toEqual(Array.from({ length: after.f - first.f }, (_, i) => first.f + i));
    expect(ids.length).toBeGreaterThan(1000);
  });

  it('USD-M funding rates: every 8-hour funding of the range once', async () => {
    const r = { from: Date.UTC(2022, 0, 1, 3), to: Date.UTC(2023, 3, 1) };
    const res = await load('api_funding', 'usdm', 'BTCUSDT', r);
    checkBatches(res, r, r.to);
    const times = res.got.batches.flatMap((b) => b.rows.map((x) => Number((x as unknown[])[0])));
    const first = Math.ceil(r.from / (8 * H)) * 8 * H;
    expect(times).toEqual(
      Array.from({ length: Math.ceil((r.to - first) / (8 * H)) }, (_, i) => first + i * 8 * H),
    );
  });

  it('the still-open candle is not published and no gap is marked in the future', async () => {
    const now = Date.now();
    const r = { from: klineOpenTime('1m', now) - 30 * 60_000, to: klineOpenTime('1m', now) + 10 * 60_000 };
    const res = await load('api_candles_1m', 'spot', 'BTCUSDT', r);
    const end = res.got.batches.at(-1)!.covers!.to;
    expect(end).toBeLessThanOrEqual(klineOpenTime('1m', Date.now()));
    const keys = checkBatches(res, r, end);
    expect(keys.length).toBe((end - r.from) / 60_000);
    for (const b of res.got.batches)
      for (const row of b.rows) expect((row as number[])[6]).toBeLessThan(Date.now()); // close time
    expect(res.final?.gaps).toEqual([]);
    expect(res.final?.progress?.percent).toBeLessThan(100);
  });

  it('faults were really injected', async () => {
    const s = await sim.stats();
    expect(s.faults.http5xx).toBeGreaterThan(0);
    expect(s.faults.reset).toBeGreaterThan(0);
    expect(s.faults.malformed).toBeGreaterThan(0);
  });
}, 60_000);
