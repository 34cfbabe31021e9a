/**
 * The order book model (book.ts): a REST snapshot plus the diff events, applied by Binance's
 * rules (binance.md §4 "Local book", §6 `pu`), reproduces every later snapshot exactly; the
 * depthBreak fault shows up as a gap in the update ids.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExchange } from '../../functions/dummy-service/exchange/exchange.ts';
import { NOW } from './helpers.ts';
import {
  BUSY,
  connect,
  startWs,
  type Client,
  type DepthEv,
  type Levels,
  type WsRunning,
} from './ws-helpers.ts';

interface Snapshot {
  lastUpdateId: number;
  bids: Levels;
  asks: Levels;
}
type Diff = Pick<DepthEv, 'U' | 'u' | 'pu' | 'T' | 'b' | 'a'>;

/** A local book: price → qty string per side. */
class LocalBook {
  bids = new Map<string, string>();
  asks = new Map<string, string>();
  id: number;
  constructor(s: Snapshot) {
    for (const [p, q] of s.bids) this.bids.set(p, q);
    for (const [p, q] of s.asks) this.asks.set(p, q);
    this.id = s.lastUpdateId;
  }
  apply(d: Diff): void {
    const set = (side: Map<string, string>, levels: Levels) => {
      for (const [p, q] of levels)
        if (Number(q) === 0) side.delete(p);
        else side.set(p, q);
    };
    set(this.bids, d.b);
    set(this.asks, d.a);
    this.id = d.u;
  }
  /** As a snapshot (bids descending, asks ascending). */
  view(): { bids: Levels; asks: Levels } {
    const sorted = (m: Map<string, string>, dir: number) =>
      [...m.entries()].sort((x, y) => dir * (Number(x[0]) - Number(y[0])));
    return { bids: sorted(this.bids, -1), asks: sorted(this.asks, 1) };
  }
}

describe('book model', () => {
  const ex = createExchange({ symbols: BUSY, gaps: { perYear: 0 } });
  const d = ex.data;

  for (const market of ['spot', 'usdm'] as const)
    it(`${market}: snapshot at t0 + every 100 ms diff up to t1 == snapshot at t1 (60 s)`, () => {
      const k0 = Math.floor(NOW / 100);
      const book = new LocalBook(d.depth(market, 'BTCUSDT', 5000, NOW));
      let changed = 0;
      for (let k = k0 + 1; k <= k0 + 600; k++) {
        const diff = d.depthDiff(market, 'BTCUSDT', k - 1, k);
        expect(diff.U).toBe(book.id + 1);
        expect(diff.pu).toBe(book.id);
        book.apply(diff);
        changed += diff.b.length + diff.a.length;
        if (k % 50 === 0) {
          const snap = d.depth(market, 'BTCUSDT', 5000, k * 100 + 37);
          expect(snap.lastUpdateId).toBe(diff.u);
          expect(book.view()).toEqual({ bids: snap.bids, asks: snap.asks });
        }
      }
      // A few levels change per bucket (the moving price adds more now and then).
      expect(changed / 600).toBeLessThan(40);
      expect(changed / 600).toBeGreaterThan(2);
    });

  it('1000 ms aggregates equal ten 100 ms diffs; REST limit cuts the top of the same book', () => {
    const k0 = Math.floor(NOW / 100);
    const a = new LocalBook(d.depth('spot', 'ETHUSDT', 1000, NOW));
    const b = new LocalBook(d.depth('spot', 'ETHUSDT', 1000, NOW));
    for (let k = k0; k < k0 + 100; k += 10) {
      a.apply(d.depthDiff('spot', 'ETHUSDT', k, k + 10));
      for (let j = k; j < k + 10; j++) b.apply(d.depthDiff('spot', 'ETHUSDT', j, j + 1));
      expect(a.view()).toEqual(b.view());
      expect(a.id).toBe(b.id);
    }
    const full = d.depth('spot', 'ETHUSDT', 1000, NOW);
    const top = d.depth('spot', 'ETHUSDT', 5, NOW);
    expect(top).toEqual({
      lastUpdateId: full.lastUpdateId,
      bids: full.bids.slice(0, 5),
      asks: full.asks.slice(0, 5),
    });
  });
});

