/**
 * loader-ws against the simulator over real sockets: trades by id through a disconnect, the order
 * book rebuilt from what was published equals the exchange's after a sequence break, control
 * messages never above the limit, cancel closes the last connection, an unknown symbol ends its
 * workflow with the exchange's message without disturbing the others, a slow bus keeps memory
 * bounded and says so, and malformed frames are counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DataBatch } from '../../shared/contracts/events.ts';
import { Topics } from '../../shared/contracts/events.ts';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { startWs, type WsRunning } from '../exchange/ws-helpers.ts';
import { collect, memoryBus, until } from '../loader-api/helpers.ts';
import { commandEvent, liveCommand, liveLoader } from './helpers.ts';

let sim: WsRunning;
beforeAll(async () => {
  sim = await startWs();
});
afterAll(() => sim.close());

const rowsOf = (batches: DataBatch[]) => batches.flatMap((b) => b.rows as unknown[][]);

describe('loader-ws', () => {
  it('publishes every trade id once through a forced disconnect, refilled by historicalTrades', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('trade'));
    const store = createSqliteStore({ path: ':memory:' });
    const loader = liveLoader(sim, bus, store);
    await loader.start();
    const start = Date.now();
    const end = start + 3000;
    await loader.handleEvent(commandEvent(liveCommand('ws_trades', { start, end })));
    const t = setTimeout(() => sim.ws.inject({ disconnect: true }), 1200);
    await until(
      () => got.events.some((e) => e.message === 'loader finished' || e.status === 'error'),
      15_000,
    );
    clearTimeout(t);
    expect(got.events.at(-1)?.message).toBe('loader finished');
    const rows = rowsOf(got.batches);
    const ids = rows.map((r) => r[0] as number);
    expect(new Set(ids).size).toBe(ids.length);
    const sorted = [...ids].sort((a, b) => a - b);
    expect(sorted.at(-1)! - sorted[0]! + 1).toBe(ids.length); // consecutive: no hole
    // A trade taken live equals the one REST serves (quote quantity computed exactly).
    const rest = await sim.json<Array<Record<string, unknown>>>(
      `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${sorted[0]}&limit=50`,
    );
    const byId = new Map(rows.map((r) => [r[0], r]));
    for (const r of rest.filter((x) => byId.has(x['id'])))
      expect(byId.get(r['id'])).toEqual([
        r['id'],
        r['price'],
        r['qty'],
        r['quoteQty'],
        r['time'],
        r['isBuyerMaker'],
        r['isBestMatch'],
      ]);
    await loader.stop();
    await got.close();
    await store.close();
  }, 20_000);

  it('rebuilds the order book from published snapshots and diffs, resyncing after a sequence break', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('depth'));
    const store = createSqliteStore({ path: ':memory:' });
    const loader = liveLoader(sim, bus, store, { depthSnapshotMs: 60_000, depthVerifyMs: 250 });
    await loader.start();
    const cmd = liveCommand('ws_depth');
    await loader.handleEvent(commandEvent(cmd));
    await until(() => rowsOf(got.batches).length > 10, 10_000);
    sim.ws.inject({ depthBreak: true });
    await until(() => (loader.workflows()[0]?.counters.resyncs ?? 0) > 0, 10_000);
    // The book is checked against fresh REST snapshots while it runs: it never differs.
    await until(() => (loader.workflows()[0]?.counters.verified ?? 0) >= 2, 10_000);
    expect(loader.workflows()[0]?.counters.divergences).toBe(0);
    await new Promise((r) => setTimeout(r, 800));
    await loader.handleEvent(commandEvent({ ...cmd, command: 'stop' }));
    await until(() => got.events.some((e) => e.status === 'cancelled'), 10_000);
    const rows = rowsOf(got.batches);
    // Replay: a snapshot (first_update_id 0) replaces the book, a diff updates it.
    const book = { bids: new Map<string, string>(), asks: new Map<string, string>(), id: 0 };
    let snapshots = 0;
    for (const r of rows) {
      const [u, , U, , bids, asks] = r as [
        number,
        number,
        number,
        number | null,
        [string, string][],
        [string, string][],
      ];
      if (U === 0) {
        snapshots += 1;
        book.bids = new Map(bids);
        book.asks = new Map(asks);
      } else {
        expect(U).toBe(book.id + 1); // the stored diffs are continuous after each snapshot
        for (const [p, q] of bids)
          if (Number(q) === 0) book.bids.delete(p);
          else book.bids.set(p, q);
        for (const [p, q] of asks)
          if (Number(q) === 0) book.asks.delete(p);
          else book.asks.set(p, q);
      }
      book.id = u;
    }
    expect(snapshots).toBeGreaterThanOrEqual(2); // the first sync and the resync
    // The exchange's book at the last stored update id, as REST serves it for that moment.
    const last = rows.at(-1)!;
    const at = last[1] as number;
    const rest = sim.ex.data.depth('spot', 'BTCUSDT', 5000, at) as {
      lastUpdateId: number;
      bids: [string, string][];
      asks: [string, string][];
    };
    expect(rest.lastUpdateId).toBe(book.id);
    expect(new Map(rest.bids)).toEqual(book.bids);
    expect(new Map(rest.asks)).toEqual(book.asks);
    await loader.stop();
    await got.close();
    await store.close();
  }, 30_000);

  it('subscribes many streams within the control-message limit and closes the connection with the last cancel', async () => {
    sim.ws.reset();
    const bus = memoryBus();
    const got = await collect(bus, Topics.events);
    const store = createSqliteStore({ path: ':memory:' });
    const loader = liveLoader(sim, bus, store);
    await loader.start();
    const cmds = [];
    // One connection, streams arriving one after another: each needs a SUBSCRIBE.
    for (const type of [
      'ws_agg_trades',
      'ws_trades',
      'ws_book_ticker',
      'ws_candles_1m',
      'ws_candles_1s',
      'ws_candles_5m',
      'ws_candles_15m',
    ] as const)
      for (const symbol of ['BTCUSDT', 'ETHUSDT']) {
        const c = liveCommand(type, { symbol });
        cmds.push(c);
        await loader.handleEvent(commandEvent(c));
        await new Promise((r) => setTimeout(r, 30));
      }
    await until(() => got.events.filter((e) => e.status === 'started').length === cmds.length, 15_000);
    await until(() => loader.stats().pools.spot.controlSent >= 3, 10_000);
    const stats = sim.ws.stats();
    expect(stats.violations ?? 0).toBe(0);
    expect(loader.stats().pools.spot.maxControlPerSecond).toBeLessThanOrEqual(4);
    expect(loader.stats().pools.spot.connections).toBe(1);
    for (const c of cmds) await loader.handleEvent(commandEvent({ ...c, command: 'stop' }));
    await until(() => got.events.filter((e) => e.status === 'cancelled').length === cmds.length, 10_000);
    await until(() => loader.stats().pools.spot.connections === 0, 5000);
    await until(() => sim.ws.stats().connectionsOpen === 0, 5000);
    await loader.stop();
    await got.close();
    await store.close();
  }, 30_000);

  it('ends a workflow on an unknown symbol with the exchange message and leaves the others running', async () => {
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('agg_trade'));
    const store = createSqliteStore({ path: ':memory:' });
    const loader = liveLoader(sim, bus, store);
    await loader.start();
    const good = liveCommand('ws_agg_trades');
    const bad = liveCommand('ws_agg_trades', { symbol: 'NOPEUSDT' });
    await loader.handleEvent(commandEvent(good));
    await loader.handleEvent(commandEvent(bad));
    await until(() => got.events.some((e) => e.queue_id === bad.queue_id && e.status === 'error'), 10_000);
    const err = got.events.find((e) => e.queue_id === bad.queue_id && e.status === 'error')!;
    expect(err.error).toMatchObject({ code: -1121, message: 'Invalid symbol.' });
    const before = got.batches.length;
    await until(() => got.batches.length > before + 2, 10_000);
    expect(loader.workflows().map((w) => w.command.queue_id)).toEqual([good.queue_id]);
    await loader.stop();
    await got.close();
    await store.close();
  }, 20_000);

  it('keeps memory bounded when the bus is slow, says it is behind, and refills what it shed', async () => {
    const inner = memoryBus();
    const got = await collect(inner, Topics.data('agg_trade'));
    let slow = true;
    const bus: EventBus = {
      ...inner,
      publish: async (topic, msgs) => {
        if (slow && topic === Topics.data('agg_trade')) await new Promise((r) => setTimeout(r, 400));
        return inner.publish(topic, msgs);
      },
    };
    const store = createSqliteStore({ path: ':memory:' });
    // ~100 aggTrades/s against a publish of 400 ms: 20 records fill up within one publish.
    const maxBuffered = 20;
    const loader = liveLoader(sim, bus, store, { maxBuffered, batchMaxRecords: 10 });
    await loader.start();
    const start = Date.now();
    const end = start + 4000;
    await loader.handleEvent(commandEvent(liveCommand('ws_agg_trades', { start, end })));
    let peak = 0;
    let wasBehind = false;
    const watch = setInterval(() => {
      const wf = loader.workflows()[0];
      if (!wf) return;
      peak = Math.max(peak, wf.batcher.buffered);
      wasBehind ||= wf.batcher.behind;
    }, 5);
    setTimeout(() => (slow = false), 2500);
    await until(
      () => got.events.some((e) => e.message === 'loader finished' || e.status === 'error'),
      20_000,
    );
    clearInterval(watch);
    expect(peak).toBeLessThanOrEqual(maxBuffered);
    expect(wasBehind).toBe(true);
    const ids = rowsOf(got.batches)
      .map((r) => r[0] as number)
      .sort((a, b) => a - b);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.at(-1)! - ids[0]! + 1).toBe(ids.length);
    expect(got.events.at(-1)?.progress?.live?.gap_fills).toBeGreaterThan(0);
    await loader.stop();
    await got.close();
    await store.close();
  }, 30_000);
});
