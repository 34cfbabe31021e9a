/**
 * One minute of one series. `shapeMinute` computes the candle in O(1) from a few seeded draws;
 * `minuteTrades` then generates trades that add up to exactly that candle: first trade = open,
 * last = close, a trade at the high and at the low, count, volume, taker-buy volume and quote
 * volumes equal to the cent. The trick that keeps quote volume O(1): apart from those four
 * special aggregated trades, the others come in pairs of equal quantity at prices w+d and w−d
 * around a centre w (plus at most one at w per side), so each pair adds exactly 2·w·qty.
 *
 * Units: prices in ticks (10^-priceDecimals), quantities in lots (10^-qtyDecimals), quote in
 * tick·lot; all integers, so every sum is exact.
 */
import { MAX_FILLS_PER_AGG as K } from './config.ts';
import type { Rng } from './prng.ts';

export interface MinuteShape {
  /** Aggregated trades and trades (fills). */
  g: number;
  n: number;
  o: number;
  h: number;
  l: number;
  c: number;
  /** Centre of the paired trades. */
  w: number;
  hasHigh: boolean;
  hasLow: boolean;
  /** Quantities and isBuyerMaker of the first, last, high and low aggregated trades. */
  q0: number;
  qN: number;
  qH: number;
  qL: number;
  b0: boolean;
  bN: boolean;
  bH: boolean;
  bL: boolean;
  /** Other aggregated trades with a buyer taker (B) and a seller taker (S); A = sum of pair quantities, s = single. */
  kB: number;
  kS: number;
  AB: number;
  AS: number;
  sB: number;
  sS: number;
  v: number;
  vb: number;
  q: number;
  qb: number;
}

export interface ShapeInput {
  g: number;
  n: number;
  /** Price curve at the minute's start and end, ticks. */
  aStart: number;
  aEnd: number;
  /** Relative size of the high/low excursions. */
  sigma: number;
  /** Mean quantity of an aggregated trade, lots. */
  meanLots: number;
}

function eventQty(rng: Rng, meanLots: number): number {
  return K + Math.floor(Math.max(0, meanLots - K) * rng.expo());
}

/** Sum of the quantities of `pairs` pairs (each member ≥ K lots, mean ≈ meanLots). */
function pairSum(rng: Rng, pairs: number, meanLots: number): number {
  return pairs === 0 ? 0 : pairs * K + Math.floor(pairs * Math.max(0, meanLots - K) * 2 * rng.next());
}

/** The candle of a minute with g ≥ 1 aggregated trades, O(1). */
export function shapeMinute(rng: Rng, p: ShapeInput): MinuteShape {
  const { g, n, meanLots } = p;
  const jitter = rng.next();
  const o = Math.max(1, p.aStart + (jitter < 0.25 ? -1 : jitter > 0.75 ? 1 : 0));
  const c = g === 1 ? o : Math.max(1, p.aEnd);
  const extremes = g >= 4 ? 2 : g === 3 ? 1 : 0;
  const up = rng.next() < 0.5;
  const hasHigh = extremes === 2 || (extremes === 1 && up);
  const hasLow = extremes === 2 || (extremes === 1 && !up);
  const hi = Math.max(o, c);
  const lo = Math.min(o, c);
  const h = hasHigh ? hi + Math.floor(hi * p.sigma * 0.6 * rng.expo()) : hi;
  const l = hasLow ? Math.max(1, lo - Math.floor(lo * p.sigma * 0.6 * rng.expo())) : lo;
  const w = l + rng.int(h - l + 1);
  const k = Math.max(0, g - 2 - extremes);
  const kB = Math.min(k, Math.floor(k * (0.2 + 0.6 * rng.next()) + rng.next()));
  const kS = k - kB;
  const AB = pairSum(rng, kB >> 1, meanLots);
  const AS = pairSum(rng, kS >> 1, meanLots);
  const sB = kB % 2 === 1 ? eventQty(rng, meanLots) : 0;
  const sS = kS % 2 === 1 ? eventQty(rng, meanLots) : 0;
  const q0 = eventQty(rng, meanLots);
  const qN = g >= 2 ? eventQty(rng, meanLots) : 0;
  const qH = hasHigh ? eventQty(rng, meanLots) : 0;
  const qL = hasLow ? eventQty(rng, meanLots) : 0;
  const b0 = rng.next() < 0.5;
  const bN = rng.next() < 0.5;
  // A new high is usually made by a buyer taking the offer, a new low by a seller hitting the bid.
  const bH = rng.next() < 0.2;
  const bL = rng.next() < 0.8;
  const midB = 2 * AB + sB;
  const midS = 2 * AS + sS;
  const v = q0 + qN + qH + qL + midB + midS;
  const q = o * q0 + c * qN + h * qH + l * qL + w * (midB + midS);
  // Kline "taker buy" volume = trades whose buyer was the taker, i.e. isBuyerMaker false.
  const vb = (b0 ? 0 : q0) + (bN ? 0 : qN) + (bH ? 0 : qH) + (bL ? 0 : qL) + midB;
  const qb = (b0 ? 0 : o * q0) + (bN ? 0 : c * qN) + (bH ? 0 : h * qH) + (bL ? 0 : l * qL) + w * midB;
  return {
    g,
    n,
    o,
    h,
    l,
    c,
    w,
    hasHigh,
    hasLow,
    q0,
    qN,
    qH,
    qL,
    b0,
    bN,
    bH,
    bL,
    kB,
    kS,
    AB,
    AS,
    sB,
    sS,
    v,
    vb,
    q,
    qb,
  };
}

