/**
 * One live series of one workflow: what it takes from its stream, how it proves nothing is
 * missing, and how it repairs what is (docs/binance.md §2, §4, §6).
 *
 * - trades / aggTrades: ids are consecutive, so a hole is exact. Everything after a hole waits
 *   while REST refills it (`historicalTrades` / `aggTrades` by `fromId`), then goes on in order;
 *   ids already stored (rotation overlaps, refills racing the stream) are dropped. A hole REST
 *   cannot fill becomes a gap with its reason. The series starts at the workflow's start: the
 *   first id at or after it comes from REST, so the stream's first event refills the lead-in.
 * - klines: closed candles only (`x: true`); a candle after the expected open time refills the
 *   missing ones over REST by time (exchange gaps found there are reported like the REST loader's).
 * - bookTicker: no history exists over REST, so an outage is recorded as a gap with its reason.
 * - depth: see depth.ts.
 */
import { RawAggTrade, RawTrade } from '../../shared/contracts/binance.ts';
import type { KlineInterval, Market } from '../../shared/contracts/common.ts';
import { klineNextOpenTime, klineOpenTime } from '../../shared/contracts/common.ts';
import { aggTradeFromRaw, tradeFromRaw } from '../../shared/contracts/records.ts';
import { rowFromRecord, type Row } from '../../shared/contracts/rows.ts';
import { klinePages } from '../../shared/exchange/klines.ts';
import type { ExchangeClient } from '../../shared/exchange/rest-client.ts';
import { MAX_LIMIT, SPOT_WEIGHTS, USDM_WEIGHTS } from '../../shared/exchange/weights.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { Range } from '../../shared/store/store.ts';
import { z } from 'zod';
import type { Batcher } from './batcher.ts';
import { decimalProduct } from './decimal.ts';

/** What a series repaired and dropped (the workflow's `progress.live`). */
export interface SeriesCounters {
  received: number;
  duplicates: number;
  gap_fills: number;
  filled_records: number;
  unfilled_gaps: number;
  malformed: number;
  resyncs: number;
  /** Book checks against a REST snapshot that compared (not inconclusive), and those that differed. */
  verified: number;
  divergences: number;
  last_event_time: number | undefined;
  lag_ms: number | undefined;
}

export const newCounters = (): SeriesCounters => ({
  received: 0,
  duplicates: 0,
  gap_fills: 0,
  filled_records: 0,
  unfilled_gaps: 0,
  malformed: 0,
  resyncs: 0,
  verified: 0,
  divergences: 0,
  last_event_time: undefined,
  lag_ms: undefined,
});

/** Where a series resumes after a restart (kept in the workflow's live checkpoint). */
export interface SeriesMark {
  last_id?: number | undefined;
  last_time?: number | undefined;
  next_open?: number | undefined;
}

export interface SeriesContext {
  market: Market;
  symbol: string;
  client: ExchangeClient;
  batcher: Batcher<SeriesMark>;
  counters: SeriesCounters;
  logger: Logger;
  signal: AbortSignal;
  /** The workflow's [start, end). */
  start: number;
  end: number;
  /** Adds a line to the workflow's notes. */
  note(text: string): void;
  /** The series cannot go on (e.g. the exchange refuses it): the workflow ends in error. */
  fail(err: unknown): void;
}

export interface LiveSeries {
  /** Anchors the series at the workflow's start (or its checkpoint). */
  init(resume: SeriesMark | undefined): Promise<void>;
  /** One stream event (its `data`), as received. */
  onEvent(data: unknown, receivedAt: number): void;
  /** The stream was down for a while. */
  onResumed(): void;
  /** Loads what the stream has not delivered up to the end over REST (the workflow reached `end`). */
  complete(): Promise<void>;
  /** When `complete` can settle everything before `end` (klines: once the last candle closed). */
  settleAt(): number;
}

const iso = (t: number) => new Date(t).toISOString();

function observe(c: SeriesCounters, eventTime: number, receivedAt: number): void {
  c.received += 1;
  c.last_event_time = eventTime;
  c.lag_ms = receivedAt - eventTime;
}

// ---------------------------------------------------------------- trades and aggTrades

interface IdEvent {
  id: number;
  time: number;
  row: Row;
}

const RawAggTrades = z.array(RawAggTrade);
const RawTrades = z.array(RawTrade);

const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);
const isStr = (v: unknown): v is string => typeof v === 'string';

