/**
 * A verified local order book from diff events (docs/binance.md §4 "Local book", §6 for USD-M):
 * buffer the stream, fetch a REST snapshot (again while it is older than the first buffered
 * event), drop events with `u` ≤ its `lastUpdateId`, require the first applied event to span
 * `lastUpdateId + 1`, then require continuity — spot `U = previous u + 1`, USD-M `pu = previous
 * u`. A break (a lost or reordered event, a reconnect) resynchronises from a new snapshot and is
 * counted. What is published lets a consumer rebuild the book at any stored time: every applied
 * diff, and snapshots — each REST snapshot it synchronised from, and a copy of the local book
 * every `snapshotEveryMs`. A snapshot is a depth record with `first_update_id = 0` (records.ts):
 * replace the book with its levels, then apply the diffs that follow it. Optionally the book is
 * checked against a fresh REST snapshot at intervals; a difference is counted, noted and resyncs.
 */
import { RawDepth } from '../../shared/contracts/binance.ts';
import type { Row } from '../../shared/contracts/rows.ts';
import type { LiveSeries, SeriesContext } from './series.ts';

interface DiffEvent {
  E: number;
  U: number;
  u: number;
  pu: number | undefined;
  b: Array<[string, string]>;
  a: Array<[string, string]>;
}

type Side = Map<string, string>;

const isZero = (q: string) => !/[1-9]/.test(q);

const isLevels = (v: unknown): v is Array<[string, string]> =>
  Array.isArray(v) &&
  v.every((l) => Array.isArray(l) && typeof l[0] === 'string' && typeof l[1] === 'string');

function sorted(side: Side, desc: boolean): Array<[string, string]> {
  const out = [...side.entries()];
  out.sort((x, y) => (desc ? Number(y[0]) - Number(x[0]) : Number(x[0]) - Number(y[0])));
  return out;
}

export interface DepthOptions {
  snapshotEveryMs: number;
  verifyEveryMs: number;
  /** Levels asked per REST snapshot (spot 1000 = weight 50; USD-M 1000 = weight 20). */
  limit?: number;
}

export class DepthSeries implements LiveSeries {
  private state: 'idle' | 'buffering' | 'synced' = 'idle';
  private buffer: DiffEvent[] = [];
  private readonly bids: Side = new Map();
  private readonly asks: Side = new Map();
  private bookId = 0;
  private lastSnapshotAt = 0;
  private snapshotting = false;
  private verifying: { id: number; bids: Side; asks: Side } | undefined;
  private verifyTimer: NodeJS.Timeout | undefined;
  private coveredTo: number;
  private lastTime: number | undefined;

  constructor(
    private readonly ctx: SeriesContext,
    private readonly o: DepthOptions,
  ) {
    this.coveredTo = ctx.start;
  }

  init(): Promise<void> {
    if (this.o.verifyEveryMs > 0) {
      this.verifyTimer = setInterval(() => void this.verify(), this.o.verifyEveryMs);
      this.verifyTimer.unref();
    }
    return Promise.resolve();
  }

  settleAt(): number {
    return this.ctx.end;
  }

  /** The stream was down: the diffs in between are lost, so the book starts over. */
  onResumed(): void {
    if (this.state === 'synced') this.resync('the stream reconnected');
  }

  onEvent(data: unknown, receivedAt: number): void {
    const e = data as Record<string, unknown> | null;
    if (
      !e ||
      e['e'] !== 'depthUpdate' ||
      typeof e['U'] !== 'number' ||
      typeof e['u'] !== 'number' ||
      typeof e['E'] !== 'number' ||
      !isLevels(e['b']) ||
      !isLevels(e['a'])
    ) {
      this.ctx.counters.malformed += 1;
      return;
    }
    const ev: DiffEvent = {
      E: typeof e['T'] === 'number' ? e['T'] : e['E'],
      U: e['U'],
      u: e['u'],
      pu: typeof e['pu'] === 'number' ? e['pu'] : undefined,
      b: e['b'],
      a: e['a'],
    };
    this.ctx.counters.received += 1;
    this.ctx.counters.last_event_time = e['E'];
    this.ctx.counters.lag_ms = receivedAt - e['E'];
    if (ev.E >= this.ctx.end) return;
    if (this.state !== 'synced') {
      if (this.buffer.length < this.ctx.batcher.maxBuffered) this.buffer.push(ev);
      if (this.state === 'idle') void this.synchronise();
      return;
    }
    this.apply(ev);
  }

  async complete(): Promise<void> {
    if (this.verifyTimer) clearInterval(this.verifyTimer);
    await this.ctx.batcher.room(1);
    if (this.state === 'synced' && this.lastTime !== undefined && this.lastTime > this.coveredTo) {
      this.ctx.batcher.offer([], { from: this.coveredTo, to: this.lastTime }, [], {});
    }
  }

