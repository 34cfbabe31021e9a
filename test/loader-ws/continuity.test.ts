/**
 * The promise of loader-ws, against the simulator over real sockets: every aggTrade and trade the
 * exchange made from the workflow's start to its end is published exactly once, through forced
 * disconnects (1006), silent stalls, dropped messages and make-before-break rotations; the REST
 * refills are counted, and the published ids equal what REST says exists.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WsRunning } from '../exchange/ws-helpers.ts';
import { startWs } from '../exchange/ws-helpers.ts';
import { collect, memoryBus, until } from '../loader-api/helpers.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { Topics } from '../../shared/contracts/events.ts';
import { commandEvent, liveCommand, liveLoader } from './helpers.ts';

let sim: WsRunning;
beforeAll(async () => {
  sim = await startWs();
});
afterAll(() => sim.close());

/** Every id REST serves from `fromId` with time in [start, end). */
async function restIds(
  path: string,
  fromId: number,
  end: number,
  idOf: (r: Record<string, number>) => number,
  timeOf: (r: Record<string, number>) => number,
) {
  const ids: number[] = [];
  for (let id = fromId; ;) {
    const rows = await sim.json<Array<Record<string, number>>>(`${path}&fromId=${id}&limit=1000`);
    const inRange = rows.filter((r) => timeOf(r) < end);
    ids.push(...inRange.map(idOf));
    if (rows.length < 1000 || inRange.length < rows.length) return ids;
    id = idOf(rows.at(-1)!) + 1;
  }
}

describe('loader-ws continuity', () => {
  it('publishes every aggTrade of [start, end) exactly once through disconnects, stalls, drops and rotations', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('agg_trade'));
    const store = createSqliteStore({ path: ':memory:' });
    // A socket silent for 400 ms is replaced: the 700 ms stall below trips it.
    const loader = liveLoader(sim, bus, store, { rotateAfterMs: 1500, rotateOverlapMs: 300, silenceMs: 400 });
    await loader.start();
    const start = Date.now();
    const end = start + 6000;
    await loader.handleEvent(commandEvent(liveCommand('ws_agg_trades', { start, end })));
    const faults = [
      setTimeout(() => sim.ws.inject({ disconnect: true }), 1000),
      setTimeout(() => sim.ws.inject({ stallMs: 700 }), 2500),
      setTimeout(() => sim.ws.inject({ dropRate: 0.05 }), 3500),
      setTimeout(() => sim.ws.inject({ disconnect: true }), 4200),
      setTimeout(() => sim.ws.inject({ dropRate: 0 }), 5000),
    ];
    await until(
      () => got.events.some((e) => e.message === 'loader finished' || e.status === 'error'),
      20_000,
    );
    faults.forEach(clearTimeout);
    const last = got.events.at(-1)!;
    expect(last.status).toBe('loading');
    expect(last.message).toBe('loader finished');
    const ids = got.batches.flatMap((b) => b.rows.map((r) => (r as number[])[0]!));
    expect(ids.length).toBeGreaterThan(100);
    const unique = new Set(ids);
    expect(unique.size).toBe(ids.length); // nothing published twice
    const times = got.batches.flatMap((b) => b.rows.map((r) => (r as number[])[5]!));
    expect(Math.min(...times)).toBeGreaterThanOrEqual(start);
    expect(Math.max(...times)).toBeLessThan(end);
    // The truth: what REST serves for [start, end).
    const first = await sim.json<Array<{ a: number }>>(
      `/api/v3/aggTrades?symbol=BTCUSDT&startTime=${start}&limit=1`,
    );
    const want = await restIds(
      '/api/v3/aggTrades?symbol=BTCUSDT',
      first[0]!.a,
      end,
      (r) => r['a']!,
      (r) => r['T']!,
    );
    expect([...unique].sort((a, b) => a - b)).toEqual(want);
    const live = last.progress?.live;
    expect(live?.gap_fills).toBeGreaterThan(0);
    expect(live?.filled_records).toBeGreaterThan(0);
    expect(live?.unfilled_gaps).toBe(0);
    expect(loader.stats().pools.spot.rotations).toBeGreaterThan(0);
    // Two forced drops and the silence during the stall.
    expect(loader.stats().pools.spot.reconnects).toBeGreaterThanOrEqual(3);
    await until(() => loader.stats().pools.spot.connections === 0, 5000);
    await loader.stop();
    await got.close();
    await store.close();
  }, 30_000);
});

describe('loader-ws continuity, klines and USD-M', () => {
  it('stores every closed 1s candle of [start, end) once: a lead-in before the subscription refilled by time over REST, through a stall', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('kline'));
    const store = createSqliteStore({ path: ':memory:' });
    const loader = liveLoader(sim, bus, store);
    await loader.start();
    // Started 4 s ago (a loader picking up a workflow late): the candles before the stream's first are refilled.
    const start = Date.now() - 4000;
    const end = start + 8000;
    await loader.handleEvent(
      commandEvent(liveCommand('ws_candles_1s', { start, end, collection_name: 'market_klines' })),
    );
    const t = setTimeout(() => sim.ws.inject({ disconnect: true }), 1500);
    await until(
      () => got.events.some((e) => e.message === 'loader finished' || e.status === 'error'),
      20_000,
    );
    clearTimeout(t);
    expect(got.events.at(-1)?.message).toBe('loader finished');
    const rows = got.batches.flatMap((b) => b.rows as unknown[][]);
    const opens = rows.map((r) => r[0] as number);
    expect(new Set(opens).size).toBe(opens.length);
    // The truth: REST's closed 1s candles opening in [start, end), value by value.
    const rest = await sim.json<unknown[][]>(
      `/api/v3/klines?symbol=BTCUSDT&interval=1s&startTime=${start}&endTime=${end - 1}&limit=1000`,
    );
    expect([...rows].sort((a, b) => (a[0] as number) - (b[0] as number))).toEqual(rest);
    expect(got.events.at(-1)?.progress?.live?.gap_fills).toBeGreaterThan(0);
    await loader.stop();
    await got.close();
    await store.close();
  }, 30_000);

  it('USD-M aggTrades: every id once through a disconnect, refilled from /fapi/v1/aggTrades', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('agg_trade'));
    const store = createSqliteStore({ path: ':memory:' });
    const loader = liveLoader(sim, bus, store);
    await loader.start();
    const start = Date.now();
    const end = start + 3000;
    await loader.handleEvent(commandEvent(liveCommand('ws_agg_trades', { start, end, market: 'usdm' })));
    const t = setTimeout(() => sim.ws.inject({ disconnect: true }), 1200);
    await until(
      () => got.events.some((e) => e.message === 'loader finished' || e.status === 'error'),
      20_000,
    );
    clearTimeout(t);
    expect(got.events.at(-1)?.message).toBe('loader finished');
    const ids = got.batches.flatMap((b) => b.rows.map((r) => (r as number[])[0]!)).sort((a, b) => a - b);
    expect(new Set(ids).size).toBe(ids.length);
    const first = await sim.json<Array<{ a: number }>>(
      `/fapi/v1/aggTrades?symbol=BTCUSDT&startTime=${start}&endTime=${end - 1}&limit=1000`,
    );
    expect(ids).toEqual(first.map((r) => r.a));
    expect(got.batches.every((b) => b.market === 'usdm')).toBe(true);
    await loader.stop();
    await got.close();
    await store.close();
  }, 30_000);
});