/** Trades and aggTrades: continuity by id, refills by `fromId`. */
export class IdSeries implements LiveSeries {
  private lastId = -1;
  private lastTime = 0;
  private coveredTo: number;
  private readonly queue: IdEvent[] = [];
  private filling = false;
  private readonly at: { market: Market; symbol: string };

  constructor(
    private readonly ctx: SeriesContext,
    private readonly kind: 'trade' | 'agg_trade',
  ) {
    this.at = { market: ctx.market, symbol: ctx.symbol };
    this.coveredTo = ctx.start;
  }

  async init(resume: SeriesMark | undefined): Promise<void> {
    if (resume?.last_id !== undefined) {
      this.lastId = resume.last_id;
      this.lastTime = resume.last_time ?? this.ctx.start;
      this.coveredTo = this.lastTime;
      return;
    }
    // The last aggTrade before start: the next id (of aggTrades, or of trades after its last
    // trade `l`) is the first of the workflow. Asked by `endTime`, so trades made while the
    // loader asks cannot slip between two answers.
    const { market, symbol } = this.ctx;
    const path = market === 'spot' ? '/api/v3/aggTrades' : '/fapi/v1/aggTrades';
    const weight = market === 'spot' ? SPOT_WEIGHTS.aggTrades : USDM_WEIGHTS.aggTrades;
    const opts = { weight, signal: this.ctx.signal };
    const before = await this.ctx.client.get(
      path,
      { symbol, endTime: this.ctx.start - 1, limit: 1 },
      RawAggTrades,
      opts,
    );
    if (before[0]) {
      this.lastId = this.kind === 'agg_trade' ? before[0].a : before[0].l;
      this.lastTime = this.ctx.start;
      return;
    }
    // Nothing before start (a market listed since): the first one at or after it.
    const first = await this.ctx.client.get(
      path,
      { symbol, startTime: this.ctx.start, endTime: this.ctx.start + 3_599_999, limit: 1 },
      RawAggTrades,
      opts,
    );
    if (first[0]) {
      this.lastId = (this.kind === 'agg_trade' ? first[0].a : first[0].f) - 1;
      this.lastTime = this.ctx.start;
    }
  }

  settleAt(): number {
    return this.ctx.end;
  }

  onResumed(): void {
    // Nothing to do: the next event's id shows what is missing.
  }

  onEvent(data: unknown, receivedAt: number): void {
    const ev = this.parse(data);
    if (!ev) {
      this.ctx.counters.malformed += 1;
      return;
    }
    observe(this.ctx.counters, ev.time, receivedAt);
    if (ev.time >= this.ctx.end) return;
    if (this.filling || this.queue.length > 0) {
      // Waits for the refill in front of it; bounded like the batcher (the tail refills later).
      if (this.queue.length < this.ctx.batcher.maxBuffered) this.queue.push(ev);
      else this.ctx.batcher.shed += 1;
      return;
    }
    this.take(ev);
  }

  async complete(): Promise<void> {
    while (this.filling) await new Promise((r) => setTimeout(r, 20));
    this.drainQueue();
    while (this.filling) await new Promise((r) => setTimeout(r, 20));
    await this.fill(this.lastId + 1, { beforeTime: this.ctx.end });
    await this.settle(this.ctx.end);
  }

  /** Covers up to `to` (the series is complete there). */
  private async settle(to: number): Promise<void> {
    await this.ctx.batcher.room(1);
    if (to > this.coveredTo) {
      this.ctx.batcher.offer([], { from: this.coveredTo, to }, [], this.mark());
      this.coveredTo = to;
    }
  }

  private mark(): SeriesMark {
    return { last_id: this.lastId, last_time: this.lastTime };
  }

  private take(ev: IdEvent): void {
    if (this.lastId >= 0 && ev.id <= this.lastId) {
      this.ctx.counters.duplicates += 1;
      return;
    }
    if (this.lastId >= 0 && ev.id > this.lastId + 1) {
      this.queue.unshift(ev);
      this.filling = true;
      void this.fill(this.lastId + 1, { toId: ev.id - 1, nextTime: ev.time })
        .catch((err: unknown) => this.ctx.fail(err))
        .finally(() => {
          this.filling = false;
          this.drainQueue();
        });
      return;
    }
    this.accept(ev);
  }

  private drainQueue(): void {
    while (!this.filling && this.queue.length > 0) this.take(this.queue.shift()!);
  }

