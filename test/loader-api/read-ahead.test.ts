/**
 * Read-ahead: while a batch is being published, the exchange already has the request for the next
 * page (so fetching overlaps with publishing), never more than `concurrency` pages ahead (memory
 * stays bounded), and batches still go out strictly in order with exact seqs and tiling covers.
 * The bus holds each publish until the simulator, on a real loopback socket, has received the
 * next page's request: a loader that fetched one page at a time would never send it, and its
 * publish fails instead.
 */
import { JsonText } from '../../shared/bus/kafka-binding.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoader } from '../../functions/loader-api/handler.ts';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { Topics, canonicalCollection, type DataBatch } from '../../shared/contracts/events.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { collect, command, makeDeps, memoryBus, startSim, until } from './helpers.ts';

const MINUTE = 60_000;
const T0 = Date.UTC(2024, 0, 1);
const PAGE = 100; // klines per request (LoaderDeps.pageLimit), so pages are cheap to make
const PAGES = 8;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * A bus whose data publishes wait (up to 5 s, else they fail) until `ready(seq)` holds, and that
 * records, per batch, what `snapshot()` said while the publish was held.
 */
function holdingBus(
  bus: EventBus,
  topic: string,
  ready: (seq: number) => boolean,
  snapshot: () => number,
): { bus: EventBus; held: { seq: number; seen: number }[] } {
  const held: { seq: number; seen: number }[] = [];
  return {
    held,
    bus: {
      ...bus,
      publish: async (t, messages) => {
        if (t === topic) {
          for (const m of messages) {
            // A whole exchange page travels pre-encoded (JsonText): read it as the sink will.
            const data: unknown = m.event.data instanceof JsonText ? m.event.data.toJSON() : m.event.data;
            const seq = (data as DataBatch).seq;
            await until(() => ready(seq), 5000);
            held.push({ seq, seen: snapshot() });
          }
        }
        await bus.publish(t, messages);
      },
    },
  };
}

describe('read-ahead', () => {
  it.each([1, 3])(
    'klines, concurrency %i: page N+1 is requested before batch N is published, at most `concurrency` ahead, in order',
    async (concurrency) => {
      /** Page indexes of the klines requests, in the order the simulator received them. */
      const requested: number[] = [];
      const sim = await startSim({ weightLimit: 0 }, (url) => {
        if (url.pathname === '/api/v3/klines')
          requested.push((Number(url.searchParams.get('startTime')) - T0) / (PAGE * MINUTE));
      });
      cleanups.push(() => sim.close());
      const maxRequested = (): number => Math.max(-1, ...requested);
      const store = createSqliteStore({ path: ':memory:' });
      cleanups.push(() => store.close());
      const inner = memoryBus();
      cleanups.push(() => inner.close());
      const topic = Topics.data('kline');
      const got = await collect(inner, topic);
      cleanups.push(() => got.close());
      let firstHold = -1;
      const { bus, held } = holdingBus(
        inner,
        topic,
        (seq) => {
          if (seq + 1 >= PAGES) return true; // nothing left to read ahead
          if (maxRequested() < seq + 1) return false;
          if (seq === 0 && firstHold < 0) {
            firstHold = Date.now();
            return false;
          }
          // Batch 0 is held a little longer: time for any page beyond the read-ahead to be asked for.
          return seq > 0 || Date.now() - firstHold > 300;
        },
        maxRequested,
      );

      const cmd = command({ type: 'api_candles_1m', start: T0, end: T0 + PAGES * PAGE * MINUTE });
      const code = await runLoader(
        { ...makeDeps(sim, bus, store, { concurrency }), pageLimit: PAGE },
        { commandJson: JSON.stringify(cmd), signal: new AbortController().signal },
      );
      expect(code).toBe(0);
      await until(() => got.batches.length === PAGES);

      // Every page was asked for once (requests in flight together may arrive in any order); each
      // publish waited for the next page's request.
      expect(requested.toSorted((a, b) => a - b)).toEqual([...Array(PAGES).keys()]);
      expect(held.map((h) => h.seq)).toEqual([...Array(PAGES).keys()]);
      for (const h of held.slice(0, -1)) expect(h.seen).toBeGreaterThanOrEqual(h.seq + 1);
      // Bounded: with batch 0 in the bus, pages 1..concurrency had been asked for, and no more.
      expect(held[0]!.seen).toBe(concurrency);
      for (const h of held) expect(h.seen).toBeLessThanOrEqual(h.seq + concurrency);

      // What went out: seqs 0..n-1 in order, covers tiling the range, every minute once.
      expect(got.batches.map((b) => b.seq)).toEqual([...Array(PAGES).keys()]);
      let at = T0;
      for (const b of got.batches) {
        expect(b.covers).toEqual({ from: at, to: at + PAGE * MINUTE });
        expect(b.rows.map((r) => Number((r as unknown[])[0]))).toEqual(
          Array.from({ length: PAGE }, (_, i) => at + i * MINUTE),
        );
        at = b.covers!.to;
      }
    },
  );

  it('agg trades (id-paged): the next page is requested before a batch is published', async () => {
    const range = { from: Date.UTC(2024, 2, 2, 4), to: Date.UTC(2024, 2, 2, 6) };
    let requests = 0;
    const sim = await startSim({ weightLimit: 0 }, (url) => {
      if (url.pathname === '/api/v3/aggTrades') requests += 1;
    });
    cleanups.push(() => sim.close());
    // The simulator is deterministic: the id pages of the range, and so the last one, are known.
    const now = Date.now();
    const first = sim.ex.data.aggTrades('spot', 'BTCUSDT', { startTime: range.from, limit: 1 }, now)[0]!;
    const after = sim.ex.data.aggTrades('spot', 'BTCUSDT', { startTime: range.to, limit: 1 }, now)[0]!;
    const pages = Math.floor((after.a - first.a) / 1000) + 1;
    expect(pages).toBeGreaterThanOrEqual(3);

    const store = createSqliteStore({ path: ':memory:' });
    cleanups.push(() => store.close());
    const inner = memoryBus();
    cleanups.push(() => inner.close());
    const topic = Topics.data('agg_trade');
    const got = await collect(inner, topic);
    cleanups.push(() => got.close());
    // Batch k came from request k+1 (0-based k); read-ahead means request k+2 is out while k is published.
    const { bus, held } = holdingBus(
      inner,
      topic,
      (seq) => seq + 1 >= pages || requests >= seq + 2,
      () => requests,
    );
    const cmd = command({
      type: 'api_agg_trades',
      start: range.from,
      end: range.to,
      kafka_topic: topic,
      collection_name: canonicalCollection('agg_trade'),
    });
    const code = await runLoader(makeDeps(sim, bus, store, { concurrency: 1 }), {
      commandJson: JSON.stringify(cmd),
      signal: new AbortController().signal,
    });
    expect(code).toBe(0);
    await until(() => got.batches.length === pages);
    expect(requests).toBe(pages);
    expect(held.map((h) => h.seq)).toEqual([...Array(pages).keys()]);
    for (const h of held.slice(0, -1)) expect(h.seen).toBe(h.seq + 2);
    const ids = got.batches.flatMap((b) => b.rows.map((r) => Number((r as unknown[])[0])));
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => first.a + i));
    expect(ids.at(-1)).toBe(after.a - 1);
  });
});
