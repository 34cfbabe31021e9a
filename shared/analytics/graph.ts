/**
 * The graph-builder's math, without I/O: klines → log returns on one time axis (`alignReturns`),
 * then rolling-window snapshots of a graph of assets (`buildSnapshot`, `buildSnapshots`) with edges
 * from four methods — contemporaneous Pearson and Spearman correlations, lead-lag (lagged)
 * correlations, and partial correlations — each kept when it survives Benjamini–Hochberg at `alpha`
 * and then the `top_k` cap per vertex.
 *
 * Time convention (docs/analytics.md, shared/contracts/analytics.ts): the return of bar k is
 * stamped with the bar's CLOSE time, times[k] = open_k + interval, the moment it becomes known.
 * The snapshot ending at index e is stamped t = times[e] and uses exactly the W returns with
 * indices e−W+1 … e, i.e. stamped in (t − window, t] with window_start = t − window: nothing
 * stamped after t. Missing candles stay missing (NaN), never shifted or filled; a window with too
 * little data is refused (InvalidInputError) rather than guessed.
 */
import type {
  GraphEdge,
  GraphMethod,
  GraphParams,
  GraphSnapshot,
  GraphVertex,
} from '../contracts/analytics.ts';
import { intervalMs, KLINE_INTERVALS } from '../contracts/common.ts';
import { InvalidInputError } from '../runtime/errors.ts';
import { benjaminiHochberg, clampUnit, fisherP, partialCorrelations } from './stats.ts';

export interface KlineBar {
  open_time: number;
  close: string;
  quote_volume: string;
}

export interface AlignedReturns {
  symbols: string[];
  interval_ms: number;
  /** Stamp of each return: the CLOSE time of its bar = open_time + interval_ms (when it became known). */
  times: number[];
  /** Per symbol, log return of each bar: ln(close_k / close_{k-1}); NaN when bar k or k−1 is missing. */
  returns: Float64Array[];
  /** Per symbol, quote volume of each bar (NaN when missing). */
  quote_volume: Float64Array[];
}

/** Smallest window a snapshot may use, in bars (a correlation over fewer is noise). */
export const MIN_WINDOW_BARS = 10;
/** Ridge of the precision matrix, relative to trace/N (see partialCorrelations). */
const PARTIAL_RIDGE = 1e-6;

const iso = (t: number): string => new Date(t).toISOString();

/** `1h` for 3,600,000 ms: the kline interval of that length, else the length in ms. */
export function intervalLabel(ms: number): string {
  for (const iv of KLINE_INTERVALS) if (iv !== '1M' && intervalMs(iv) === ms) return iv;
  return `${ms}ms`;
}

/** A duration as people write it (`30d`, `12h`, `90m`), for messages. */
export function durationLabel(ms: number): string {
  for (const [unit, len] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
  ] as const)
    if (ms > 0 && ms % len === 0) return `${ms / len}${unit}`;
  return `${ms}ms`;
}

/**
 * Bars on one time axis: every open time start, start+interval, …, < end. Missing candles stay
 * missing (NaN), never shifted. Bars outside [start, end) or off the grid start + k·interval are
 * ignored. Throws InvalidInputError listing every symbol without a bar in the range, and every
 * close that is not a positive finite number.
 */