let sim: WsRunning;
beforeAll(async () => {
  sim = await startWs();
});
afterAll(() => sim.close());

const diffs = (c: Client): DepthEv[] => c.events<DepthEv>();

describe('depth streams', () => {
  it('spot @100ms: REST snapshot + WS diffs (Binance sync rules) == a later REST snapshot', async () => {
    const c = await connect(`${sim.wsUrl}/ws/btcusdt@depth@100ms`);
    await c.waitEvent();
    const snap = await sim.json<Snapshot>('/api/v3/depth?symbol=BTCUSDT&limit=1000');
    // Wait for the event that bridges the snapshot, then until a later snapshot's id.
    await c.waitEvent<DepthEv>((e) => e.u > snap.lastUpdateId);
    await new Promise((r) => setTimeout(r, 700));
    const later = await sim.json<Snapshot>('/api/v3/depth?symbol=BTCUSDT&limit=1000');
    await c.waitEvent<DepthEv>((e) => e.u >= later.lastUpdateId);
    c.close();
    const events = diffs(c).filter((e) => e.u > snap.lastUpdateId);
    expect(events[0]!.U).toBeLessThanOrEqual(snap.lastUpdateId + 1);
    const book = new LocalBook(snap);
    for (const e of events) {
      if (e.u > later.lastUpdateId) break;
      expect(e.U).toBe(book.id + 1);
      book.apply(e);
    }
    expect(book.id).toBe(later.lastUpdateId);
    expect(book.view()).toEqual({ bids: later.bids, asks: later.asks });
  });

  it('USD-M @depth (1000 ms): pu chains, each event leads to the book of its T', async () => {
    const c = await connect(`${sim.wsUrl}/usdm/stream?streams=btcusdt@depth`);
    const first = await c.waitEvent<DepthEv>();
    const snap = await sim.json<Snapshot>('/fapi/v1/depth?symbol=BTCUSDT&limit=1000');
    await c.waitEvent<DepthEv>((e) => e.u > snap.lastUpdateId + 10, { timeoutMs: 3000 });
    c.close();
    const events = diffs(c).filter((e) => e.u >= snap.lastUpdateId);
    expect(Object.keys(first)).toEqual(['e', 'E', 'T', 's', 'U', 'u', 'pu', 'b', 'a']);
    // First event: U <= lastUpdateId <= u (binance.md §6); then pu = previous u.
    expect(events[0]!.U).toBeLessThanOrEqual(snap.lastUpdateId);
    const book = new LocalBook(snap);
    for (const [i, e] of events.entries()) {
      if (i > 0) expect(e.pu).toBe(events[i - 1]!.u);
      book.apply(e);
      const truth = sim.ex.data.depth('usdm', 'BTCUSDT', 1000, e.T!);
      expect(truth.lastUpdateId).toBe(e.u);
      expect(book.view()).toEqual({ bids: truth.bids, asks: truth.asks });
    }
  });

  it('depthBreak skips one diff per depth stream: U > previous u + 1, pu != previous u', async () => {
    const spot = await connect(`${sim.wsUrl}/ws/ethusdt@depth@100ms`);
    const usdm = await connect(`${sim.wsUrl}/usdm/ws/btcusdt@depth@100ms`);
    await spot.waitEvent();
    await usdm.waitEvent();
    const before = sim.ws.stats().depthBreaks;
    const res = await fetch(`${sim.url}/sim/ws/faults`, { method: 'POST', body: '{"depthBreak":true}' });
    expect(res.status).toBe(200);
    expect(sim.ws.stats().depthBreaks).toBe(before + 2);
    await new Promise((r) => setTimeout(r, 500));
    spot.close();
    usdm.close();
    const gaps = (c: Client) => {
      const ev = diffs(c);
      return ev.filter((e, i) => i > 0 && e.U !== ev[i - 1]!.u + 1).length;
    };
    expect(gaps(spot)).toBe(1);
    expect(gaps(usdm)).toBe(1);
    const fut = diffs(usdm);
    expect(fut.filter((e, i) => i > 0 && e.pu !== fut[i - 1]!.u)).toHaveLength(1);
  });
});
