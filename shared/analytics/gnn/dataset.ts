/**
 * The GNN's samples (issue 15), one per decision time τ = times[k], built without look-ahead
 * (shared/contracts/analytics.ts, "Time convention"):
 *
 * - features X[k] ∈ R^{N×L}: each asset's last L returns r[k−L+1..k] (oldest first), standardised
 *   with one mean and std learnt on the train span only; a missing return becomes 0 and its
 *   feature mask 0;
 * - label y = 1 when r[k+1] > 0, target mask 0 when r[k+1] is missing, `next` = r[k+1] (for IC);
 * - adjacency A[k] ∈ R^{N×N} from the latest snapshot with t ≤ τ, edges of one method only:
 *   A[i][j] = the signed weight of the edge j → i, so row i aggregates the messages INTO i
 *   (lead_lag: leader → follower; undirected methods: both ways). Decision times before the first
 *   snapshot are skipped and counted.
 *
 * Then a time-ordered split (train, validation, test; never shuffled across a boundary).
 * Adjacencies are stored once per snapshot used, and each sample points at its own.
 */
import {
  GRAPH_METHODS,
  type GnnRequest,
  type GraphMethod,
  type GraphSnapshot,
} from '../../contracts/analytics.ts';
import { InvalidInputError } from '../../runtime/errors.ts';

/** Aligned returns of N assets (another module's `AlignedReturns` has exactly these fields). */
export interface ReturnsInput {
  symbols: string[];
  interval_ms: number;
  /** Close time of each bar (the return's stamp), increasing. */
  times: number[];
  /** Per symbol, one return per time; NaN = missing. */
  returns: Float64Array[];
}

/** Half-open ranges [start, end) of sample indices. */
export interface SplitRanges {
  train: [number, number];
  validation: [number, number];
  test: [number, number];
}

export interface GnnDataset {
  symbols: string[];
  lags: number;
  /** Samples K; per sample its decision index k into `returns.times` and its time τ. */
  size: number;
  index: Int32Array;
  times: number[];
  /** [K, N, L] row-major, standardised, 0 where missing. */
  x: Float32Array;
  /** [K, N, L]: 1 where the return was present. */
  featureMask: Uint8Array;
  /** [K, N]: 1 when r[k+1] > 0; the mask is 0 where r[k+1] is missing. */
  y: Float32Array;
  targetMask: Float32Array;
  /** [K, N]: r[k+1] (NaN when missing). */
  next: Float64Array;
  /** Per sample, which entry of `adjacency` it uses. */
  graph: Int32Array;
  /** [N, N] matrices, one per snapshot used, with that snapshot's time. */
  adjacency: Float32Array[];
  adjacencyT: number[];
  split: SplitRanges;
  feature_mean: number;
  feature_std: number;
  /** Decision times skipped for want of a snapshot at or before them. */
  skipped: number;
  notes: string[];
}

/** Fewest decision times per span; fewer cannot train or score anything meaningful. */
export const MIN_SAMPLES = { train: 50, validation: 10, test: 10 } as const;

const UNDIRECTED = new Set<GraphMethod>(['pearson', 'spearman', 'partial']);

/** Dense signed adjacency of one snapshot, edges of `method` only (row = receiver). */
export function adjacencyOf(
  snapshot: GraphSnapshot,
  position: ReadonlyMap<string, number>,
  method: GraphMethod,
): Float32Array {
  const n = position.size;
  const a = new Float32Array(n * n);
  const put = (to: number, from: number, w: number): void => {
    // Several edges on one pair (e.g. lead-lag at two lags): the strongest wins.
    if (Math.abs(w) > Math.abs(a[to * n + from]!)) a[to * n + from] = w;
  };
  for (const e of snapshot.edges) {
    if (e.method !== method) continue;
    if (!Number.isFinite(e.weight))
      throw new InvalidInputError(
        `snapshot ${iso(snapshot.t)}: edge ${e.source} → ${e.target} (${e.method}) has weight ${e.weight}`,
      );
    const s = position.get(e.source);
    const t = position.get(e.target);
    if (s === undefined || t === undefined || s === t) continue;
    put(t, s, e.weight);
    if (UNDIRECTED.has(method)) put(s, t, e.weight);
  }
  return a;
}