  private apply(ev: DiffEvent): void {
    if (ev.u <= this.bookId) {
      this.ctx.counters.duplicates += 1;
      return;
    }
    const continuous =
      ev.pu !== undefined && this.ctx.market === 'usdm' ? ev.pu === this.bookId : ev.U === this.bookId + 1;
    if (!continuous) {
      this.buffer = [ev];
      this.resync(`update ids jump from ${this.bookId} to ${ev.U}..${ev.u}`);
      return;
    }
    this.set(ev);
    const row: Row = [ev.u, ev.E, ev.U, ev.pu ?? null, ev.b, ev.a];
    if (!this.ctx.batcher.offer([row], this.covers(ev.E), [], {}, ev.E)) {
      // Shed: the stored diffs would have a hole, so the book starts over from a snapshot.
      this.buffer = [];
      this.resync('the store fell behind and a diff was shed');
      return;
    }
    this.checkVerification(ev.u);
    if (ev.E - this.lastSnapshotAt >= this.o.snapshotEveryMs) this.publishSnapshot(ev.E);
  }

  private covers(t: number): { from: number; to: number } | undefined {
    this.lastTime = t;
    if (t <= this.coveredTo) return undefined;
    const c = { from: this.coveredTo, to: t };
    this.coveredTo = t;
    return c;
  }

  private set(ev: { u: number; b: Array<[string, string]>; a: Array<[string, string]> }): void {
    for (const [p, q] of ev.b)
      if (isZero(q)) this.bids.delete(p);
      else this.bids.set(p, q);
    for (const [p, q] of ev.a)
      if (isZero(q)) this.asks.delete(p);
      else this.asks.set(p, q);
    this.bookId = ev.u;
  }

  private resync(why: string): void {
    this.ctx.counters.resyncs += 1;
    this.ctx.logger.info({ why }, 'order book resync');
    this.state = 'buffering';
    void this.synchronise();
  }

  private async synchronise(): Promise<void> {
    if (this.snapshotting) return;
    this.snapshotting = true;
    this.state = 'buffering';
    try {
      for (let tries = 0; !this.ctx.signal.aborted; tries++) {
        // Wait for the first event to know how new the snapshot must be.
        while (this.buffer.length === 0 && !this.ctx.signal.aborted) await sleep(20);
        const snap = await this.snapshot();
        const first = this.buffer[0];
        if (!first) continue;
        if (snap.lastUpdateId < first.U - 1) {
          await sleep(Math.min(1000, 50 * 2 ** tries));
          continue; // older than what is buffered: fetch again
        }
        const events = this.buffer.filter((e) => e.u > snap.lastUpdateId);
        const head = events[0];
        if (head && !(head.U <= snap.lastUpdateId + 1 && head.u >= snap.lastUpdateId)) {
          // The snapshot is newer than the buffer's start and the events in between are gone.
          this.buffer = [];
          continue;
        }
        this.bids.clear();
        this.asks.clear();
        this.set({ u: snap.lastUpdateId, b: snap.bids, a: snap.asks });
        this.state = 'synced';
        this.buffer = [];
        const t = head?.E ?? Date.now();
        this.publishSnapshot(t);
        for (const e of events) if (this.state === 'synced') this.apply(e);
        return;
      }
    } catch (err) {
      if (!this.ctx.signal.aborted) this.ctx.fail(err);
    } finally {
      this.snapshotting = false;
    }
  }

  private async snapshot(): Promise<RawDepth> {
    const spot = this.ctx.market === 'spot';
    const limit = this.o.limit ?? 1000;
    return this.ctx.client.get(
      spot ? '/api/v3/depth' : '/fapi/v1/depth',
      { symbol: this.ctx.symbol, limit },
      RawDepth,
      { weight: spot ? 50 : 20, signal: this.ctx.signal },
    );
  }

  private publishSnapshot(t: number): void {
    this.lastSnapshotAt = t;
    const row: Row = [this.bookId, t, 0, null, sorted(this.bids, true), sorted(this.asks, false)];
    // A snapshot makes the stored book whole again: published even past the buffer bound.
    this.ctx.batcher.offer([row], this.covers(t), [], {}, t, true);
  }

  private async verify(): Promise<void> {
    if (this.state !== 'synced' || this.verifying) return;
    try {
      const s = await this.snapshot();
      if (this.state !== 'synced' || s.lastUpdateId < this.bookId) return; // the book moved past it: inconclusive
      this.verifying = { id: s.lastUpdateId, bids: new Map(s.bids), asks: new Map(s.asks) };
      // The book may stand exactly there already; otherwise the event that reaches it compares.
      if (s.lastUpdateId === this.bookId) this.checkVerification(this.bookId);
    } catch (err) {
      this.ctx.logger.info({ err }, 'book check skipped: snapshot failed');
    }
  }

  private checkVerification(u: number): void {
    const v = this.verifying;
    if (!v || u < v.id) return;
    this.verifying = undefined;
    if (u !== v.id) return; // no event ended exactly there: inconclusive
    this.ctx.counters.verified += 1;
    // The snapshot holds the top `limit` levels: compare the local book within its price range.
    const within = (local: Side, snap: Side, bids: boolean): boolean => {
      const prices = [...snap.keys()].map(Number);
      const edge = bids ? Math.min(...prices) : Math.max(...prices);
      for (const [p, q] of local) {
        const inRange = bids ? Number(p) >= edge : Number(p) <= edge;
        if (inRange && snap.get(p) !== q) return false;
      }
      for (const [p, q] of snap) if (local.get(p) !== q) return false;
      return true;
    };
    if (within(this.bids, v.bids, true) && within(this.asks, v.asks, false)) return;
    this.ctx.counters.divergences += 1;
    this.ctx.note(`order book differed from the REST snapshot at update ${u}; resynchronised`);
    this.resync('the book differed from a REST snapshot');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
