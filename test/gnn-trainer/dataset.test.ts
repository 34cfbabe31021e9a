/**
 * The GNN's samples (shared/analytics/gnn/dataset.ts): no look-ahead (the adjacency at τ comes
 * from the latest snapshot stamped ≤ τ; returns after τ change nothing at τ), the adjacency's
 * direction and signs, the time-ordered split, and clear refusals of bad input.
 */
import { describe, expect, it } from 'vitest';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import { adjacencyOf, buildDataset, type ReturnsInput } from '../../shared/analytics/gnn/dataset.ts';
import {
  GnnRequest,
  type GraphEdge,
  type GraphMethod,
  type GraphSnapshot,
} from '../../shared/contracts/analytics.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';
import { fixedSnapshots, marketReturns } from './helpers.ts';

const market = syntheticMarket({ symbols: 6, bars: 600, seed: 3 });
const returns = marketReturns(market);
// A snapshot every 24 bars from bar 30, so early decision times have none.
const snapshots = fixedSnapshots(returns, market.edges, { first: 30, step: 24 });
const request = GnnRequest.parse({ graph_id: 'g', lags: 4 });

const copy = (r: ReturnsInput): ReturnsInput => ({
  ...r,
  returns: r.returns.map((s) => Float64Array.from(s)),
});

const invalid = (f: () => unknown, message: RegExp): void => {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(InvalidInputError);
  expect((err as Error).message).toMatch(message);
};

describe('buildDataset', () => {
  const ds = buildDataset(returns, snapshots, request);
  const n = ds.symbols.length;

  it('uses, at every decision time, the latest snapshot stamped at or before it', () => {
    expect(ds.skipped).toBe(30 - (request.lags - 1)); // decision indices 3..29 precede the first snapshot
    for (let q = 0; q < ds.size; q++) {
      const t = ds.adjacencyT[ds.graph[q]!]!;
      expect(t).toBeLessThanOrEqual(ds.times[q]!);
      const later = snapshots.find((s) => s.t > t);
      if (later) expect(later.t).toBeGreaterThan(ds.times[q]!);
      expect(ds.times[q]).toBe(returns.times[ds.index[q]!]);
    }
  });

  it('features are r[k−L+1..k] standardised, the label is r[k+1] > 0', () => {
    const q = 100;
    const k = ds.index[q]!;
    for (let i = 0; i < n; i++) {
      for (let l = 0; l < ds.lags; l++) {
        const raw = returns.returns[i]![k - ds.lags + 1 + l]!;
        expect(ds.x[(q * n + i) * ds.lags + l]).toBeCloseTo((raw - ds.feature_mean) / ds.feature_std, 5);
      }
      expect(ds.next[q * n + i]).toBe(returns.returns[i]![k + 1]);
      expect(ds.y[q * n + i]).toBe(returns.returns[i]![k + 1]! > 0 ? 1 : 0);
    }
  });

  it('changing returns and snapshots after τ changes nothing at τ', () => {
    const q = ds.split.test[0] + 5;
    const k = ds.index[q]!;
    const altered = copy(returns);
    for (const r of altered.returns) for (let j = k + 1; j < r.length; j++) r[j] = r[j]! * -3 + 0.01;
    const laterSnaps = snapshots.map((s) =>
      s.t > ds.times[q]! ? { ...s, edges: s.edges.map((e) => ({ ...e, weight: -e.weight })) } : s,
    );
    const other = buildDataset(altered, laterSnaps, request);
    expect(other.index[q]).toBe(k);
    expect(other.feature_mean).toBe(ds.feature_mean); // the scaler is learnt on the train span only
    expect(other.feature_std).toBe(ds.feature_std);
    const per = n * ds.lags;
    expect(other.x.subarray(q * per, (q + 1) * per)).toEqual(ds.x.subarray(q * per, (q + 1) * per));
    expect(other.adjacency[other.graph[q]!]).toEqual(ds.adjacency[ds.graph[q]!]);
    // …while the label, which is r[k+1], did change: the alteration was real.
    expect(other.next.subarray(q * n, (q + 1) * n)).not.toEqual(ds.next.subarray(q * n, (q + 1) * n));
  });

  it('splits in time order, train first', () => {
    const { train, validation, test } = ds.split;
    expect(train[0]).toBe(0);
    expect(validation[0]).toBe(train[1]);
    expect(test[0]).toBe(validation[1]);
    expect(test[1]).toBe(ds.size);
    expect((train[1] - train[0]) / ds.size).toBeCloseTo(0.7, 2);
    expect(ds.times[train[1] - 1]!).toBeLessThan(ds.times[validation[0]]!);
  });

  it('marks missing returns: feature 0 with mask 0, target mask 0', () => {
    const gappy = copy(returns);
    const k = ds.index[200]!;
    gappy.returns[2]![k] = NaN; // the newest lag of sample 200 and the label of sample 199
    const g = buildDataset(gappy, snapshots, request);
    const j = (200 * n + 2) * g.lags + g.lags - 1;
    expect(g.x[j]).toBe(0);
    expect(g.featureMask[j]).toBe(0);
    expect(g.featureMask[j - 1]).toBe(1);
    expect(g.targetMask[199 * n + 2]).toBe(0);
    expect(g.targetMask[199 * n + 1]).toBe(1);
  });
});

