/**
 * Trading activity as a multiplicative cascade over the minute axis: the whole span holds a total
 * of aggregated trades (and extra fills), and every node splits its totals between its two halves
 * by a seeded random fraction, down to single minutes. This gives bursty, realistic activity and,
 * above all, the number of trades before any minute in O(depth): the sum of the left siblings on
 * the path from the root. Trade ids (= cumulative count) are therefore random-access, with no
 * history generated.
 */
import { hashKeys, Rng } from './prng.ts';
import { MAX_FILLS_PER_AGG } from './config.ts';

/** Leaves are minutes since the epoch: 2^26 minutes reach the year 2097. */
export const DEPTH = 26;
export const LEAVES = 2 ** DEPTH;
const CAP = MAX_FILLS_PER_AGG - 1;

export interface CascadeParams {
  key: number;
  /** Mean aggregated trades per minute. */
  tradesPerMinute: number;
  /** Mean fills per aggregated trade (≥ 1). */
  fillsPerTrade: number;
  /** Split spread on the finest levels (bursts and empty minutes). */
  burstiness: number;
}

/**
 * Counts per minute: `g` aggregated trades and `x` extra fills (trades = g + x, x ≤ 3g), and
 * the prefix sums before the minute. `at(m)` reuses the path of the previous call, so walking
 * consecutive minutes costs O(1) amortised.
 */
export class Cascade {
  private readonly idx = new Float64Array(DEPTH + 1).fill(-1);
  private readonly g = new Float64Array(DEPTH + 1);
  private readonly x = new Float64Array(DEPTH + 1);
  private readonly pg = new Float64Array(DEPTH + 1);
  private readonly px = new Float64Array(DEPTH + 1);
  private readonly spread: Float64Array;
  private readonly levelKey: Uint32Array;
  private last = -1;
  private readonly rng = new Rng();

  /** Results of the last `at`. */
  leafG = 0;
  leafX = 0;
  prefG = 0;
  prefX = 0;

  constructor(p: CascadeParams) {
    this.levelKey = new Uint32Array(DEPTH).map((_, lev) => hashKeys(p.key, lev));
    const g0 = Math.round(p.tradesPerMinute * LEAVES);
    this.idx[0] = 0;
    this.g[0] = g0;
    this.x[0] = Math.min(CAP * g0, Math.round(g0 * (p.fillsPerTrade - 1)));
    // Coarse levels vary activity over months and days; the finest four make minute bursts.
    this.spread = new Float64Array(DEPTH).map((_, lev) =>
      lev >= DEPTH - 4 ? Math.max(0.1, p.burstiness) : 0.1,
    );
  }

  /** Computes the counts of minute m (0 ≤ m < LEAVES) into leafG/leafX/prefG/prefX. */
  at(m: number): this {
    // The path of the previous minute is valid down to the level where the two minutes' bits differ.
    const diff = this.last < 0 ? -1 : this.last ^ m;
    const start = diff < 0 ? 0 : diff === 0 ? DEPTH : Math.max(0, DEPTH - (32 - Math.clz32(diff)));
    this.last = m;
    for (let l = start; l < DEPTH; l++) {
      const node = this.idx[l]!;
      const G = this.g[l]!;
      const X = this.x[l]!;
      // splitmix's output function mixes well, so a plain key + node seed is enough.
      const rng = this.rng.seed(this.levelKey[l]! + Math.imul(node, 0x9e3779b1));
      const f = 0.5 + this.spread[l]! * (2 * rng.next() - 1);
      const gL = Math.min(G, Math.floor(G * f + rng.next()));
      const gR = G - gL;
      let xL = G === 0 ? 0 : Math.floor((X * gL) / G + rng.next());
      xL = Math.max(Math.max(0, X - CAP * gR), Math.min(xL, X, CAP * gL));
      const child = m >>> (DEPTH - l - 1);
      this.idx[l + 1] = child;
      if (child % 2 === 0) {
        this.g[l + 1] = gL;
        this.x[l + 1] = xL;
        this.pg[l + 1] = this.pg[l]!;
        this.px[l + 1] = this.px[l]!;
      } else {
        this.g[l + 1] = gR;
        this.x[l + 1] = X - xL;
        this.pg[l + 1] = this.pg[l]! + gL;
        this.px[l + 1] = this.px[l]! + xL;
      }
    }
    this.leafG = this.g[DEPTH]!;
    this.leafX = this.x[DEPTH]!;
    this.prefG = this.pg[DEPTH]!;
    this.prefX = this.px[DEPTH]!;
    return this;
  }
}
