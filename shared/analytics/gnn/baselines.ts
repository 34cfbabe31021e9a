/**
 * What the GNN must beat (issue 15), on the same split and the same test predictions. None of
 * them sees another asset, so a GNN that wins has learnt something from the graph:
 *
 * - persistence: the sign of the last return; momentum: the sign of the sum of the last L returns.
 *   Both are calibrated on the train span — P(up | signal up) and P(up | signal down), Laplace
 *   smoothed; no signal (returns missing) → the train span's up-rate;
 * - logistic: logistic regression of the label on the asset's own L standardised lags, pooled over
 *   assets, fitted by IRLS (Newton) with a tiny ridge — deterministic, no seed needed;
 * - mlp: the GNN's encoder and head without the graph (model.ts `buildMlp`), trained by the same
 *   loop as the GNN (fit.ts: seeded, early stopping on validation).
 */
import type { Tf } from './backend.ts';
import type { GnnDataset, ReturnsInput, Rows } from './dataset.ts';
import { fit, predictSpan, type FitOptions } from './fit.ts';
import { buildMlp } from './model.ts';

type Signal = (q: number, i: number) => number; // > 0 up, < 0 down (≤ 0 counts as down), NaN none

function calibrated(ds: GnnDataset, rows: Rows, signal: Signal): Float64Array {
  const n = ds.symbols.length;
  const c = { upUp: 0, up: 0, downUp: 0, down: 0, all: 0, allUp: 0 };
  for (let q = ds.split.train[0]; q < ds.split.train[1]; q++)
    for (let i = 0; i < n; i++) {
      if (ds.targetMask[q * n + i] !== 1) continue;
      const y = ds.y[q * n + i]!;
      const s = signal(q, i);
      c.all++;
      c.allUp += y;
      if (Number.isNaN(s)) continue;
      if (s > 0) {
        c.up++;
        c.upUp += y;
      } else {
        c.down++;
        c.downUp += y;
      }
    }
  const pUp = (c.upUp + 1) / (c.up + 2);
  const pDown = (c.downUp + 1) / (c.down + 2);
  const base = (c.allUp + 1) / (c.all + 2);
  return Float64Array.from(rows.q, (q, j) => {
    const s = signal(q, rows.i[j]!);
    return Number.isNaN(s) ? base : s > 0 ? pUp : pDown;
  });
}

/** Sign of the last return (r[k]), calibrated on the train span. */
export function persistence(ds: GnnDataset, returns: ReturnsInput, rows: Rows): Float64Array {
  return calibrated(ds, rows, (q, i) => returns.returns[i]![ds.index[q]!]!);
}

/** Sign of the sum of the last L returns (missing ones skipped; all missing → no signal). */
export function momentum(ds: GnnDataset, returns: ReturnsInput, rows: Rows): Float64Array {
  return calibrated(ds, rows, (q, i) => {
    const r = returns.returns[i]!;
    const k = ds.index[q]!;
    let sum = 0;
    let present = 0;
    for (let l = 0; l < ds.lags; l++) {
      const v = r[k - l]!;
      if (Number.isNaN(v)) continue;
      present++;
      sum += v;
    }
    return present > 0 ? sum : NaN;
  });
}

/** Logistic regression on [1, own L lags], pooled over assets, by IRLS with ridge λ (not on the intercept). */
export function logistic(ds: GnnDataset, rows: Rows, lambda = 1e-3, iterations = 50): Float64Array {
  const n = ds.symbols.length;
  const d = ds.lags + 1;
  const feature = (q: number, i: number, f: number): number =>
    f === 0 ? 1 : ds.x[(q * n + i) * ds.lags + f - 1]!;
  let beta = new Float64Array(d);
  for (let it = 0; it < iterations; it++) {
    const g = new Float64Array(d);
    const h = new Float64Array(d * d);
    for (let q = ds.split.train[0]; q < ds.split.train[1]; q++)
      for (let i = 0; i < n; i++) {
        if (ds.targetMask[q * n + i] !== 1) continue;
        let z = 0;
        for (let f = 0; f < d; f++) z += beta[f]! * feature(q, i, f);
        const p = 1 / (1 + Math.exp(-z));
        const w = p * (1 - p);
        const e = ds.y[q * n + i]! - p;
        for (let a = 0; a < d; a++) {
          const fa = feature(q, i, a);
          g[a]! += e * fa;
          for (let b = 0; b <= a; b++) h[a * d + b]! += w * fa * feature(q, i, b);
        }
      }
    for (let a = 1; a < d; a++) {
      g[a]! -= lambda * beta[a]!;
      h[a * d + a]! += lambda;
    }
    for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) h[b * d + a] = h[a * d + b]!;
    const step = solve(h, g, d);
    beta = beta.map((v, f) => v + step[f]!);
    if (step.reduce((m, v) => Math.max(m, Math.abs(v)), 0) < 1e-10) break;
  }
  return Float64Array.from(rows.q, (q, j) => {
    let z = 0;
    for (let f = 0; f < d; f++) z += beta[f]! * feature(q, rows.i[j]!, f);
    return 1 / (1 + Math.exp(-z));
  });
}

/** Solve H x = g (H symmetric positive definite, small) by Gaussian elimination with pivoting. */
function solve(h: Float64Array, g: Float64Array, d: number): Float64Array {
  const m = Array.from({ length: d }, (_, r) => [...h.subarray(r * d, r * d + d), g[r]!]);
  for (let c = 0; c < d; c++) {
    let p = c;
    for (let r = c + 1; r < d; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const pivot = m[c]![c]!;
    if (pivot === 0) continue;
    for (let r = 0; r < d; r++) {
      if (r === c) continue;
      const f = m[r]![c]! / pivot;
      for (let k = c; k <= d; k++) m[r]![k]! -= f * m[c]![k]!;
    }
  }
  return Float64Array.from({ length: d }, (_, r) => (m[r]![r]! === 0 ? 0 : m[r]![d]! / m[r]![r]!));
}

export type MlpOptions = Omit<FitOptions, 'tf' | 'model' | 'ds' | 'graph'> & { hidden: number };

/** The MLP baseline: trains, predicts the rows, disposes the model. */
export async function mlp(tf: Tf, ds: GnnDataset, rows: Rows, o: MlpOptions): Promise<Float64Array> {
  const model = buildMlp(tf, { lags: ds.lags, hidden: o.hidden, seed: o.seed });
  try {
    await fit({ ...o, tf, model, ds, graph: false });
    const [start] = ds.split.test;
    const p = predictSpan(tf, model, ds, ds.split.test, false);
    const n = ds.symbols.length;
    return Float64Array.from(rows.q, (q, j) => p[(q - start) * n + rows.i[j]!]!);
  } finally {
    model.dispose();
  }
}