describe('adjacencyOf', () => {
  const position = new Map(['A', 'B', 'C'].map((s, i) => [s, i]));
  const e = (source: string, target: string, method: GraphMethod, weight: number): GraphEdge => ({
    source,
    target,
    method,
    lag: method === 'lead_lag' ? 1 : 0,
    weight,
    sign: weight < 0 ? -1 : 1,
    p_value: 0.001,
    n: 100,
  });
  const snap = (edges: GraphEdge[]): GraphSnapshot => ({ t: 0, window_start: 0, vertices: [], edges });

  it('lead_lag: row = follower, column = leader, signed; other methods are left out', () => {
    const a = adjacencyOf(
      snap([e('A', 'B', 'lead_lag', -0.35), e('A', 'C', 'pearson', 0.9)]),
      position,
      'lead_lag',
    );
    expect(Array.from(a)).toEqual([0, 0, 0, Math.fround(-0.35), 0, 0, 0, 0, 0]);
  });

  it('undirected methods are symmetric; of two edges on one pair the strongest wins', () => {
    const a = adjacencyOf(
      snap([e('A', 'C', 'pearson', 0.5), e('A', 'C', 'pearson', -0.75), e('B', 'B', 'pearson', 1)]),
      position,
      'pearson',
    );
    expect(Array.from(a)).toEqual([0, 0, -0.75, 0, 0, 0, -0.75, 0, 0]);
  });
});

describe('bad input', () => {
  it('too few decision times: says how many there are and how many are needed', () => {
    const small = marketReturns(syntheticMarket({ symbols: 3, bars: 80, seed: 1 }));
    invalid(
      () => buildDataset(small, fixedSnapshots(small, []), request),
      /too few decision times: 76 usable .* give 53 train \/ 8 validation \/ 15 test; needed at least 50 \/ 10 \/ 10/,
    );
  });

  it('a non-finite return names the symbol and the time', () => {
    const bad = copy(returns);
    bad.returns[4]![300] = Infinity;
    invalid(
      () => buildDataset(bad, snapshots, request),
      new RegExp(`${returns.symbols[4]} at ${new Date(returns.times[300]!).toISOString()}: return Infinity`),
    );
  });

  it('a NaN edge weight names the edge and the snapshot', () => {
    const bad = snapshots.map((s, j) =>
      j === 3 ? { ...s, edges: s.edges.map((e, m) => (m === 1 ? { ...e, weight: NaN } : e)) } : s,
    );
    const edge = snapshots[3]!.edges[1]!;
    invalid(
      () => buildDataset(returns, bad, request),
      new RegExp(`snapshot ${new Date(snapshots[3]!.t).toISOString()}: edge ${edge.source} → ${edge.target}`),
    );
  });

  it('an asset without any return in the train span is named', () => {
    const bad = copy(returns);
    bad.returns[1]!.fill(NaN, 0, 450);
    invalid(
      () => buildDataset(bad, snapshots, request),
      new RegExp(`${returns.symbols[1]} has no return in the train span`),
    );
  });

  it('an unknown edge method is refused with the known ones', () => {
    invalid(
      () => buildDataset(returns, snapshots, { ...request, edge_method: 'granger' as GraphMethod }),
      /unknown edge method 'granger'; expected one of pearson, spearman, lead_lag, partial/,
    );
  });

  it('edges on unknown symbols, or lagged beyond the features, are said', () => {
    const odd = snapshots.map((sn) => ({
      ...sn,
      edges: [...sn.edges.map((e) => ({ ...e, lag: 6 })), { ...sn.edges[0]!, source: 'ZZZUSDT' }],
    }));
    const notes = buildDataset(returns, odd, request).notes.join('\n');
    expect(notes).toMatch(new RegExp(`^${odd.length} edges name symbols outside the returns`, 'm'));
    expect(notes).toMatch(
      new RegExp(`^${odd.length * market.edges.length} edges have a lag beyond the 4 lags`, 'm'),
    );
    expect(buildDataset(returns, snapshots, request).notes).toEqual([]);
  });

  it('a known method without edges is allowed, and said', () => {
    const ds = buildDataset(returns, snapshots, { ...request, edge_method: 'partial' });
    expect(ds.adjacency.every((a) => a.every((w) => w === 0))).toBe(true);
    expect(ds.notes.join(' ')).toMatch(/no 'partial' edges .* the GNN reduces to a per-asset network/);
  });
});
