/**
 * Trade and aggregated-trade queries over a series: by id (fromId), by time range, or the newest.
 * Ids are the cumulative counts since listing, so the minute holding an id is found by binary
 * search over `idsBefore` and only the minutes a page touches are generated.
 */
import { MINUTE_MS } from './gaps.ts';
import type { SimAggTrade, SimTrade } from './minute.ts';
import type { Series } from './series.ts';

export type Kind = 'trade' | 'agg';
type Item<K extends Kind> = K extends 'trade' ? SimTrade : SimAggTrade;

function itemsOf<K extends Kind>(s: Series, kind: K, m: number): Array<Item<K>> {
  const mt = s.trades(m);
  return (kind === 'trade' ? mt.trades : mt.aggs) as Array<Item<K>>;
}

const idOf = (x: SimTrade | SimAggTrade): number => ('id' in x ? x.id : x.a);

/** Visits minutes with trades from m upwards (skipping gaps and empty minutes) up to lastMin. */
function forward(s: Series, m: number, lastMin: number, visit: (m: number) => boolean): void {
  m = Math.max(m, s.listing);
  while (m <= lastMin) {
    const gi = s.gaps.find(m);
    if (gi >= 0) {
      m = s.gaps.ends[gi]!;
      continue;
    }
    if (s.counts(m).leafG > 0 && !visit(m)) return;
    m++;
  }
}

function backward(s: Series, m: number, visit: (m: number) => boolean): void {
  while (m >= s.listing) {
    const gi = s.gaps.find(m);
    if (gi >= 0) {
      m = s.gaps.starts[gi]! - 1;
      continue;
    }
    if (s.counts(m).leafG > 0 && !visit(m)) return;
    m--;
  }
}

/** Items with id ≥ fromId (and time ≤ now), oldest first. */
export function fromId<K extends Kind>(
  s: Series,
  kind: K,
  id: number,
  limit: number,
  now: number,
): Array<Item<K>> {
  const nowMin = Math.floor(now / MINUTE_MS);
  // Largest minute m with idsBefore(m) ≤ id: the minute holding `id` (or nowMin + 1: not traded yet).
  let lo = s.listing;
  let hi = nowMin + 1;
  if (hi < lo || s.idsBefore(lo)[kind] > id) return [];
  while (lo < hi) {
    const mid = Math.floor((lo + hi + 1) / 2);
    if (s.idsBefore(mid)[kind] <= id) lo = mid;
    else hi = mid - 1;
  }
  const out: Array<Item<K>> = [];
  forward(s, lo, nowMin, (m) => {
    for (const x of itemsOf(s, kind, m)) {
      if (x.t > now) return false;
      if (idOf(x) >= id) out.push(x);
      if (out.length >= limit) return false;
    }
    return true;
  });
  return out;
}

/** Items with startTime ≤ time ≤ endTime (and ≤ now), oldest first. */
export function fromTime<K extends Kind>(
  s: Series,
  kind: K,
  start: number,
  end: number,
  limit: number,
  now: number,
): Array<Item<K>> {
  const hi = Math.min(end, now);
  const out: Array<Item<K>> = [];
  forward(s, Math.floor(start / MINUTE_MS), Math.floor(hi / MINUTE_MS), (m) => {
    for (const x of itemsOf(s, kind, m)) {
      if (x.t > hi) return false;
      if (x.t >= start) out.push(x);
      if (out.length >= limit) return false;
    }
    return true;
  });
  return out;
}

/** The newest `limit` items with time ≤ end (and ≤ now), oldest first. */
export function newest<K extends Kind>(
  s: Series,
  kind: K,
  end: number,
  limit: number,
  now: number,
): Array<Item<K>> {
  const hi = Math.min(end, now);
  const out: Array<Item<K>> = [];
  backward(s, Math.floor(hi / MINUTE_MS), (m) => {
    const items = itemsOf(s, kind, m);
    for (let i = items.length - 1; i >= 0; i--) {
      const x = items[i]!;
      if (x.t > hi) continue;
      out.push(x);
      if (out.length >= limit) return false;
    }
    return true;
  });
  return out.reverse();
}

/** Number of items of `items` (time-ordered) with time ≤ t. */
function countAtOrBefore(items: ReadonlyArray<{ t: number }>, t: number): number {
  let lo = 0;
  let hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (items[mid]!.t <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The id the next item after time t will get (= how many traded up to t): where a live stream
 * that starts at t begins, and the first trade id of a candle opening at t + 1.
 */
export function nextIdAfter(s: Series, kind: Kind, t: number): number {
  const m = Math.floor(t / MINUTE_MS);
  if (m < s.listing) return 0;
  const base = s.idsBefore(m)[kind];
  return s.exists(m) ? base + countAtOrBefore(itemsOf(s, kind, m), t) : base;
}
