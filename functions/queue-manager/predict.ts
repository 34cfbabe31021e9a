/**
 * `POST /models/{id}/predict` (issue 14): scores a registered model on the latest stored data.
 * The decision time is the last bar every one of the model's symbols has stored; features are
 * the last `lags` returns up to it, the graph is the model's graph's latest snapshot taken at or
 * before it (no look-ahead, docs/analytics.md). TensorFlow.js loads on the first call only, so a
 * manager that never predicts never pays for it. Inputs that are not stored are a 409 that says
 * which; a model whose artifact cannot be read (gone, or its store unreachable) is a 409 too, with
 * the reason. Artifacts are read through the artifact-store port (shared/artifacts): a `file://`
 * or `s3://` URI, or a plain directory path from registries written before URIs.
 */
import { z } from '@hono/zod-openapi';
import { createArtifactStore } from '../../shared/artifacts/config.ts';
import type { ArtifactStore } from '../../shared/artifacts/store.ts';
import type { ModelInfo } from '../../shared/contracts/analytics.ts';
import { intervalMs } from '../../shared/contracts/common.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { seriesKey } from '../../shared/contracts/records.ts';
import { alignReturns } from '../../shared/analytics/graph.ts';
import { readBars } from '../../shared/analytics/klines.ts';
import { AppError, ConflictError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { Store } from '../../shared/store/store.ts';

export const PredictionSchema = z
  .object({
    model_id: z.string(),
    /** Decision time: close time of the last bar used (epoch ms). */
    time: z.number().int(),
    /** The snapshot of the model's graph in force at that time. */
    snapshot_t: z.number().int(),
    backend: z.string(),
    predictions: z.array(
      z.object({ symbol: z.string(), p_up: z.number().min(0).max(1), direction: z.enum(['up', 'down']) }),
    ),
  })
  .openapi('Prediction');
export type Prediction = z.infer<typeof PredictionSchema>;

export interface Predictor {
  predict(model: ModelInfo): Promise<Prediction>;
}

export interface PredictorDeps {
  store: Store;
  logger: Logger;
  /**
   * Where artifacts are read (shared/artifacts; main.ts builds it from ARTIFACT_*). Default: a
   * store that reads `file://` URIs and plain directory paths only.
   */
  artifacts?: ArtifactStore | undefined;
}

export function createPredictor(d: PredictorDeps): Predictor {
  const artifacts = d.artifacts ?? createArtifactStore({});
  return {
    async predict(model) {
      const interval = model.interval === '1M' ? null : model.interval;
      if (!interval) throw new ConflictError(`model ${model.model_id}: interval 1M is not supported`);
      const bar = intervalMs(interval);
      const lags = Number(model.params.lags ?? 5);
      const edgeMethod = typeof model.params.edge_method === 'string' ? model.params.edge_method : 'lead_lag';
      // The last bar every symbol has.
      const collection = canonicalCollection('kline');
      let last = Number.POSITIVE_INFINITY;
      for (const symbol of model.symbols) {
        const series = seriesKey({ market: model.market, symbol, dataset: `klines_${interval}` });
        const [s] = await d.store.seriesStats(collection, series).catch(() => []);
        if (!s)
          throw new ConflictError(`inputs not stored: ${model.market} ${symbol} has no klines_${interval}`);
        last = Math.min(last, s.last);
      }
      const end = last + bar;
      const start = end - (lags + 1) * bar;
      const bars = await readBars(d.store, {
        market: model.market,
        symbols: model.symbols,
        interval,
        start,
        end,
      });
      const returns = alignReturns(model.symbols, bars, { start, end, interval_ms: bar });
      const time = end; // close time of the last bar
      const graph = model.graph_id;
      const [snapshot] = await d.store.graphSnapshots(graph, { to: time + 1, limit: 1, newest: true });
      if (!snapshot)
        throw new ConflictError(
          `inputs not stored: graph ${graph} has no snapshot at or before ${new Date(time).toISOString()}`,
        );
      const { selectBackend } = await import('../../shared/analytics/gnn/backend.ts');
      const { loadModel } = await import('../../shared/analytics/gnn/artifact.ts');
      const { predictLatest } = await import('../../shared/analytics/gnn/predict.ts');
      const { tf, backend } = await selectBackend();
      let net;
      try {
        net = await loadModel(tf, artifacts, model.artifact);
      } catch (err) {
        // Missing, unreachable store, or not a model: the caller can act on the reason (409).
        const reason = err instanceof Error ? err.message : String(err);
        d.logger.warn({ err: reason, model_id: model.model_id }, 'model artifact unreadable');
        throw new ConflictError(
          `model ${model.model_id}: its artifact at ${model.artifact} cannot be read: ${reason}`,
        );
      }
      try {
        const out = predictLatest(tf, net, returns, snapshot, {
          lags,
          feature_mean: model.feature_mean,
          feature_std: model.feature_std,
          edge_method: edgeMethod as never,
        });
        return {
          model_id: model.model_id,
          time,
          snapshot_t: snapshot.t,
          backend,
          predictions: out.map((p) => ({
            symbol: p.symbol,
            p_up: p.p_up,
            direction: p.p_up >= 0.5 ? 'up' : 'down',
          })),
        };
      } catch (err) {
        if (err instanceof AppError && err.status === 400)
          throw new ConflictError(`inputs not stored: ${err.message}`);
        throw err;
      } finally {
        net.dispose();
      }
    },
  };
}
