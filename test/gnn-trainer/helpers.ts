/**
 * Fixtures of the GNN tests: the synthetic market (functions/dummy-service/synthetic-market.ts) as
 * the trainer's aligned returns, and graph snapshots built from its true edges, from random edges,
 * or estimated by lagged correlation over a trailing window (end-to-end realism, no look-ahead).
 */
import type { GraphEdge, GraphSnapshot } from '../../shared/contracts/analytics.ts';
import { prng, type SyntheticMarket, type TrueEdge } from '../../functions/dummy-service/synthetic-market.ts';
import type { ReturnsInput } from '../../shared/analytics/gnn/dataset.ts';

const HOUR = 3_600_000;

/** Returns stamped with their bar's close time: start + (k + 1)·interval. */
export function marketReturns(m: SyntheticMarket, interval_ms = HOUR): ReturnsInput {
  const bars = m.returns[0]!.length;
  return {
    symbols: m.symbols,
    interval_ms,
    times: Array.from({ length: bars }, (_, k) => m.start + (k + 1) * interval_ms),
    returns: m.returns.map((r) => Float64Array.from(r)),
  };
}

const edge = (e: TrueEdge, weight: number): GraphEdge => ({
  source: e.source,
  target: e.target,
  method: 'lead_lag',
  lag: e.lag,
  weight,
  sign: weight < 0 ? -1 : 1,
  p_value: 0,
  n: 0,
});

/** Snapshots every `step` bars from bar `first`, each holding `edges` as lead_lag edges (weight = coef). */
export function fixedSnapshots(
  r: ReturnsInput,
  edges: readonly TrueEdge[],
  o: { first?: number; step?: number } = {},
): GraphSnapshot[] {
  const out: GraphSnapshot[] = [];
  for (let k = o.first ?? 0; k < r.times.length; k += o.step ?? 24)
    out.push({
      t: r.times[k]!,
      window_start: r.times[0]! - r.interval_ms,
      vertices: [],
      edges: edges.map((e) => edge(e, Math.max(-1, Math.min(1, e.coef)))),
    });
  return out;
}

/** `count` random directed edges among the symbols (no self-loops), coefficients ±0.4. */
export function randomEdges(symbols: readonly string[], count: number, seed: number): TrueEdge[] {
  const rand = prng(seed);
  const seen = new Set<string>();
  const out: TrueEdge[] = [];
  while (out.length < count) {
    const s = symbols[Math.floor(rand() * symbols.length)]!;
    const t = symbols[Math.floor(rand() * symbols.length)]!;
    if (s === t || seen.has(`${s}>${t}`)) continue;
    seen.add(`${s}>${t}`);
    out.push({ source: s, target: t, lag: 1, coef: rand() < 0.5 ? 0.4 : -0.4 });
  }
  return out;
}

/**
 * Lead-lag edges estimated at every `step` bars from the trailing `window` returns (stamps in
 * (t − window, t]): Pearson correlation of r_j[k − 1] with r_i[k], kept when |ρ| > threshold.
 */
export function estimatedSnapshots(
  r: ReturnsInput,
  o: { window: number; step: number; threshold: number },
): GraphSnapshot[] {
  const out: GraphSnapshot[] = [];
  for (let end = o.window; end < r.times.length; end += o.step) {
    const edges: GraphEdge[] = [];
    r.symbols.forEach((source, j) =>
      r.symbols.forEach((target, i) => {
        if (i === j) return;
        const x: number[] = [];
        const y: number[] = [];
        for (let k = end - o.window + 1; k <= end; k++) {
          x.push(r.returns[j]![k - 1]!);
          y.push(r.returns[i]![k]!);
        }
        const rho = corr(x, y);
        if (Math.abs(rho) > o.threshold)
          edges.push({ ...edge({ source, target, lag: 1, coef: rho }, rho), n: x.length });
      }),
    );
    out.push({
      t: r.times[end]!,
      window_start: r.times[end - o.window + 1]! - r.interval_ms,
      vertices: [],
      edges,
    });
  }
  return out;
}

function corr(x: number[], y: number[]): number {
  const n = x.length;
  const mx = x.reduce((a, v) => a + v, 0) / n;
  const my = y.reduce((a, v) => a + v, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let k = 0; k < n; k++) {
    sxy += (x[k]! - mx) * (y[k]! - my);
    sxx += (x[k]! - mx) ** 2;
    syy += (y[k]! - my) ** 2;
  }
  return sxx > 0 && syy > 0 ? sxy / Math.sqrt(sxx * syy) : 0;
}
