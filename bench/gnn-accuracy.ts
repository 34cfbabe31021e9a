/**
 * Accuracy table on the synthetic market with a known graph (issue 14): the GNN (gcn, gat) fed the
 * graph-builder's own lead-lag snapshots and fed the true graph, every baseline of the same run
 * (persistence, momentum, logistic, MLP), and the oracle — the generating rule itself with its true
 * edges and coefficients (functions/dummy-service/synthetic-market.ts):
 *
 *   E[r_i[k+1] | past] = Σ_{j→i} coef · r_j[k+1−lag]   (the factor and the noise have mean 0),
 *   P(up) = Φ(E / s_i), s_i the std-dev of r_i − E over the train span,
 *
 * the best any model can do on these returns; the gap between a model and the oracle is what it
 * leaves on the table. All on the same time-ordered test span (the last 20% of decision times).
 * Intervals: Wilson 95% for accuracy, block bootstrap for log loss (shared/analytics/gnn/metrics.ts).
 *
 *   npx tsx bench/gnn-accuracy.ts [--symbols 9] [--days 365] [--seed 7]
 */
import { parseArgs } from 'node:util';
import { syntheticMarket } from '../functions/dummy-service/synthetic-market.ts';
import { buildDataset, rowsOf } from '../shared/analytics/gnn/dataset.ts';
import { scoreModel } from '../shared/analytics/gnn/metrics.ts';
import { trainGnn, type TrainResult } from '../shared/analytics/gnn/train.ts';
import { buildSnapshots } from '../shared/analytics/graph.ts';
import {
  GnnRequest,
  graphParamsOf,
  GraphRequest,
  type GraphSnapshot,
  type ModelMetrics,
} from '../shared/contracts/analytics.ts';
import { fixedSnapshots, marketReturns } from '../test/gnn-trainer/helpers.ts';

const { values } = parseArgs({
  options: {
    symbols: { type: 'string', default: '9' },
    days: { type: 'string', default: '365' },
    seed: { type: 'string', default: '7' },
  },
});
const HOUR = 3_600_000;
const bars = Number(values.days) * 24;
const m = syntheticMarket({ symbols: Number(values.symbols), bars, seed: Number(values.seed) });
const returns = marketReturns(m);

// The builder's snapshots need the returns with their quote volumes; a fixed volume is enough here.
const aligned = { ...returns, quote_volume: returns.returns.map((r) => new Float64Array(r.length).fill(1)) };
aligned.returns = returns.returns.map((r) => {
  const c = Float64Array.from(r);
  c[0] = NaN; // bar 0 has no previous close
  return c;
});
const built = buildSnapshots(
  aligned,
  graphParamsOf(GraphRequest.parse({ interval: '1h', window: '30d', step: '1d', methods: ['lead_lag'] }), {
    symbols: m.symbols,
    market: 'spot',
    start: m.start,
    end: m.start + bars * HOUR,
  }),
);
// The true graph, as snapshots at the same times as the built ones (same decision times, same split).
const truth = fixedSnapshots(returns, m.edges, { first: 0, step: 24 }).filter((s) => s.t >= built[0]!.t);

const request = (architecture: 'gcn' | 'gat'): GnnRequest =>
  GnnRequest.parse({ graph_id: 'bench', architecture, hidden: 8, epochs: 60, patience: 8, seed: 42 });

const rowsTable: Record<string, Record<string, string>> = {};
const pct = (v: number | null | undefined): string => (v == null ? '' : (100 * v).toFixed(1));
const row = (name: string, mm: ModelMetrics, followers?: number | null, others?: number | null): void => {
  rowsTable[name] = {
    'accuracy %': pct(mm.accuracy),
    '95% CI': `[${pct(mm.accuracy_ci[0])}, ${pct(mm.accuracy_ci[1])}]`,
    'log loss': mm.log_loss.toFixed(4),
    IC: mm.ic.toFixed(3),
    'followers %': pct(followers),
    'others %': pct(others),
  };
};

