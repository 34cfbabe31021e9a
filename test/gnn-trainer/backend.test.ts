/**
 * Backend selection (shared/analytics/gnn/backend.ts): tfjs-node when installed, else wasm, else
 * cpu; idempotent; the wasm module's process-wide error listeners removed; the same model gives
 * the same numbers on every backend. The tfjs-node case runs only where that optional dependency
 * is installed.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import { selectBackend } from '../../shared/analytics/gnn/backend.ts';
import { buildGnn } from '../../shared/analytics/gnn/model.ts';
import { trainGnn } from '../../shared/analytics/gnn/train.ts';
import { GnnRequest } from '../../shared/contracts/analytics.ts';
import { fixedSnapshots, marketReturns } from './helpers.ts';

const hasTfjsNode = ((): boolean => {
  try {
    createRequire(import.meta.url).resolve('@tensorflow/tfjs-node');
    return true;
  } catch {
    return false;
  }
})();

const listeners = (): number[] => [
  process.listeners('uncaughtException').length,
  process.listeners('unhandledRejection').length,
];

describe('selectBackend', () => {
  it('auto picks the best available backend, once, and leaves no process-wide error listeners', async ({
    annotate,
  }) => {
    const before = listeners();
    const first = await selectBackend();
    await annotate(`backend: ${first.backend} (${first.note})`);
    expect(listeners()).toEqual(before);
    expect(await selectBackend('auto')).toBe(first);
    if (hasTfjsNode) expect(first.backend).toBe('tensorflow');
    else {
      expect(first.backend).toBe('wasm');
      expect(first.note).toMatch(
        /@tensorflow\/tfjs-node is not available .*; wasm backend \(SIMD on, threads off\)/,
      );
    }
    expect(first.tf.getBackend()).toBe(first.backend);
  });

  it('cpu computes what the selected backend computes, and auto switches back', async () => {
    const auto = await selectBackend();
    const { tf } = auto;
    const model = buildGnn(tf, { architecture: 'gat', lags: 3, hidden: 6, heads: 2, seed: 9 });
    const x = Array.from({ length: 2 * 5 * 3 }, (_, j) => Math.sin(j));
    const a = Array.from({ length: 2 * 5 * 5 }, (_, j) =>
      j % 7 === 0 ? 0 : j % 3 === 0 ? -0.4 : j % 4 === 0 ? 0.3 : 0,
    );
    const predict = (): number[] =>
      tf.tidy(() =>
        Array.from(
          (
            model.predict([tf.tensor3d(x, [2, 5, 3]), tf.tensor3d(a, [2, 5, 5])]) as never as {
              dataSync(): Float32Array;
            }
          ).dataSync(),
        ),
      );
    const onAuto = predict();
    const cpu = await selectBackend('cpu');
    expect(cpu.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const onCpu = predict();
    onCpu.forEach((v, j) => expect(v).toBeCloseTo(onAuto[j]!, 5));
    expect((await selectBackend()).backend).toBe(auto.backend);
    expect(tf.getBackend()).toBe(auto.backend);
    model.dispose();
  });

  it.skipIf(hasTfjsNode)('asking for tensorflow without tfjs-node says why', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(/@tensorflow\/tfjs-node is not available/);
  });

  it.skipIf(!hasTfjsNode)(
    'trains on tfjs-node',
    async () => {
      const market = syntheticMarket({ symbols: 9, bars: 2500, seed: 7 });
      const returns = marketReturns(market);
      const r = await trainGnn({
        returns,
        snapshots: fixedSnapshots(returns, market.edges),
        request: GnnRequest.parse({ graph_id: 'g', architecture: 'gcn', hidden: 8, epochs: 30, patience: 5 }),
        backend: 'tensorflow',
      });
      r.model.dispose();
      expect(r.backend).toBe('tensorflow');
      expect(r.comparisons.find((c) => c.baseline === 'mlp')!.accuracy_diff_ci[0]).toBeGreaterThan(0);
    },
    60_000,
  );
});
