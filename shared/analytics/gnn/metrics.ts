/**
 * How the GNN and its baselines are scored on the test span (issue 15), with 95% intervals:
 *
 * - accuracy (up when P(up) ≥ 0.5, against r[k+1] > 0) with a Wilson interval;
 * - log loss and the information coefficient (Spearman rank correlation of P(up) with the
 *   realised next return, pooled over the test set) with bootstrap intervals;
 * - `compare`: the GNN minus a baseline on the same predictions, accuracy and log loss, with a
 *   BLOCK bootstrap over decision times — assets at one time share the market factor, so whole
 *   times are resampled, never single predictions.
 *
 * Every bootstrap here resamples whole decision times (the honest choice for correlated assets)
 * with a seeded PRNG, percentile intervals, 1000 resamples by default. For the IC the ranks are
 * computed once on the full test set and the resample re-weights the pairs (O(T) per resample);
 * when the predictions are constant the IC is undefined and reported as 0.
 */
import type { Comparison, ModelMetrics } from '../../contracts/analytics.ts';
import { mulberry32 } from './random.ts';

/** One row per prediction, sorted by `time` (the decision-time index, the bootstrap's block). */
export interface Scored {
  time: Int32Array;
  p: Float64Array;
  /** 1 when the next return was > 0. */
  y: Uint8Array;
  next: Float64Array;
}

export interface BootstrapOptions {
  resamples?: number;
  seed?: number;
}

const CLIP = 1e-7;
const Z95 = 1.959963984540054;

const logLoss = (p: number, y: number): number => {
  const q = Math.min(1 - CLIP, Math.max(CLIP, p));
  return -(y === 1 ? Math.log(q) : Math.log(1 - q));
};
const hit = (p: number, y: number): number => ((p >= 0.5 ? 1 : 0) === y ? 1 : 0);

/** Wilson score interval of k successes in n trials. */
export function wilson(k: number, n: number, z = Z95): [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const d = 1 + (z * z) / n;
  const c = (p + (z * z) / (2 * n)) / d;
  const h = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, c - h), Math.min(1, c + h)];
}

/** Average ranks (ties share their mean rank), 1-based. */
export function ranks(v: ArrayLike<number>): Float64Array {
  const order = Array.from({ length: v.length }, (_, j) => j).sort((a, b) => v[a]! - v[b]!);
  const r = new Float64Array(v.length);
  for (let s = 0; s < order.length;) {
    let e = s;
    while (e + 1 < order.length && v[order[e + 1]!] === v[order[s]!]) e++;
    for (let j = s; j <= e; j++) r[order[j]!] = (s + e) / 2 + 1;
    s = e + 1;
  }
  return r;
}

/** Per decision time, sums of per-prediction columns: the blocks a bootstrap resamples. */
function blocks(time: Int32Array, columns: ((j: number) => number)[]): Float64Array[] {
  const starts: number[] = [];
  for (let j = 0; j < time.length; j++) if (j === 0 || time[j] !== time[j - 1]) starts.push(j);
  const out = columns.map(() => new Float64Array(starts.length));
  starts.forEach((s, b) => {
    const e = b + 1 < starts.length ? starts[b + 1]! : time.length;
    for (let j = s; j < e; j++) columns.forEach((c, ci) => (out[ci]![b]! += c(j)));
  });
  return out;
}

/** Percentile interval of `stat` over resamples of whole blocks. */
function blockBootstrap(
  sums: Float64Array[],
  stat: (totals: Float64Array) => number,
  o: BootstrapOptions,
): [number, number] {
  const nb = sums[0]?.length ?? 0;
  const b = o.resamples ?? 1000;
  if (nb === 0) return [NaN, NaN];
  const rand = mulberry32(o.seed ?? 1);
  const values = new Float64Array(b);
  const totals = new Float64Array(sums.length);
  for (let r = 0; r < b; r++) {
    totals.fill(0);
    for (let d = 0; d < nb; d++) {
      const pick = Math.floor(rand() * nb);
      for (let c = 0; c < sums.length; c++) totals[c]! += sums[c]![pick]!;
    }
    values[r] = stat(totals);
  }
  values.sort();
  return [values[Math.floor(0.025 * (b - 1))]!, values[Math.ceil(0.975 * (b - 1))]!];
}

/** Pearson correlation from the sums n, Σa, Σb, Σa², Σb², Σab (0 when undefined). */
function corrFromSums(t: ArrayLike<number>): number {
  const [n, sa, sb, saa, sbb, sab] = [t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!];
  const cov = sab - (sa * sb) / n;
  const va = saa - (sa * sa) / n;
  const vb = sbb - (sb * sb) / n;
  return va > 0 && vb > 0 ? cov / Math.sqrt(va * vb) : 0;
}

/** Accuracy, log loss and IC of one model's predictions, with 95% intervals. */
export function scoreModel(s: Scored, o: BootstrapOptions = {}): ModelMetrics {
  const n = s.p.length;
  let correct = 0;
  let ll = 0;
  for (let j = 0; j < n; j++) {
    correct += hit(s.p[j]!, s.y[j]!);
    ll += logLoss(s.p[j]!, s.y[j]!);
  }
  const [lossSum, count] = blocks(s.time, [(j) => logLoss(s.p[j]!, s.y[j]!), () => 1]);
  const ra = ranks(s.p);
  const rb = ranks(s.next);
  const icSums = blocks(s.time, [
    () => 1,
    (j) => ra[j]!,
    (j) => rb[j]!,
    (j) => ra[j]! ** 2,
    (j) => rb[j]! ** 2,
    (j) => ra[j]! * rb[j]!,
  ]);
  const totals = icSums.map((c) => c.reduce((a, v) => a + v, 0));
  return {
    n,
    accuracy: n > 0 ? correct / n : 0,
    accuracy_ci: wilson(correct, n),
    log_loss: n > 0 ? ll / n : 0,
    log_loss_ci: blockBootstrap([lossSum!, count!], (t) => t[0]! / t[1]!, o),
    ic: corrFromSums(totals),
    ic_ci: blockBootstrap(icSums, corrFromSums, o),
  };
}

/** The GNN minus a baseline on the same rows: positive accuracy_diff / negative log_loss_diff favour the GNN. */
export function compare(baseline: string, gnn: Scored, base: Scored, o: BootstrapOptions = {}): Comparison {
  if (gnn.p.length !== base.p.length || gnn.time.some((t, j) => t !== base.time[j]))
    throw new RangeError(`compare(${baseline}): the two models were scored on different predictions`);
  const sums = blocks(gnn.time, [
    (j) => hit(gnn.p[j]!, gnn.y[j]!) - hit(base.p[j]!, base.y[j]!),
    (j) => logLoss(gnn.p[j]!, gnn.y[j]!) - logLoss(base.p[j]!, base.y[j]!),
    () => 1,
  ]);
  const total = sums.map((c) => c.reduce((a, v) => a + v, 0));
  return {
    baseline,
    accuracy_diff: total[0]! / total[2]!,
    accuracy_diff_ci: blockBootstrap(sums, (t) => t[0]! / t[2]!, o),
    log_loss_diff: total[1]! / total[2]!,
    log_loss_diff_ci: blockBootstrap(sums, (t) => t[1]! / t[2]!, o),
  };
}