async function train(architecture: 'gcn' | 'gat', snapshots: GraphSnapshot[]): Promise<TrainResult> {
  const r = await trainGnn({
    returns,
    snapshots,
    request: request(architecture),
    backend: 'wasm',
    truth: { edges: m.edges },
  });
  r.model.dispose();
  return r;
}

const t0 = performance.now();
const runs: [string, TrainResult][] = [];
for (const architecture of ['gcn', 'gat'] as const) {
  runs.push([`${architecture}, built lead-lag graph`, await train(architecture, built)]);
  runs.push([`${architecture}, true graph`, await train(architecture, truth)]);
}
const first = runs[0]![1];
for (const b of ['persistence', 'momentum', 'logistic', 'mlp'])
  row(b, first.baselines[b]!, first.truth!.accuracy[b]!.receivers, first.truth!.accuracy[b]!.others);
for (const [name, r] of runs)
  row(name, r.metrics, r.truth!.accuracy['gnn']!.receivers, r.truth!.accuracy['gnn']!.others);

// The oracle on the same test rows.
const ds = buildDataset(returns, built, request('gcn'));
const n = ds.symbols.length;
const incoming = ds.symbols.map((s) =>
  m.edges
    .filter((e) => e.target === s)
    .map((e) => ({ j: ds.symbols.indexOf(e.source), lag: e.lag, coef: e.coef })),
);
const expected = (i: number, k: number): number =>
  incoming[i]!.reduce((s, e) => s + e.coef * (returns.returns[e.j]![k + 1 - e.lag] ?? 0), 0);
const scale = ds.symbols.map((_, i) => {
  let ss = 0;
  let c = 0;
  for (let q = ds.split.train[0]; q < ds.split.train[1]; q++) {
    const k = ds.index[q]!;
    ss += (returns.returns[i]![k + 1]! - expected(i, k)) ** 2;
    c++;
  }
  return Math.sqrt(ss / c);
});
const phi = (z: number): number => 0.5 * (1 + erf(z / Math.SQRT2));
function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7), enough for a probability scored by log loss.
  const s = Math.sign(x);
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return s * y;
}
const rows = rowsOf(ds, ds.split.test);
const p = Float64Array.from(rows.q, (q, j) => phi(expected(rows.i[j]!, ds.index[q]!) / scale[rows.i[j]!]!));
const y = Uint8Array.from(rows.q, (q, j) => ds.y[q * n + rows.i[j]!]!);
const oracle = scoreModel(
  { time: rows.q, p, y, next: Float64Array.from(rows.q, (q, j) => ds.next[q * n + rows.i[j]!]!) },
  { seed: 42 },
);
const receivers = new Set(m.edges.map((e) => e.target));
const split = { rh: 0, rn: 0, oh: 0, on: 0 };
rows.q.forEach((_, j) => {
  const hit = (p[j]! >= 0.5 ? 1 : 0) === y[j] ? 1 : 0;
  if (receivers.has(ds.symbols[rows.i[j]!]!)) {
    split.rn++;
    split.rh += hit;
  } else {
    split.on++;
    split.oh += hit;
  }
});
row('oracle (true rule and coefficients)', oracle, split.rh / split.rn, split.oh / split.on);

console.log(
  `synthetic market: ${n} assets (${receivers.size} followers of ${new Set(m.edges.map((e) => e.source)).size} leaders), ` +
    `${bars} bars of 1h, seed ${values.seed}; built graph: ${built.length} lead-lag snapshots (30d window, daily); ` +
    `test span ${rows.q.length} predictions; backend ${first.backend}; ${((performance.now() - t0) / 1000).toFixed(0)} s`,
);
console.table(rowsTable);
const gap = (name: string): string => {
  const r = runs.find(([k]) => k === name)![1];
  return `${name} reaches ${((100 * (r.metrics.accuracy - 0.5)) / (oracle.accuracy - 0.5)).toFixed(0)}% of the oracle's edge over a coin`;
};
console.log(runs.map(([k]) => gap(k)).join('; '));