  /** Takes one record in id order; a live one is refused when the buffer is full, a refilled one (`force`) never. */
  private accept(ev: IdEvent, force = false): boolean {
    const covers = ev.time > this.coveredTo ? { from: this.coveredTo, to: ev.time } : undefined;
    const next = { last_id: ev.id, last_time: ev.time };
    if (!this.ctx.batcher.offer([ev.row], covers, [], next, ev.time, force)) return false;
    if (this.lastId < 0 && this.coveredTo < ev.time) {
      // No anchor (an empty market at start): coverage begins after this first record's millisecond.
      this.coveredTo = ev.time + 1;
    } else if (covers) this.coveredTo = ev.time;
    this.lastId = ev.id;
    this.lastTime = ev.time;
    return true;
  }

  /**
   * Loads ids from `fromId` over REST until `toId` (a hole) or the first record at or after
   * `beforeTime` (the end), in pages that wait for room in the batcher.
   */
  private async fill(
    fromId: number,
    stop: { toId?: number; nextTime?: number; beforeTime?: number },
  ): Promise<void> {
    const c = this.ctx.counters;
    const holeTo = stop.nextTime ?? stop.beforeTime ?? this.ctx.end;
    if (this.lastId < 0 && stop.toId === undefined) return;
    if (stop.toId !== undefined) c.gap_fills += 1;
    let cur = fromId;
    try {
      for (;;) {
        if (stop.toId !== undefined && cur > stop.toId) return;
        // A page never holds more than the buffer bound, and waits for room for all of it.
        const limit = Math.max(1, Math.min(MAX_LIMIT.aggTrades, this.ctx.batcher.maxBuffered));
        await this.ctx.batcher.room(limit);
        const rows = await this.page(cur, limit);
        let reached = false;
        for (const ev of rows) {
          if (ev.id < cur) continue;
          if (
            (stop.toId !== undefined && ev.id > stop.toId) ||
            (stop.beforeTime !== undefined && ev.time >= stop.beforeTime)
          ) {
            reached = true;
            break;
          }
          if (ev.id !== this.lastId + 1 && this.lastId >= 0) {
            // The exchange itself skips ids here: record the hole instead of waiting for them.
            this.unfilled(
              this.lastTime,
              ev.time,
              `${this.kind} ids ${this.lastId + 1}..${ev.id - 1} do not exist on the exchange`,
            );
          }
          this.accept(ev, true);
          if (stop.toId !== undefined) c.filled_records += 1;
          cur = ev.id + 1;
        }
        if (reached || rows.length === 0) break;
      }
      if (stop.toId !== undefined && this.lastId < stop.toId)
        this.unfilled(
          this.lastTime,
          holeTo,
          `${this.kind} ids ${this.lastId + 1}..${stop.toId} are not served over REST`,
        );
    } catch (err) {
      if (this.ctx.signal.aborted) throw err;
      const why = err instanceof Error ? err.message : String(err);
      this.unfilled(
        this.lastTime,
        holeTo,
        `REST could not refill ${this.kind} ids from ${this.lastId + 1}: ${why}`,
      );
      if (stop.toId !== undefined) this.lastId = stop.toId;
    }
  }

  private unfilled(from: number, to: number, why: string): void {
    this.ctx.counters.unfilled_gaps += 1;
    this.ctx.note(`gap ${iso(from)}..${iso(to)}: ${why}`);
    this.ctx.logger.warn({ from, to, why }, 'hole not refilled; recorded as a gap');
    if (to > from) this.ctx.batcher.offer([], { from: this.coveredTo, to }, [{ from, to }], this.mark());
    this.coveredTo = Math.max(this.coveredTo, to);
  }

  private async page(fromId: number, limit: number): Promise<IdEvent[]> {
    const { market, symbol, client, signal } = this.ctx;
    if (this.kind === 'agg_trade') {
      const spot = market === 'spot';
      const rows = await client.get(
        spot ? '/api/v3/aggTrades' : '/fapi/v1/aggTrades',
        { symbol, fromId, limit },
        RawAggTrades,
        { weight: spot ? SPOT_WEIGHTS.aggTrades : USDM_WEIGHTS.aggTrades, signal },
      );
      return rows.map((a) => ({
        id: a.a,
        time: a.T,
        row: rowFromRecord('agg_trade', aggTradeFromRaw(a, this.at)),
      }));
    }
    if (market !== 'spot')
      throw new Error('USD-M historicalTrades needs an API key, which loader-ws does not hold');
    const rows = await client.get('/api/v3/historicalTrades', { symbol, fromId, limit }, RawTrades, {
      weight: SPOT_WEIGHTS.historicalTrades,
      signal,
    });
    return rows.map((t) => ({
      id: t.id,
      time: t.time,
      row: rowFromRecord('trade', tradeFromRaw(t, this.at)),
    }));
  }

