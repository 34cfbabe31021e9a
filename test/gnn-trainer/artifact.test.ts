/**
 * A trained model's life after training (shared/analytics/gnn/artifact.ts, predict.ts): saved as
 * model.json + weights.bin through the artifact store's directory adapter and loaded back with its custom graph layers, it predicts the same
 * numbers bit for bit; `predictLatest` builds the same features as training did; and it refuses
 * a snapshot from the future or an asset without its last returns.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import { loadModel, saveModel } from '../../shared/analytics/gnn/artifact.ts';
import { createDirectoryStore } from '../../shared/artifacts/directory.ts';
import { selectBackend, type Tf } from '../../shared/analytics/gnn/backend.ts';
import { buildDataset, type ReturnsInput } from '../../shared/analytics/gnn/dataset.ts';
import { predictSpan } from '../../shared/analytics/gnn/fit.ts';
import { predictLatest } from '../../shared/analytics/gnn/predict.ts';
import { trainGnn, type TrainResult } from '../../shared/analytics/gnn/train.ts';
import { GnnRequest } from '../../shared/contracts/analytics.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';
import { fixedSnapshots, marketReturns } from './helpers.ts';

const market = syntheticMarket({ symbols: 6, bars: 900, seed: 8 });
const returns = marketReturns(market);
const snapshots = fixedSnapshots(returns, market.edges, { step: 24 });
const upTo = (r: ReturnsInput, k: number): ReturnsInput => ({
  ...r,
  times: r.times.slice(0, k + 1),
  returns: r.returns.map((s) => s.slice(0, k + 1)),
});
const latestSnapshot = (t: number) => snapshots.filter((s) => s.t <= t).at(-1)!;

let tf: Tf;
let dir: string;
beforeAll(async () => {
  ({ tf } = await selectBackend());
  dir = await mkdtemp(path.join(tmpdir(), 'gnn-artifact-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe.each(['gcn', 'gat'] as const)('a trained %s', (architecture) => {
  const request = GnnRequest.parse({ graph_id: 'g', architecture, hidden: 6, epochs: 3, seed: 1 });
  let r: TrainResult;
  beforeAll(async () => {
    r = await trainGnn({ returns, snapshots, request, resamples: 100 });
  }, 30_000);
  afterAll(() => r.model.dispose());
  const opts = () => ({
    lags: request.lags,
    feature_mean: r.feature_mean,
    feature_std: r.feature_std,
    edge_method: request.edge_method,
  });

  it('saves and loads back to the same predictions, bit for bit', async () => {
    const store = createDirectoryStore(dir);
    const to = store.uriFor(architecture);
    const saved = await saveModel(r.model, store, to, { feature_mean: r.feature_mean, architecture });
    expect(saved.files).toEqual(['model.json', 'weights.bin']);
    const sizes = await Promise.all(
      saved.files.map(async (f) => (await stat(path.join(dir, architecture, f))).size),
    );
    expect(saved.bytes).toBe(sizes[0]! + sizes[1]!);
    // Registries written before URIs hold the plain directory path: it loads the same model.
    const old = await loadModel(tf, store, path.join(dir, architecture));
    expect(old.getWeights().length).toBe(r.model.getWeights().length);
    old.dispose();
    const loaded = await loadModel(tf, store, to);
    try {
      expect(loaded.getUserDefinedMetadata()).toEqual({ feature_mean: r.feature_mean, architecture });
      expect(loaded.getWeights().map((w) => w.dataSync())).toEqual(
        r.model.getWeights().map((w) => w.dataSync()),
      );
      for (const k of [700, 800, returns.times.length - 1]) {
        const input = upTo(returns, k);
        const snap = latestSnapshot(input.times[k]!);
        const want = predictLatest(tf, r.model, input, snap, opts());
        expect(predictLatest(tf, loaded, input, snap, opts())).toEqual(want);
      }
    } finally {
      loaded.dispose();
    }
  });

  it('predictLatest builds the features training used', () => {
    const ds = buildDataset(returns, snapshots, request);
    const q = ds.size - 1;
    const k = ds.index[q]!;
    const fromTraining = predictSpan(tf, r.model, ds, [q, q + 1], true);
    const latest = predictLatest(tf, r.model, upTo(returns, k), latestSnapshot(returns.times[k]!), opts());
    expect(latest.map((p) => p.time)).toEqual(latest.map(() => returns.times[k]));
    latest.forEach((p, i) => expect(p.p_up).toBeCloseTo(fromTraining[i]!, 6));
  });

  it('refuses a snapshot newer than the decision time, and an asset missing a recent return', () => {
    const input = upTo(returns, 700);
    const future = snapshots.find((s) => s.t > input.times[700]!)!;
    expect(() => predictLatest(tf, r.model, input, future, opts())).toThrow(
      /is newer than the decision time/,
    );
    input.returns[3]![698] = NaN;
    const run = () => predictLatest(tf, r.model, input, latestSnapshot(input.times[700]!), opts());
    expect(run).toThrow(InvalidInputError);
    expect(run).toThrow(new RegExp(`missing one of the last 5 returns at .*: ${returns.symbols[3]}$`));
  });
});