/** Build the samples and split of a training request (see the file header). */
export function buildDataset(
  returns: ReturnsInput,
  snapshots: readonly GraphSnapshot[],
  request: Pick<GnnRequest, 'lags' | 'split' | 'edge_method'>,
): GnnDataset {
  const { symbols, times } = returns;
  const n = symbols.length;
  const lags = request.lags;
  const notes: string[] = [];
  checkReturns(returns);
  if (!(GRAPH_METHODS as readonly string[]).includes(request.edge_method))
    throw new InvalidInputError(
      `unknown edge method '${String(request.edge_method)}'; expected one of ${GRAPH_METHODS.join(', ')}`,
    );
  for (let s = 1; s < snapshots.length; s++)
    if (snapshots[s]!.t < snapshots[s - 1]!.t) throw new InvalidInputError('snapshots must be sorted by t');

  // Usable decision indices: L returns behind, a next bar ahead, and a snapshot at or before τ.
  const candidates: number[] = [];
  for (let k = lags - 1; k + 1 < times.length; k++) candidates.push(k);
  const snapOf: number[] = [];
  let skipped = 0;
  let s = -1;
  const usable: number[] = [];
  for (const k of candidates) {
    while (s + 1 < snapshots.length && snapshots[s + 1]!.t <= times[k]!) s++;
    if (s < 0) skipped++;
    else {
      usable.push(k);
      snapOf.push(s);
    }
  }
  const size = usable.length;
  const [fTrain, fVal] = request.split;
  const trainEnd = Math.round(size * fTrain);
  const valEnd = Math.round(size * (fTrain + fVal));
  const split: SplitRanges = { train: [0, trainEnd], validation: [trainEnd, valEnd], test: [valEnd, size] };
  const counts = { train: trainEnd, validation: valEnd - trainEnd, test: size - valEnd };
  if (
    counts.train < MIN_SAMPLES.train ||
    counts.validation < MIN_SAMPLES.validation ||
    counts.test < MIN_SAMPLES.test
  )
    throw new InvalidInputError(
      `too few decision times: ${size} usable (${times.length} bars, ${lags} lags, ${skipped} before the first ` +
        `snapshot) give ${counts.train} train / ${counts.validation} validation / ${counts.test} test; ` +
        `needed at least ${MIN_SAMPLES.train} / ${MIN_SAMPLES.validation} / ${MIN_SAMPLES.test}`,
    );

  // One mean and std over every return the train features read (train span only).
  const from = usable[0]! - lags + 1;
  const to = usable[trainEnd - 1]!;
  let cnt = 0;
  let sum = 0;
  for (const r of returns.returns)
    for (let j = from; j <= to; j++) {
      if (Number.isNaN(r[j]!)) continue;
      cnt++;
      sum += r[j]!;
    }
  const mean = cnt > 0 ? sum / cnt : 0;
  let ss = 0;
  for (const r of returns.returns)
    for (let j = from; j <= to; j++) if (!Number.isNaN(r[j]!)) ss += (r[j]! - mean) ** 2;
  const std = cnt > 1 ? Math.sqrt(ss / (cnt - 1)) : 0;
  if (!(std > 0)) throw new InvalidInputError(`the train span's returns have no variance (${cnt} present)`);
  returns.returns.forEach((r, i) => {
    let present = 0;
    for (let j = from; j <= to; j++) if (!Number.isNaN(r[j]!)) present++;
    if (present === 0) throw new InvalidInputError(`${symbols[i]} has no return in the train span`);
  });

  const x = new Float32Array(size * n * lags);
  const featureMask = new Uint8Array(size * n * lags);
  const y = new Float32Array(size * n);
  const targetMask = new Float32Array(size * n);
  const next = new Float64Array(size * n);
  for (let q = 0; q < size; q++) {
    const k = usable[q]!;
    for (let i = 0; i < n; i++) {
      const r = returns.returns[i]!;
      for (let l = 0; l < lags; l++) {
        const v = r[k - lags + 1 + l]!;
        if (Number.isNaN(v)) continue;
        x[(q * n + i) * lags + l] = (v - mean) / std;
        featureMask[(q * n + i) * lags + l] = 1;
      }
      const nx = r[k + 1]!;
      next[q * n + i] = nx;
      if (!Number.isNaN(nx)) {
        targetMask[q * n + i] = 1;
        y[q * n + i] = nx > 0 ? 1 : 0;
      }
    }
  }

  const position = new Map(symbols.map((sym, i) => [sym, i]));
  const adjacency: Float32Array[] = [];
  const adjacencyT: number[] = [];
  const graph = new Int32Array(size);
  const entry = new Map<number, number>();
  let edges = 0;
  let outside = 0;
  let beyond = 0;
  for (let q = 0; q < size; q++) {
    const sn = snapOf[q]!;
    let g = entry.get(sn);
    if (g === undefined) {
      const snap = snapshots[sn]!;
      const a = adjacencyOf(snap, position, request.edge_method);
      for (const w of a) if (w !== 0) edges++;
      for (const e of snap.edges) {
        if (e.method !== request.edge_method) continue;
        if (!position.has(e.source) || !position.has(e.target)) outside++;
        else if (e.lag > lags) beyond++;
      }
      g = adjacency.push(a) - 1;
      adjacencyT.push(snapshots[sn]!.t);
      entry.set(sn, g);
    }
    graph[q] = g;
  }
  if (edges === 0)
    notes.push(
      `no '${request.edge_method}' edges in any snapshot used: the adjacency is empty, so the GNN reduces to ` +
        'a per-asset network on its own lags (the MLP baseline with extra parameters)',
    );
  if (outside > 0) notes.push(`${outside} edges name symbols outside the returns and were ignored`);
  if (beyond > 0)
    notes.push(
      `${beyond} edges have a lag beyond the ${lags} lags of the features: the leader's return that matters ` +
        'is not among them',
    );
  const ds: GnnDataset = {
    symbols,
    lags,
    size,
    index: Int32Array.from(usable),
    times: usable.map((k) => times[k]!),
    x,
    featureMask,
    y,
    targetMask,
    next,
    graph,
    adjacency,
    adjacencyT,
    split,
    feature_mean: mean,
    feature_std: std,
    skipped,
    notes,
  };
  checkFinite(ds);
  return ds;
}