export function alignReturns(
  symbols: string[],
  bars: ReadonlyMap<string, readonly KlineBar[]>,
  o: { start: number; end: number; interval_ms: number },
): AlignedReturns {
  const { start, end, interval_ms: step } = o;
  if (!(Number.isSafeInteger(step) && step > 0))
    throw new InvalidInputError(`interval must be a positive whole number of ms, got ${step}`);
  if (!(Number.isFinite(start) && Number.isFinite(end) && end > start))
    throw new InvalidInputError(`empty range [${iso(start)}, ${iso(end)}): end must be after start`);
  const twice = symbols.find((s, i) => symbols.indexOf(s) !== i);
  if (twice !== undefined) throw new InvalidInputError(`symbol ${twice} is listed twice`);

  const length = Math.ceil((end - start) / step);
  const closes = symbols.map(() => new Float64Array(length).fill(NaN));
  const volume = symbols.map(() => new Float64Array(length).fill(NaN));
  const empty: string[] = [];
  const bad: string[] = [];
  symbols.forEach((symbol, i) => {
    const close = closes[i]!;
    const qv = volume[i]!;
    let found = 0;
    for (const b of bars.get(symbol) ?? []) {
      const offset = b.open_time - start;
      if (offset < 0 || b.open_time >= end || offset % step !== 0) continue;
      found++;
      const k = offset / step;
      const c = Number(b.close);
      if (!(Number.isFinite(c) && c > 0)) {
        const why =
          c === 0
            ? 'a zero price makes the log return undefined'
            : c < 0
              ? 'a negative price makes the log return undefined'
              : 'not a finite number';
        bad.push(`${symbol}: close ${b.close === '' ? '""' : b.close} at ${iso(b.open_time)}: ${why}`);
        continue;
      }
      close[k] = c;
      const v = Number(b.quote_volume);
      qv[k] = Number.isFinite(v) ? v : NaN;
    }
    if (found === 0) empty.push(symbol);
  });
  const problems: string[] = [];
  if (empty.length > 0)
    problems.push(
      `no stored klines_${intervalLabel(step)} for ${empty.join(', ')} in [${iso(start)}, ${iso(end)})`,
    );
  if (bad.length > 0)
    problems.push(
      bad.slice(0, 5).join('; ') + (bad.length > 5 ? `; and ${bad.length - 5} more bad closes` : ''),
    );
  if (problems.length > 0) throw new InvalidInputError(problems.join('; '));

  const returns = closes.map((c) => {
    const r = new Float64Array(length).fill(NaN);
    for (let k = 1; k < length; k++) {
      const prev = c[k - 1]!;
      const cur = c[k]!;
      if (prev === prev && cur === cur) r[k] = Math.log(cur / prev); // x === x: not NaN
    }
    return r;
  });
  const times = Array.from({ length: length }, (_, k) => start + (k + 1) * step);
  return { symbols: [...symbols], interval_ms: step, times, returns, quote_volume: volume };
}

/** Window and step of a build, in bars; InvalidInputError when either is not a whole number of bars. */
export function windowBars(a: AlignedReturns, params: GraphParams): { window: number; step: number } {
  const step = a.interval_ms;
  const label = intervalLabel(step);
  if (intervalMs(params.interval) !== step)
    throw new InvalidInputError(`interval ${params.interval} does not match the returns' ${label} bars`);
  const w = params.window / step;
  const s = params.step / step;
  if (!Number.isInteger(w))
    throw new InvalidInputError(
      `window ${durationLabel(params.window)} is not a whole number of ${label} bars (${w.toFixed(3)})`,
    );
  if (w < MIN_WINDOW_BARS)
    throw new InvalidInputError(
      `window ${durationLabel(params.window)} is ${w} bars of ${label}; at least ${MIN_WINDOW_BARS} are needed`,
    );
  if (!Number.isInteger(s) || s < 1)
    throw new InvalidInputError(
      `step ${durationLabel(params.step)} is not a whole number (≥ 1) of ${label} bars (${s.toFixed(3)})`,
    );
  return { window: w, step: s };
}

/**
 * End indices of the snapshots of the whole range: the first at W (index 0 has no return), then
 * every S bars. InvalidInputError when the range is shorter than one window.
 */
export function snapshotEnds(a: AlignedReturns, params: GraphParams): number[] {
  const { window: w, step: s } = windowBars(a, params);
  const bars = a.times.length;
  if (bars < w + 1)
    throw new InvalidInputError(
      `window ${durationLabel(params.window)} is ${w} bars of ${intervalLabel(a.interval_ms)} but the range has only ` +
        `${bars} bars (a window of ${w} returns needs ${w + 1} bars)`,
    );
  const ends: number[] = [];
  for (let e = w; e < bars; e += s) ends.push(e);
  return ends;
}

/** Every snapshot of the range (see snapshotEnds), in time order. */
export function buildSnapshots(
  a: AlignedReturns,
  params: GraphParams,
  onProgress?: (done: number, total: number) => void,
): GraphSnapshot[] {
  const ends = snapshotEnds(a, params);
  const out: GraphSnapshot[] = [];
  for (const e of ends) {
    out.push(buildSnapshot(a, e, params));
    onProgress?.(out.length, ends.length);
  }
  return out;
}

/** One window's series, centred on its window mean, ready for correlations of any sub-range. */
interface Series {
  /** value − window mean; 0 where missing. */
  x: Float64Array;
  /** 1 where present, 0 where missing. */
  mask: Uint8Array;
  /** Whether the whole window is present. */
  full: boolean;
  /** Positions of the missing values, ascending: the first `nMiss`. */
  miss: Int32Array;
  nMiss: number;
  /** Prefix sums of x and x² (length W + 1). */
  s1: Float64Array;
  s2: Float64Array;
}

