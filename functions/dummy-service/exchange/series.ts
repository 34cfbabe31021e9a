/**
 * One (market, symbol) series: the price curve, activity, gaps and listing time, and from them
 * any minute's candle (O(1)), its trades (O(trades)) and trade ids (O(log) via the cascade).
 */
import { Cascade, LEAVES } from './cascade.ts';
import type { ExchangeConfig, SymbolSpec } from './config.ts';
import { MINUTE_MS, plantGaps, type GapIndex } from './gaps.ts';
import { minuteTrades, shapeMinute, type MinuteShape, type MinuteTrades } from './minute.ts';
import { h2, hashKeys, hashString, NoiseSum, Rng } from './prng.ts';

/** A candle in integer units (ticks, lots, tick·lots). */
export interface Candle {
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
  vb: number;
  q: number | bigint;
  qb: number | bigint;
  n: number;
}

const MINUTES_PER_DAY = 1440;
const TRADE_CACHE_MINUTES = 64;
const TRADE_CACHE_ITEMS = 1_000_000;
/** Price curve: (lattice spacing in minutes, amplitude in daily volatilities). */
const CURVE: Array<[number, number]> = [
  [15, 0.25],
  [120, 0.5],
  [1440, 1],
  [14_400, 2.5],
  [129_600, 6],
  [1_051_200, 12],
];

export class Series {
  readonly spec: SymbolSpec;
  readonly gaps: GapIndex;
  /** First minute with data. */
  readonly listing: number;
  readonly key: number;
  /** The price curve, and keys of the per-minute streams. */
  private readonly curve: NoiseSum;
  private readonly noiseKey: number;
  private readonly shapeKey: number;
  private readonly tradesKey: number;
  private readonly cascade: Cascade;
  private readonly rng = new Rng();
  /** Separate stream for the price curve: priceTicks runs while `rng` is seeded for a minute. */
  private readonly noiseRng = new Rng();
  private readonly sigma: number;
  private readonly meanLots: number;
  private readonly tickScale: number;
  private readonly tradeCache = new Map<number, MinuteTrades>();
  private cachedItems = 0;
  private readonly gapSums = new Map<number, [number, number]>();
  private readonly base: [number, number];

  constructor(seed: number, spec: SymbolSpec, gapCfg: ExchangeConfig['gaps']) {
    this.spec = spec;
    this.key = hashKeys(seed, hashString(spec.market), hashString(spec.symbol));
    // Keyed by symbol only: spot and futures of one symbol follow the same curve, like a real basis.
    const priceKey = hashKeys(seed, hashString(spec.symbol), 7);
    this.curve = new NoiseSum(priceKey, CURVE);
    this.noiseKey = h2(this.key, 5);
    this.shapeKey = h2(this.key, 2);
    this.tradesKey = h2(this.key, 3);
    this.gaps = plantGaps(seed, spec, gapCfg);
    this.listing = Math.ceil(spec.listingTime / MINUTE_MS);
    this.cascade = new Cascade({
      key: hashKeys(this.key, 1),
      tradesPerMinute: spec.tradesPerMinute,
      fillsPerTrade: spec.fillsPerTrade,
      burstiness: spec.burstiness,
    });
    this.sigma = spec.volatility / Math.sqrt(MINUTES_PER_DAY);
    this.meanLots = spec.meanTradeQty * 10 ** spec.qtyDecimals;
    this.tickScale = 10 ** spec.priceDecimals;
    this.base = this.prefix(this.listing);
  }

  /** Reference price (real units) at the start of minute m. */
  price(m: number): number {
    const curve =
      this.curve.at(m) * this.spec.volatility +
      this.sigma * (this.noiseRng.seed(this.noiseKey + m).next() * 2 - 1);
    return this.spec.basePrice * Math.exp(curve);
  }

  private memoM = -1;
  private memoP = 0;
  /** Reference price in ticks (≥ 1); memoised once because minute m's end is minute m+1's start. */
  priceTicks(m: number): number {
    if (m !== this.memoM) {
      this.memoM = m;
      this.memoP = Math.max(1, Math.round(this.price(m) * this.tickScale));
    }
    return this.memoP;
  }

  /** Whether minute m exists on the exchange (listed, not in a gap, inside the time axis). */
  exists(m: number): boolean {
    return m >= this.listing && m < LEAVES - 1 && this.gaps.find(m) < 0;
  }

  /** Counts of minute m in `leafG` (aggregated trades) and `leafX` (extra fills); ignores gaps. */
  counts(m: number): Cascade {
    return this.cascade.at(m);
  }

  /** Raw cascade prefix before minute m: [aggregated trades, trades]. */
  private prefix(m: number): [number, number] {
    const c = this.cascade.at(Math.min(m, LEAVES - 1));
    return [c.prefG, c.prefG + c.prefX];
  }