function checkReturns(r: ReturnsInput): void {
  if (r.returns.length !== r.symbols.length)
    throw new InvalidInputError(`${r.symbols.length} symbols but ${r.returns.length} return series`);
  if (r.symbols.length === 0) throw new InvalidInputError('no symbols');
  if (new Set(r.symbols).size !== r.symbols.length) throw new InvalidInputError('duplicate symbols');
  for (let k = 1; k < r.times.length; k++)
    if (!(r.times[k]! > r.times[k - 1]!)) throw new InvalidInputError(`times must increase (at index ${k})`);
  r.returns.forEach((series, i) => {
    if (series.length !== r.times.length)
      throw new InvalidInputError(`${r.symbols[i]}: ${series.length} returns for ${r.times.length} times`);
    for (let k = 0; k < series.length; k++) {
      const v = series[k]!;
      // NaN means missing; anything else non-finite is broken data.
      if (!Number.isNaN(v) && !Number.isFinite(v))
        throw new InvalidInputError(`${r.symbols[i]} at ${iso(r.times[k]!)}: return ${v}`);
    }
  });
}

/** The last guard: nothing non-finite may reach a tensor. */
function checkFinite(ds: GnnDataset): void {
  const n = ds.symbols.length;
  const per = n * ds.lags;
  for (let j = 0; j < ds.x.length; j++)
    if (!Number.isFinite(ds.x[j]!)) {
      const q = Math.floor(j / per);
      const i = Math.floor((j % per) / ds.lags);
      throw new InvalidInputError(`non-finite feature of ${ds.symbols[i]} at ${iso(ds.times[q]!)}`);
    }
  ds.adjacency.forEach((a, g) => {
    for (let j = 0; j < a.length; j++)
      if (!Number.isFinite(a[j]!))
        throw new InvalidInputError(
          `non-finite edge weight into ${ds.symbols[Math.floor(j / n)]} in the snapshot of ${iso(ds.adjacencyT[g]!)}`,
        );
  });
}

export const iso = (t: number): string => (Number.isFinite(t) ? new Date(t).toISOString() : String(t));

/** Scored predictions: the (sample, asset) pairs of a span whose next return is known, in time order. */
export interface Rows {
  q: Int32Array;
  i: Int32Array;
}

export function rowsOf(ds: GnnDataset, [start, end]: [number, number]): Rows {
  const n = ds.symbols.length;
  const q: number[] = [];
  const i: number[] = [];
  for (let s = start; s < end; s++)
    for (let a = 0; a < n; a++)
      if (ds.targetMask[s * n + a] === 1) {
        q.push(s);
        i.push(a);
      }
  return { q: Int32Array.from(q), i: Int32Array.from(i) };
}