/** A window's present values in ascending order: positions (0 … W−1) of the first `n`. */
interface Order {
  order: Int32Array;
  /** The values in that order, and whether any two are equal. */
  sorted: Float64Array;
  ties: boolean;
  n: number;
}

/** Buffers of one window size, reused from snapshot to snapshot (no garbage per window). */
interface Workspace {
  w: number;
  centred: Series[];
  ranked: Series[];
  orders: Order[];
  /** Scratch: slot counters of sortWindow, the ranks of the two series of a pair. */
  seen: Int32Array;
  rx: Float64Array;
  ry: Float64Array;
}

function newSeries(w: number): Series {
  return {
    x: new Float64Array(w),
    mask: new Uint8Array(w),
    full: true,
    miss: new Int32Array(w),
    nMiss: 0,
    s1: new Float64Array(w + 1),
    s2: new Float64Array(w + 1),
  };
}

function newWorkspace(count: number, w: number): Workspace {
  return {
    w,
    centred: Array.from({ length: count }, () => newSeries(w)),
    ranked: Array.from({ length: count }, () => newSeries(w)),
    orders: Array.from({ length: count }, () => ({
      order: new Int32Array(w),
      sorted: new Float64Array(w),
      ties: false,
      n: 0,
    })),
    seen: new Int32Array(w),
    rx: new Float64Array(w),
    ry: new Float64Array(w),
  };
}

/** Fills `s` with values[lo … lo+w) centred on their mean, missing values as 0 with mask 0. */
function fillSeries(s: Series, values: Float64Array, lo: number, w: number): void {
  let n = 0;
  let sum = 0;
  for (let t = 0; t < w; t++) {
    const v = values[lo + t]!;
    if (v === v) {
      n++;
      sum += v;
    }
  }
  const mean = n > 0 ? sum / n : 0;
  const { x, mask, s1, s2, miss } = s;
  s.full = n === w;
  s.nMiss = 0;
  for (let t = 0; t < w; t++) {
    const v = values[lo + t]!;
    const present = v === v;
    const c = present ? v - mean : 0;
    mask[t] = present ? 1 : 0;
    if (!present) miss[s.nMiss++] = t;
    x[t] = c;
    s1[t + 1] = s1[t]! + c;
    s2[t + 1] = s2[t]! + c * c;
  }
}

/** Reused result of `corr` (no allocation per pair). */
interface Pair {
  r: number;
  n: number;
}

/**
 * Pearson correlation of X[a … a+len) with Y[b … b+len), over the pairs where both are present:
 * one dot product (unrolled by four; missing values are 0) and the prefix sums, corrected at the
 * few missing positions — a pair missing on either side leaves n and the other side's sums.
 */
function corr(X: Series, Y: Series, a: number, b: number, len: number, out: Pair): void {
  const x = X.x;
  const y = Y.x;
  let d0 = 0;
  let d1 = 0;
  let d2 = 0;
  let d3 = 0;
  let t = 0;
  for (const stop = len - 3; t < stop; t += 4) {
    d0 += x[a + t]! * y[b + t]!;
    d1 += x[a + t + 1]! * y[b + t + 1]!;
    d2 += x[a + t + 2]! * y[b + t + 2]!;
    d3 += x[a + t + 3]! * y[b + t + 3]!;
  }
  for (; t < len; t++) d0 += x[a + t]! * y[b + t]!;
  let n = len;
  let sx = X.s1[a + len]! - X.s1[a]!;
  let sxx = X.s2[a + len]! - X.s2[a]!;
  let sy = Y.s1[b + len]! - Y.s1[b]!;
  let syy = Y.s2[b + len]! - Y.s2[b]!;
  for (let k = 0; k < X.nMiss; k++) {
    const p = X.miss[k]!;
    if (p < a || p >= a + len) continue;
    n--;
    const v = y[b + p - a]!; // 0 when Y misses it too
    sy -= v;
    syy -= v * v;
  }
  for (let k = 0; k < Y.nMiss; k++) {
    const q = a + Y.miss[k]! - b;
    if (q < a || q >= a + len || X.mask[q] === 0) continue; // outside, or already dropped above
    n--;
    const u = x[q]!;
    sx -= u;
    sxx -= u * u;
  }
  finish(n, sx, sy, sxx, syy, d0 + d1 + d2 + d3, out);
}

