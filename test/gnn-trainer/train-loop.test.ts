/**
 * The training loop's guarantees (shared/analytics/gnn/train.ts, fit.ts): one seed gives the same
 * weights and metrics to the last digit, another seed other weights; tensors do not pile up per
 * epoch and none survive but the returned model's; an abort stops between epochs and cleans up;
 * a method without edges trains (the GNN then has only its own lags) and says so.
 */
import type * as TF from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import { selectBackend, type Tf } from '../../shared/analytics/gnn/backend.ts';
import { trainGnn, type TrainOptions, type TrainResult } from '../../shared/analytics/gnn/train.ts';
import { GnnRequest } from '../../shared/contracts/analytics.ts';
import { fixedSnapshots, marketReturns } from './helpers.ts';

const market = syntheticMarket({ symbols: 6, bars: 900, seed: 5 });
const returns = marketReturns(market);
const snapshots = fixedSnapshots(returns, market.edges, { step: 24 });
const small = (o: Partial<GnnRequest> = {}, extra: Partial<TrainOptions> = {}): Promise<TrainResult> =>
  trainGnn({
    returns,
    snapshots,
    request: GnnRequest.parse({ graph_id: 'g', hidden: 6, epochs: 4, patience: 100, seed: 42, ...o }),
    resamples: 200,
    ...extra,
  });

const weightsOf = (m: TF.LayersModel): Float32Array[] =>
  m.getWeights().map((w) => w.dataSync() as Float32Array);

let tf: Tf;
beforeAll(async () => {
  ({ tf } = await selectBackend());
});

describe.each(['gcn', 'gat'] as const)('%s training', (architecture) => {
  it('repeats to the last digit with one seed and differs with another', async () => {
    const [a, b, c] = [
      await small({ architecture }),
      await small({ architecture }),
      await small({ architecture, seed: 43 }),
    ];
    try {
      expect(weightsOf(a.model)).toEqual(weightsOf(b.model));
      const { model: _ma, epoch_ms: _ta, ...restA } = a;
      const { model: _mb, epoch_ms: _tb, ...restB } = b;
      expect(restA).toEqual(restB);
      const wa = weightsOf(a.model);
      const wc = weightsOf(c.model);
      expect(wa.map((w) => w.length)).toEqual(wc.map((w) => w.length));
      expect(wa.some((w, j) => w.some((v, k) => v !== wc[j]![k]))).toBe(true);
      expect(c.metrics).not.toEqual(a.metrics);
    } finally {
      [a, b, c].forEach((r) => r.model.dispose());
    }
  }, 30_000);
});

describe('resources', () => {
  it('tensors stay flat over epochs, and only the model survives training', async () => {
    const before = tf.memory().numTensors;
    const counts: number[] = [];
    const r = await small({ epochs: 6 }, { onEpoch: () => counts.push(tf.memory().numTensors) });
    expect(counts).toHaveLength(6);
    expect(new Set(counts.slice(1)).size).toBe(1);
    const held = r.model.getWeights().length;
    expect(tf.memory().numTensors - before).toBe(held);
    r.model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  }, 30_000);

  it('an abort stops between epochs, rejects with the reason and leaks nothing', async () => {
    const before = tf.memory().numTensors;
    const ctl = new AbortController();
    const epochs: number[] = [];
    const run = small(
      { epochs: 50 },
      {
        signal: ctl.signal,
        onEpoch: (p) => {
          epochs.push(p.epoch);
          if (p.epoch === 2) ctl.abort(new Error('stop here'));
        },
      },
    );
    await expect(run).rejects.toThrow('stop here');
    expect(epochs).toEqual([1, 2]);
    expect(tf.memory().numTensors).toBe(before);
  }, 30_000);
});

describe('a method without edges', () => {
  it('trains (the GNN sees only each asset’s own lags) and says so in the notes', async () => {
    const r = await small({ edge_method: 'spearman' });
    r.model.dispose();
    expect(r.notes.join('\n')).toMatch(/no 'spearman' edges in any snapshot used/);
    expect(r.notes[0]).toMatch(/^backend: /);
  }, 30_000);
});
