/**
 * Planted exchange gaps: maintenance windows in which a series has no candles and no trades
 * (Binance had several, e.g. 2018-02-08). Random windows per calendar year (deterministic from the
 * seed) plus explicit ones from the configuration, merged and kept in minute units.
 */
import { hashKeys, hashString, Rng } from './prng.ts';
import type { ExchangeConfig, SymbolSpec } from './config.ts';

export const MINUTE_MS = 60_000;
/** The generator's time axis ends here (the activity cascade covers 2^26 minutes ≈ 2097). */
export const LAST_YEAR = 2096;

/** A half-open window [from, to) in epoch ms. */
export interface Window {
  from: number;
  to: number;
}

/** Sorted, merged gap windows of one series, in minutes, with fast lookup. */
export class GapIndex {
  /** Start and end minutes of each window, parallel arrays, sorted and disjoint. */
  readonly starts: number[] = [];
  readonly ends: number[] = [];

  constructor(windows: Array<[number, number]>) {
    windows.sort((a, b) => a[0] - b[0]);
    for (const [s, e] of windows) {
      const last = this.ends.length - 1;
      if (last >= 0 && s <= this.ends[last]!) this.ends[last] = Math.max(this.ends[last]!, e);
      else {
        this.starts.push(s);
        this.ends.push(e);
      }
    }
  }

  /** Index of the last window starting at or before minute m, or -1. */
  private floorIndex(m: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    let ans = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= m) {
        ans = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return ans;
  }

  /** The window containing minute m, as its index, or -1. */
  find(m: number): number {
    const i = this.floorIndex(m);
    return i >= 0 && m < this.ends[i]! ? i : -1;
  }

  /** Windows overlapping minutes [from, to). */
  overlapping(from: number, to: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let i = Math.max(0, this.floorIndex(from)); i < this.starts.length && this.starts[i]! < to; i++)
      if (this.ends[i]! > from) out.push([this.starts[i]!, this.ends[i]!]);
    return out;
  }

  /** Number of gap minutes in [from, to). */
  minutesIn(from: number, to: number): number {
    let n = 0;
    for (const [s, e] of this.overlapping(from, to)) n += Math.min(e, to) - Math.max(s, from);
    return n;
  }
}

/** Builds the gap index of one series: random windows per year + the configured ones. */
export function plantGaps(seed: number, spec: SymbolSpec, cfg: ExchangeConfig['gaps']): GapIndex {
  const windows: Array<[number, number]> = [];
  const key = hashKeys(seed, hashString(spec.market), hashString(spec.symbol), hashString('gaps'));
  const rng = new Rng();
  const firstYear = new Date(spec.listingTime).getUTCFullYear();
  const whole = Math.floor(cfg.perYear);
  for (let year = firstYear; year <= LAST_YEAR; year++) {
    rng.seed(hashKeys(key, year));
    const y0 = Date.UTC(year, 0, 1) / MINUTE_MS;
    const y1 = Date.UTC(year + 1, 0, 1) / MINUTE_MS;
    const count = whole + (rng.next() < cfg.perYear - whole ? 1 : 0);
    for (let i = 0; i < count; i++) {
      const start = y0 + rng.int(y1 - y0);
      const len = cfg.minMinutes + rng.int(cfg.maxMinutes - cfg.minMinutes + 1);
      windows.push([start, start + len]);
    }
  }
  for (const w of cfg.windows) {
    if (w.symbol !== undefined && w.symbol !== spec.symbol) continue;
    if (w.market !== undefined && w.market !== spec.market) continue;
    // Gaps are whole minutes: a window covers every minute it touches.
    windows.push([Math.floor(w.from / MINUTE_MS), Math.ceil(w.to / MINUTE_MS)]);
  }
  return new GapIndex(windows);
}

/** Gap windows of (market, symbol) overlapping [from, to) in ms, clipped to it. */
export function windowsIn(index: GapIndex, from: number, to: number): Window[] {
  const a = Math.floor(from / MINUTE_MS);
  const b = Math.ceil(to / MINUTE_MS);
  return index
    .overlapping(a, b)
    .map(([s, e]) => ({ from: Math.max(s * MINUTE_MS, from), to: Math.min(e * MINUTE_MS, to) }))
    .filter((w) => w.to > w.from);
}