/** r from the sums of a pair's (window-centred) values. */
function finish(n: number, sx: number, sy: number, sxx: number, syy: number, sxy: number, out: Pair): void {
  out.n = n;
  const vx = sxx - (sx * sx) / n;
  const vy = syy - (sy * sy) / n;
  out.r = n > 1 && vx > 0 && vy > 0 ? clampUnit((sxy - (sx * sy) / n) / Math.sqrt(vx * vy)) : NaN;
}

/**
 * The ascending order of the present values of values[lo … lo+w): one native sort of a copy,
 * then each value's slot by binary search (equal values take consecutive slots).
 */
function sortWindow(o: Order, values: Float64Array, lo: number, w: number, seen: Int32Array): void {
  const sorted = o.sorted;
  let n = 0;
  for (let t = 0; t < w; t++) {
    const v = values[lo + t]!;
    if (v === v) sorted[n++] = v;
  }
  sorted.subarray(0, n).sort();
  seen.fill(0, 0, n);
  for (let t = 0; t < w; t++) {
    const v = values[lo + t]!;
    if (v !== v) continue;
    let l = 0;
    let h = n;
    while (l < h) {
      const m = (l + h) >>> 1;
      if (sorted[m]! < v) l = m + 1;
      else h = m;
    }
    o.order[l + seen[l]!++] = t;
  }
  o.n = n;
  o.ties = false;
  for (let k = 1; k < n; k++) if (sorted[k] === sorted[k - 1]) o.ties = true;
}

/**
 * Average ranks (ties share the mean of their ranks) of the values in `o` whose position is present
 * in `other` as well — ranking after dropping the incomplete pairs — written at their positions
 * in `out`. Returns how many were ranked.
 */
function subsetRanks(o: Order, other: Uint8Array, out: Float64Array): number {
  const { order, sorted, n } = o;
  let rank = 0;
  if (!o.ties) {
    for (let k = 0; k < n; k++) {
      const p = order[k]!;
      if (other[p] === 1) out[p] = ++rank;
    }
    return rank;
  }
  for (let g = 0; g < n;) {
    let h = g + 1;
    while (h < n && sorted[h] === sorted[g]) h++;
    let kept = 0;
    for (let k = g; k < h; k++) kept += other[order[k]!]!;
    const average = rank + (kept + 1) / 2;
    for (let k = g; k < h; k++) if (other[order[k]!] === 1) out[order[k]!] = average;
    rank += kept;
    g = h;
  }
  return rank;
}

/** Fills `s` with the centred ranks of a complete window (its mask: all present). */
function fillRanks(s: Series, o: Order, w: number, all: Uint8Array): void {
  const { x, mask, s1, s2 } = s;
  subsetRanks(o, all, x);
  const mid = (w + 1) / 2;
  s.full = true;
  s.nMiss = 0;
  for (let t = 0; t < w; t++) {
    const c = x[t]! - mid;
    mask[t] = 1;
    x[t] = c;
    s1[t + 1] = s1[t]! + c;
    s2[t + 1] = s2[t]! + c * c;
  }
}

/** Spearman's rho of a pair with missing data: both ranked again over the pairs they share. */
function spearmanPair(i: number, j: number, ws: Workspace, out: Pair): void {
  const mi = ws.centred[i]!.mask;
  const mj = ws.centred[j]!.mask;
  const { rx, ry } = ws;
  const n = subsetRanks(ws.orders[i]!, mj, rx);
  subsetRanks(ws.orders[j]!, mi, ry);
  out.n = n;
  const mean = (n + 1) / 2;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let t = 0; t < ws.w; t++) {
    if ((mi[t]! & mj[t]!) === 0) continue;
    const dx = rx[t]! - mean;
    const dy = ry[t]! - mean;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  out.r = n > 1 && sxx > 0 && syy > 0 ? clampUnit(sxy / Math.sqrt(sxx * syy)) : NaN;
}

/** The tests of one method in one window, before selection. */
interface Tests {
  source: number[];
  target: number[];
  lag: number[];
  r: number[];
  p: number[];
  n: number[];
}

const newTests = (): Tests => ({ source: [], target: [], lag: [], r: [], p: [], n: [] });

