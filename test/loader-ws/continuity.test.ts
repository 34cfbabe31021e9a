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