  /** The stream's event as a record row; undefined when a field is missing or mistyped. */
  private parse(d: unknown): IdEvent | undefined {
    if (d === null || typeof d !== 'object') return undefined;
    const e = d as Record<string, unknown>;
    if (!isNum(e['T']) || !isStr(e['p']) || !isStr(e['q']) || typeof e['m'] !== 'boolean') return undefined;
    const M = typeof e['M'] === 'boolean' ? e['M'] : undefined;
    if (this.kind === 'agg_trade') {
      if (e['e'] !== 'aggTrade' || !isNum(e['a']) || !isNum(e['f']) || !isNum(e['l'])) return undefined;
      const raw = { a: e['a'], p: e['p'], q: e['q'], f: e['f'], l: e['l'], T: e['T'], m: e['m'], M };
      return { id: raw.a, time: raw.T, row: rowFromRecord('agg_trade', aggTradeFromRaw(raw, this.at)) };
    }
    if (e['e'] !== 'trade' || !isNum(e['t'])) return undefined;
    const raw = {
      id: e['t'],
      price: e['p'],
      qty: e['q'],
      quoteQty: decimalProduct(e['p'], e['q'], this.ctx.market === 'spot' ? 8 : undefined),
      time: e['T'],
      isBuyerMaker: e['m'],
      isBestMatch: M,
    };
    return { id: raw.id, time: raw.time, row: rowFromRecord('trade', tradeFromRaw(raw, this.at)) };
  }
}

// ---------------------------------------------------------------- klines

/** Closed candles; a candle after the expected one refills the missing ones over REST by time. */
export class KlineSeries implements LiveSeries {
  private nextOpen: number;
  private readonly queue: Array<{ t: number; row: Row; time: number }> = [];
  private filling = false;

  constructor(
    private readonly ctx: SeriesContext,
    private readonly interval: KlineInterval,
  ) {
    const o = klineOpenTime(interval, ctx.start);
    this.nextOpen = o < ctx.start ? klineNextOpenTime(interval, o) : o;
  }

  init(resume: SeriesMark | undefined): Promise<void> {
    if (resume?.next_open !== undefined) this.nextOpen = resume.next_open;
    return Promise.resolve();
  }

  /** Once the last candle opening before `end` has closed. */
  settleAt(): number {
    return klineNextOpenTime(this.interval, klineOpenTime(this.interval, this.ctx.end - 1));
  }

  onResumed(): void {}

  onEvent(data: unknown, receivedAt: number): void {
    const k = (data as { k?: Record<string, unknown> } | null)?.k;
    if (!k || !isNum(k['t']) || !isNum(k['T']) || typeof k['x'] !== 'boolean' || !isNum(k['n'])) {
      this.ctx.counters.malformed += 1;
      return;
    }
    const E = (data as { E?: unknown }).E;
    observe(this.ctx.counters, isNum(E) ? E : k['T'], receivedAt);
    if (!k['x']) return;
    const t = k['t'];
    const row: Row = [
      t,
      k['o'],
      k['h'],
      k['l'],
      k['c'],
      k['v'],
      k['T'],
      k['q'],
      k['n'],
      k['V'],
      k['Q'],
      isStr(k['B']) ? k['B'] : '0',
    ];
    if (t >= this.ctx.end) return;
    const ev = { t, row, time: t };
    if (this.filling || this.queue.length > 0) {
      this.queue.push(ev);
      return;
    }
    this.take(ev);
  }

  async complete(): Promise<void> {
    while (this.filling) await new Promise((r) => setTimeout(r, 20));
    this.drain();
    await this.fill(this.ctx.end);
  }

  private take(ev: { t: number; row: Row; time: number }): void {
    if (ev.t < this.nextOpen) {
      this.ctx.counters.duplicates += 1;
      return;
    }
    if (ev.t > this.nextOpen) {
      this.queue.unshift(ev);
      this.filling = true;
      this.ctx.counters.gap_fills += 1;
      void this.fill(ev.t)
        .catch((err: unknown) => this.ctx.fail(err))
        .finally(() => {
          this.filling = false;
          this.drain();
        });
      return;
    }
    const next = klineNextOpenTime(this.interval, ev.t);
    if (this.ctx.batcher.offer([ev.row], { from: ev.t, to: next }, [], { next_open: next }, ev.t))
      this.nextOpen = next;
  }