function push(t: Tests, source: number, target: number, lag: number, r: number, p: number, n: number): void {
  t.source.push(source);
  t.target.push(target);
  t.lag.push(lag);
  t.r.push(r);
  t.p.push(p);
  t.n.push(n);
}

/**
 * The snapshot whose window ends at index `endIndex` (inclusive): returns endIndex−W+1 … endIndex,
 * stamped t = times[endIndex]; window_start = t − window.
 */
export function buildSnapshot(a: AlignedReturns, endIndex: number, params: GraphParams): GraphSnapshot {
  const { window: w } = windowBars(a, params);
  const bars = a.times.length;
  if (!Number.isInteger(endIndex) || endIndex < w || endIndex >= bars)
    throw new InvalidInputError(
      `snapshot end index ${endIndex} outside [${w}, ${bars - 1}] (window of ${w} bars, ${bars} bars)`,
    );
  let ws = workspaces.get(a);
  if (ws?.w !== w) {
    ws = newWorkspace(a.symbols.length, w);
    workspaces.set(a, ws);
  }
  return snapshot(a, endIndex, params, ws);
}

/** One workspace per aligned data set: a loop of buildSnapshot calls allocates its buffers once. */
const workspaces = new WeakMap<AlignedReturns, Workspace>();

function snapshot(a: AlignedReturns, endIndex: number, params: GraphParams, ws: Workspace): GraphSnapshot {
  const w = ws.w;
  const lo = endIndex - w + 1;
  const t = a.times[endIndex]!;
  const windowStart = a.times[lo]! - a.interval_ms;
  const count = a.symbols.length;

  // Vertex features and the coverage check (missing data is refused, never filled).
  const vertices: GraphVertex[] = [];
  const needed = Math.ceil(params.min_coverage * w - 1e-9);
  const short: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = a.returns[i]!;
    const qv = a.quote_volume[i]!;
    let n = 0;
    let sum = 0;
    let last = 0;
    let volume = 0;
    for (let k = lo; k <= endIndex; k++) {
      const v = r[k]!;
      if (v === v) {
        n++;
        sum += v;
        last = v;
      }
      const q = qv[k]!;
      if (Number.isFinite(q)) volume += q;
    }
    const mean = n > 0 ? sum / n : 0;
    let ss = 0;
    for (let k = lo; k <= endIndex; k++) {
      const v = r[k]!;
      if (v === v) ss += (v - mean) * (v - mean);
    }
    if (n < needed) short.push(`${a.symbols[i]} has ${n}`);
    vertices.push({
      symbol: a.symbols[i]!,
      n_obs: n,
      missing: w - n,
      mean_return: mean,
      volatility: n > 1 ? Math.sqrt(ss / (n - 1)) : 0,
      last_return: last,
      quote_volume: Math.max(0, volume),
    });
  }
  if (short.length > 0)
    throw new InvalidInputError(
      `too few returns in the window (${iso(windowStart)}, ${iso(t)}] of ${w} bars: ${short.join(', ')}; ` +
        `min_coverage ${params.min_coverage} needs at least ${needed}`,
    );

  const methods = new Set<GraphMethod>(params.methods);
  const edges: GraphEdge[] = [];
  const pair: Pair = { r: NaN, n: 0 };
  const sym = a.symbols;
  const byName = (i: number, j: number): [number, number] => (sym[i]! < sym[j]! ? [i, j] : [j, i]);
  const centred = ws.centred;
  for (let i = 0; i < count; i++) fillSeries(centred[i]!, a.returns[i]!, lo, w);

  // Contemporaneous Pearson: the edges of `pearson` and the correlation matrix of `partial`.
  let pearsonR: Float64Array[] | undefined;
  let pearsonN: Float64Array[] | undefined;
  if (methods.has('pearson') || methods.has('partial')) {
    pearsonR = sym.map(() => new Float64Array(count));
    pearsonN = sym.map(() => new Float64Array(count));
    for (let i = 0; i < count; i++) {
      pearsonR[i]![i] = 1;
      for (let j = i + 1; j < count; j++) {
        corr(centred[i]!, centred[j]!, 0, 0, w, pair);
        pearsonR[i]![j] = pearsonR[j]![i] = pair.r;
        pearsonN[i]![j] = pearsonN[j]![i] = pair.n;
      }
    }
  }

  for (const method of methods) {
    const tests = newTests();
    if (method === 'pearson') {
      for (let i = 0; i < count; i++)
        for (let j = i + 1; j < count; j++) {
          const r = pearsonR![i]![j]!;
          const n = pearsonN![i]![j]!;
          if (r === r) push(tests, ...byName(i, j), 0, r, fisherP(r, n), n);
        }
    } else if (method === 'spearman') {
      const ranked = ws.ranked;
      for (let i = 0; i < count; i++) {
        sortWindow(ws.orders[i]!, a.returns[i]!, lo, w, ws.seen);
        if (centred[i]!.full) fillRanks(ranked[i]!, ws.orders[i]!, w, centred[i]!.mask);
      }
      for (let i = 0; i < count; i++)
        for (let j = i + 1; j < count; j++) {
          if (centred[i]!.full && centred[j]!.full) corr(ranked[i]!, ranked[j]!, 0, 0, w, pair);
          else spearmanPair(i, j, ws, pair); // missing data: ranked again over the shared pairs
          if (pair.r === pair.r) push(tests, ...byName(i, j), 0, pair.r, fisherP(pair.r, pair.n), pair.n);
        }
    } else if (method === 'lead_lag') {
      // corr(r_i[k], r_j[k + lag]) with both k and k + lag in the window: i's first W − lag
      // returns against j's last W − lag. Best |corr| over the lags; Bonferroni over the lags.
      // A plain (unconditional) lagged correlation: under a common factor, any asset's return
      // also predicts the followers of a leader (the test measures how often).
      const maxLag = Math.min(params.max_lag, w - 3);
      for (let i = 0; i < count; i++)
        for (let j = 0; j < count; j++) {
          if (i === j) continue;
          let bestR = NaN;
          let bestN = 0;
          let bestLag = 0;
          for (let lag = 1; lag <= maxLag; lag++) {
            corr(centred[i]!, centred[j]!, 0, lag, w - lag, pair);
            if (pair.r === pair.r && !(Math.abs(pair.r) <= Math.abs(bestR))) {
              bestR = pair.r;
              bestN = pair.n;
              bestLag = lag;
            }
          }
          if (bestR === bestR)
            push(tests, i, j, bestLag, bestR, Math.min(1, fisherP(bestR, bestN) * maxLag), bestN);
        }
    } else {
      // partial: the precision matrix of the pairwise-complete Pearson matrix; an undefined
      // correlation (a constant series) enters as 0. Fisher p with N − 2 controlling variables.
      const c = pearsonR!.map((row) => row.map((v) => (v === v ? v : 0)));
      for (let i = 0; i < count; i++) c[i]![i] = 1;
      const partial = partialCorrelations(c, PARTIAL_RIDGE);
      for (let i = 0; i < count; i++)
        for (let j = i + 1; j < count; j++) {
          const r = partial[i]![j]!;
          const n = pearsonN![i]![j]!;
          if (r === r && pearsonR![i]![j] === pearsonR![i]![j])
            push(tests, ...byName(i, j), 0, r, fisherP(r, n, count - 2), n);
        }
    }
    for (const k of select(tests, count, params.alpha, params.top_k))
      edges.push({
        source: sym[tests.source[k]!]!,
        target: sym[tests.target[k]!]!,
        method,
        lag: tests.lag[k]!,
        weight: tests.r[k]!,
        sign: tests.r[k]! >= 0 ? 1 : -1,
        p_value: tests.p[k]!,
        n: tests.n[k]!,
      });
  }
  return { t, window_start: windowStart, vertices, edges };
}

/**
 * Benjamini–Hochberg over all the tests of a method, then the `topK` strongest |weight| of each
 * vertex: an edge stays when it is among the topK of its source or of its target (0 = no cap).
 * Returns the kept tests' indices in test order.
 */
function select(tests: Tests, vertices: number, alpha: number, topK: number): number[] {
  const found = benjaminiHochberg(tests.p, alpha);
  const kept: number[] = [];
  for (let k = 0; k < found.length; k++) if (found[k]) kept.push(k);
  if (topK === 0) return kept;
  const perVertex: number[][] = Array.from({ length: vertices }, () => []);
  for (const k of kept) {
    perVertex[tests.source[k]!]!.push(k);
    perVertex[tests.target[k]!]!.push(k);
  }
  const keep = new Set<number>();
  for (const list of perVertex) {
    list.sort((x, y) => Math.abs(tests.r[y]!) - Math.abs(tests.r[x]!) || x - y);
    for (const k of list.slice(0, topK)) keep.add(k);
  }
  return kept.filter((k) => keep.has(k));
}