/** One trade (fill). */
export interface SimTrade {
  id: number;
  /** Price, ticks. */
  p: number;
  /** Quantity, lots. */
  q: number;
  t: number;
  isBuyerMaker: boolean;
}

/** One aggregated trade: fills of one taker order at one price. */
export interface SimAggTrade {
  a: number;
  p: number;
  q: number;
  f: number;
  l: number;
  t: number;
  isBuyerMaker: boolean;
}

export interface MinuteTrades {
  trades: SimTrade[];
  aggs: SimAggTrade[];
}

/** Splits `total` into `parts` non-negative integers, randomly. */
function partition(rng: Rng, total: number, parts: number): number[] {
  const weights = new Array<number>(parts);
  let sum = 0;
  for (let i = 0; i < parts; i++) sum += weights[i] = rng.expo() + 1e-9;
  const out = new Array<number>(parts);
  let used = 0;
  for (let i = 0; i < parts; i++) used += out[i] = Math.floor((total * weights[i]!) / sum);
  for (let rest = total - used; rest > 0; rest--) out[rng.int(parts)]! += 1;
  return out;
}

interface Ev {
  p: number;
  q: number;
  b: boolean;
}

/** The trades of a minute whose candle is `s`; O(n). */
export function minuteTrades(
  rng: Rng,
  s: MinuteShape,
  start: number,
  firstId: number,
  firstAgg: number,
): MinuteTrades {
  const middle: Ev[] = [];
  if (s.hasHigh) middle.push({ p: s.h, q: s.qH, b: s.bH });
  if (s.hasLow) middle.push({ p: s.l, q: s.qL, b: s.bL });
  const dmax = Math.min(s.h - s.w, s.w - s.l);
  const side = (k: number, A: number, single: number, b: boolean) => {
    const pairs = k >> 1;
    if (pairs > 0) {
      for (const extra of partition(rng, A - pairs * K, pairs)) {
        const d = rng.int(dmax + 1);
        middle.push({ p: s.w + d, q: K + extra, b }, { p: s.w - d, q: K + extra, b });
      }
    }
    if (single > 0) middle.push({ p: s.w, q: single, b });
  };
  side(s.kB, s.AB, s.sB, false);
  side(s.kS, s.AS, s.sS, true);
  for (let i = middle.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const tmp = middle[i]!;
    middle[i] = middle[j]!;
    middle[j] = tmp;
  }
  const events: Ev[] = [{ p: s.o, q: s.q0, b: s.b0 }, ...middle];
  if (s.g >= 2) events.push({ p: s.c, q: s.qN, b: s.bN });

  // Extra fills: each aggregated trade has 1 … K fills (its quantity is ≥ K lots).
  const fills = new Array<number>(s.g).fill(1);
  for (let extra = s.n - s.g; extra > 0; extra--) {
    let i = rng.int(s.g);
    while (fills[i]! >= K) i = (i + 1) % s.g;
    fills[i]! += 1;
  }

  const trades: SimTrade[] = [];
  const aggs: SimAggTrade[] = [];
  let id = firstId;
  for (let i = 0; i < s.g; i++) {
    const ev = events[i]!;
    // Stratified times keep the order without sorting: aggregated trade i lies in slot i.
    const t = start + Math.floor(((i + rng.next()) * 60_000) / s.g);
    const f = fills[i]!;
    const parts = f === 1 ? [ev.q - 1] : partition(rng, ev.q - f, f);
    aggs.push({ a: firstAgg + i, p: ev.p, q: ev.q, f: id, l: id + f - 1, t, isBuyerMaker: ev.b });
    for (const part of parts) trades.push({ id: id++, p: ev.p, q: part + 1, t, isBuyerMaker: ev.b });
  }
  return { trades, aggs };
}