  private drain(): void {
    while (!this.filling && this.queue.length > 0) this.take(this.queue.shift()!);
  }

  /** Closed candles of [nextOpen, to) over REST. */
  private async fill(to: number): Promise<void> {
    if (to <= this.nextOpen) return;
    const from = this.nextOpen;
    try {
      const pages = klinePages(
        this.ctx.client,
        { market: this.ctx.market, symbol: this.ctx.symbol, interval: this.interval },
        {
          range: { from, to },
          resume: null,
          signal: this.ctx.signal,
          now: () => Date.now(),
          concurrency: 1,
          limit: Math.max(1, Math.min(1000, this.ctx.batcher.maxBuffered)),
        },
      );
      for await (const page of pages) {
        await this.ctx.batcher.room(page.rows.length);
        this.ctx.batcher.offer(
          page.rows,
          page.covers,
          page.gaps,
          { next_open: page.covers.to },
          undefined,
          true,
        );
        this.ctx.counters.filled_records += page.rows.length;
        this.nextOpen = Math.max(this.nextOpen, page.covers.to);
      }
    } catch (err) {
      if (this.ctx.signal.aborted) throw err;
      const why = err instanceof Error ? err.message : String(err);
      this.ctx.counters.unfilled_gaps += 1;
      this.ctx.note(`gap ${iso(this.nextOpen)}..${iso(to)}: REST could not refill the candles: ${why}`);
      this.ctx.batcher.offer([], { from: this.nextOpen, to }, [{ from: this.nextOpen, to }], {
        next_open: to,
      });
      this.nextOpen = to;
    }
  }
}

// ---------------------------------------------------------------- bookTicker

/** Best bid/ask updates; an outage cannot be refilled (no REST history) and becomes a gap. */
export class BookTickerSeries implements LiveSeries {
  private lastU = -1;
  private lastTime: number | undefined;
  private outage = false;
  private coveredTo: number;

  constructor(private readonly ctx: SeriesContext) {
    this.coveredTo = ctx.start;
  }

  init(): Promise<void> {
    // Updates before the first event are not known: coverage starts there.
    return Promise.resolve();
  }

  settleAt(): number {
    return this.ctx.end;
  }

  onResumed(): void {
    this.outage = true;
  }

  onEvent(data: unknown, receivedAt: number): void {
    const e = data as Record<string, unknown> | null;
    if (!e || !isNum(e['u']) || !isStr(e['b']) || !isStr(e['B']) || !isStr(e['a']) || !isStr(e['A'])) {
      this.ctx.counters.malformed += 1;
      return;
    }
    // Spot sends no time: the receive time stands in (records.ts BookTicker.time).
    const time = isNum(e['T']) ? e['T'] : isNum(e['E']) ? e['E'] : receivedAt;
    observe(this.ctx.counters, time, receivedAt);
    if (time >= this.ctx.end) return;
    if (e['u'] <= this.lastU) {
      this.ctx.counters.duplicates += 1;
      return;
    }
    const gaps: Range[] = [];
    if (this.lastTime === undefined) this.coveredTo = time;
    else if (this.outage && time > this.lastTime) {
      gaps.push({ from: this.lastTime, to: time });
      this.ctx.counters.unfilled_gaps += 1;
      this.ctx.note(
        `gap ${iso(this.lastTime)}..${iso(time)}: bookTicker updates have no REST history to refill an outage`,
      );
    }
    this.outage = false;
    const covers = time > this.coveredTo ? { from: this.coveredTo, to: time } : undefined;
    const row: Row = [e['u'], time, e['b'], e['B'], e['a'], e['A']];
    if (!this.ctx.batcher.offer([row], covers, gaps, {}, time)) {
      this.outage = true;
      return;
    }
    if (covers) this.coveredTo = time;
    this.lastU = e['u'];
    this.lastTime = time;
  }

  async complete(): Promise<void> {
    await this.ctx.batcher.room(1);
    if (this.lastTime !== undefined && !this.outage && this.ctx.end > this.coveredTo) {
      // Nothing changed since the last update up to the end (the stream is real-time).
      this.ctx.batcher.offer([], { from: this.coveredTo, to: Math.min(this.ctx.end, Date.now()) }, [], {});
    }
  }
}
