/**
 * Candles of every interval from the minute candles of a series, and the klines selection rules
 * (binance.md §1-2): open time ∈ [startTime, endTime], only endTime → newest up to it, neither →
 * newest; the candle containing "now" is partial. A higher interval aggregates its existing
 * minutes (open of the first, close of the last, max high, min low, sums); a candle wholly inside
 * a gap or before listing does not exist. Complete hours and days are cached, so a page of daily
 * candles costs the minute work once.
 */
import { klineNextOpenTime, klineOpenTime, type KlineInterval } from '../../../shared/contracts/common.ts';
import { MINUTE_MS } from './gaps.ts';
import type { Candle, Series } from './series.ts';

/** Exact sum: numbers while they stay below 2^53, bigint beyond (a busy pair's daily quote volume). */
function add(a: number | bigint, b: number | bigint): number | bigint {
  if (typeof a === 'number' && typeof b === 'number' && a + b <= Number.MAX_SAFE_INTEGER) return a + b;
  return BigInt(a) + BigInt(b);
}

function merge(acc: Candle | null, c: Candle | null): Candle | null {
  if (c === null) return acc;
  if (acc === null) return { ...c };
  acc.h = Math.max(acc.h, c.h);
  acc.l = Math.min(acc.l, c.l);
  acc.c = c.c;
  acc.v += c.v;
  acc.vb += c.vb;
  acc.n += c.n;
  acc.q = add(acc.q, c.q);
  acc.qb = add(acc.qb, c.qb);
  return acc;
}

function prevOpenTime(interval: KlineInterval, t: number): number {
  if (interval === '1M') {
    const d = new Date(t);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1);
  }
  return klineOpenTime(interval, t - 1);
}

const CACHE_MAX = 200_000;

export class CandleBuilder {
  private readonly hours = new Map<number, Candle | null>();
  private readonly days = new Map<number, Candle | null>();
  constructor(readonly series: Series) {}

  /** The candle of `interval` opening at `t` as seen at `now`, or null when it does not exist. */
  candle(interval: KlineInterval, t: number, now: number): Candle | null {
    if (t > now) return null;
    const m = Math.floor(t / MINUTE_MS);
    if (interval === '1s') {
      if (!this.series.exists(m)) return null;
      return this.seconds(m, now)[(t - m * MINUTE_MS) / 1000] ?? null;
    }
    if (interval === '1m') return this.series.exists(m) ? this.minute(m, now) : null;
    return this.range(m, Math.floor(klineNextOpenTime(interval, t) / MINUTE_MS), now, 1440);
  }

  private minute(m: number, now: number): Candle {
    const s = this.series;
    if ((m + 1) * MINUTE_MS <= now + 1) return s.minuteCandle(m);
    return s.tradesCandle(m, m * MINUTE_MS, now, s.prevClose(m));
  }

  private secKey = '';
  private secCandles: Array<Candle | null> = [];

  /** The 60 one-second candles of minute m (null for seconds after `now`), one pass over its trades. */
  seconds(m: number, now: number): Array<Candle | null> {
    const key = `${m}:${Math.min(now, (m + 1) * MINUTE_MS)}`;
    if (key === this.secKey) return this.secCandles;
    const s = this.series;
    const start = m * MINUTE_MS;
    const out: Array<Candle | null> = [];
    let last = s.prevClose(m);
    let i = -1;
    const flat = (p: number): Candle => ({ o: p, h: p, l: p, c: p, v: 0, vb: 0, q: 0, qb: 0, n: 0 });
    for (const t of s.trades(m).trades) {
      if (t.t > now) break;
      const sec = Math.floor((t.t - start) / 1000);
      while (i < sec) out[++i] = flat(last);
      const c = out[i]!;
      if (c.n === 0) c.o = c.h = c.l = t.p;
      c.h = Math.max(c.h, t.p);
      c.l = Math.min(c.l, t.p);
      c.c = last = t.p;
      c.v += t.q;
      c.q = (c.q as number) + t.p * t.q;
      c.n++;
      if (!t.isBuyerMaker) {
        c.vb += t.q;
        c.qb = (c.qb as number) + t.p * t.q;
      }
    }
    while (++i < 60) out[i] = start + i * 1000 <= now ? flat(last) : null;
    this.secKey = key;
    this.secCandles = out;
    return out;
  }

  /** Aggregate of the existing minutes in [from, to) up to now; blocks ≤ maxBlock minutes are cached. */
  private range(from: number, to: number, now: number, maxBlock: number): Candle | null {
    const s = this.series;
    const done = (endMin: number) => endMin * MINUTE_MS <= now + 1;
    const nowMin = Math.floor(now / MINUTE_MS);
    let acc: Candle | null = null;
    let m = Math.max(from, s.listing);
    while (m < to && m <= nowMin) {
      const gi = s.gaps.find(m);
      if (gi >= 0) {
        m = s.gaps.ends[gi]!;
        continue;
      }
      if (maxBlock >= 1440 && m % 1440 === 0 && m + 1440 <= to && done(m + 1440)) {
        acc = merge(acc, this.block(this.days, m, 1440));
        m += 1440;
      } else if (maxBlock >= 60 && m % 60 === 0 && m + 60 <= to && done(m + 60)) {
        acc = merge(acc, this.block(this.hours, m, 60));
        m += 60;
      } else {
        acc = merge(acc, this.minute(m, now));
        m++;
      }
    }
    return acc;
  }

  private block(cache: Map<number, Candle | null>, start: number, size: number): Candle | null {
    let c = cache.get(start);
    if (c === undefined) {
      c = this.range(start, start + size, Infinity, size === 1440 ? 60 : 1);
      if (cache.size >= CACHE_MAX) cache.clear();
      cache.set(start, c);
    }
    return c;
  }

  /** Klines selection (binance.md §1-2); returns [openTime, candle] oldest first. */
  select(
    interval: KlineInterval,
    q: { startTime?: number | undefined; endTime?: number | undefined; limit: number },
    now: number,
  ): Array<[number, Candle]> {
    const s = this.series;
    const listingMs = s.listing * MINUTE_MS;
    const rows: Array<[number, Candle]> = [];
    const hi = Math.min(q.endTime ?? now, now);
    if (q.startTime !== undefined) {
      let t = klineOpenTime(interval, q.startTime);
      if (t < q.startTime) t = klineNextOpenTime(interval, t);
      t = Math.max(t, klineOpenTime(interval, listingMs));
      while (rows.length < q.limit && t <= hi) {
        const c = this.candle(interval, t, now);
        if (c) rows.push([t, c]);
        const gi = c ? -1 : s.gaps.find(Math.floor(t / MINUTE_MS));
        const jump = gi >= 0 ? klineOpenTime(interval, s.gaps.ends[gi]! * MINUTE_MS) : t;
        t = jump > t ? jump : klineNextOpenTime(interval, t);
      }
      return rows;
    }
    let t = klineOpenTime(interval, hi);
    while (rows.length < q.limit && t >= 0 && klineNextOpenTime(interval, t) > listingMs) {
      const c = this.candle(interval, t, now);
      if (c) rows.push([t, c]);
      const gi = c ? -1 : s.gaps.find(Math.floor(t / MINUTE_MS));
      const jump = gi >= 0 ? klineOpenTime(interval, s.gaps.starts[gi]! * MINUTE_MS - 1) : t;
      t = jump < t ? jump : prevOpenTime(interval, t);
    }
    return rows.reverse();
  }
}