  /**
   * Ids of the first aggregated trade and first trade at or after the start of minute m:
   * counts since listing, minus what the cascade put into gap minutes (the exchange was down).
   */
  idsBefore(m: number): { agg: number; trade: number } {
    if (m <= this.listing) return { agg: 0, trade: 0 };
    const [pg, pn] = this.prefix(m);
    let agg = pg - this.base[0];
    let trade = pn - this.base[1];
    for (const [s, e] of this.gaps.overlapping(this.listing, m)) {
      const a = Math.max(s, this.listing);
      const b = Math.min(e, m);
      const whole = b === e;
      const key = a;
      let sums = whole ? this.gapSums.get(key) : undefined;
      if (sums === undefined) {
        const [ga, na] = this.prefix(a);
        const [gb, nb] = this.prefix(b);
        sums = [gb - ga, nb - na];
        if (whole) this.gapSums.set(key, sums);
      }
      agg -= sums[0];
      trade -= sums[1];
    }
    return { agg, trade };
  }

  /** The O(1) candle of minute m, or null when it had no trades. */
  shape(m: number): MinuteShape | null {
    const c = this.cascade.at(m);
    const g = c.leafG;
    const n = g + c.leafX;
    if (g === 0) return null;
    this.rng.seed(h2(this.shapeKey, m));
    return shapeMinute(this.rng, {
      g,
      n,
      aStart: this.priceTicks(m),
      aEnd: this.priceTicks(m + 1),
      sigma: this.sigma,
      meanLots: this.meanLots,
    });
  }

  /** Close of the last minute with trades before m (what an empty minute shows), in ticks. */
  prevClose(m: number): number {
    for (let p = m - 1, steps = 0; p >= this.listing && steps < 100_000; steps++) {
      const gi = this.gaps.find(p);
      if (gi >= 0) {
        p = this.gaps.starts[gi]! - 1;
        continue;
      }
      const s = this.shape(p);
      if (s) return s.c;
      p--;
    }
    return this.priceTicks(m);
  }

  /**
   * Trades of minute m (which must exist), cached (LRU) for the few minutes a page or a live
   * stream touches: at most TRADE_CACHE_MINUTES minutes and TRADE_CACHE_ITEMS trades + aggregated
   * trades (~115 bytes each), but always the last two minutes used; a 120,000-per-minute symbol
   * makes ~325k items a minute.
   */
  trades(m: number): MinuteTrades {
    const hit = this.tradeCache.get(m);
    if (hit) {
      this.tradeCache.delete(m);
      this.tradeCache.set(m, hit);
      return hit;
    }
    const s = this.shape(m);
    let out: MinuteTrades = { trades: [], aggs: [] };
    if (s) {
      const ids = this.idsBefore(m);
      this.rng.seed(h2(this.tradesKey, m));
      out = minuteTrades(this.rng, s, m * MINUTE_MS, ids.trade, ids.agg);
    }
    const size = out.trades.length + out.aggs.length;
    while (
      this.tradeCache.size >= 2 &&
      (this.tradeCache.size >= TRADE_CACHE_MINUTES || this.cachedItems + size > TRADE_CACHE_ITEMS)
    ) {
      const [oldest, old] = this.tradeCache.entries().next().value!;
      this.tradeCache.delete(oldest);
      this.cachedItems -= old.trades.length + old.aggs.length;
    }
    this.tradeCache.set(m, out);
    this.cachedItems += size;
    return out;
  }

  /** Candle of a complete minute m (which must exist). */
  minuteCandle(m: number): Candle {
    const s = this.shape(m);
    if (s) return { o: s.o, h: s.h, l: s.l, c: s.c, v: s.v, vb: s.vb, q: s.q, qb: s.qb, n: s.n };
    const p = this.prevClose(m);
    return { o: p, h: p, l: p, c: p, v: 0, vb: 0, q: 0, qb: 0, n: 0 };
  }

  /** Candle of trades of minute m in [from, to] ms; empty → flat at `open`. */
  tradesCandle(m: number, from: number, to: number, open: number): Candle {
    const c: Candle = { o: open, h: open, l: open, c: open, v: 0, vb: 0, q: 0, qb: 0, n: 0 };
    let q = 0;
    let qb = 0;
    for (const t of this.trades(m).trades) {
      if (t.t < from || t.t > to) continue;
      if (c.n === 0) c.o = c.h = c.l = t.p;
      c.h = Math.max(c.h, t.p);
      c.l = Math.min(c.l, t.p);
      c.c = t.p;
      c.v += t.q;
      q += t.p * t.q;
      c.n++;
      if (!t.isBuyerMaker) {
        c.vb += t.q;
        qb += t.p * t.q;
      }
    }
    c.q = q;
    c.qb = qb;
    return c;
  }
}
