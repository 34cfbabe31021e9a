/**
 * gnn-trainer's run (issue 14): one `gnn_train` command → one trained, evaluated, registered
 * model. It reads the graph's snapshots and the klines of its symbols from the store, trains the
 * GNN and its baselines on one time-ordered split (shared/analytics/gnn), writes the tfjs
 * artifact through the artifact store (a directory or an S3-compatible bucket), and reports: `started`, training progress (epoch, loss, validation accuracy) on
 * queue-events, and a final `completed` event that carries the model's registry entry (the
 * manager stores it: this Job only publishes). Bad or missing inputs end the workflow in `error`
 * with a message saying what is missing.
 */
import { ArtifactUnavailableError, type ArtifactStore } from '../../shared/artifacts/store.ts';
import type { Publisher } from '../../shared/bus/event-bus.ts';
import type { ModelInfo } from '../../shared/contracts/analytics.ts';
import { intervalMs } from '../../shared/contracts/common.ts';
import { QueueCommand } from '../../shared/contracts/workflow.ts';
import { alignReturns } from '../../shared/analytics/graph.ts';
import { readBars } from '../../shared/analytics/klines.ts';
import { createRegistry } from '../../shared/analytics/registry.ts';
import { saveModel } from '../../shared/analytics/gnn/artifact.ts';
import { trainGnn } from '../../shared/analytics/gnn/train.ts';
import { createReporter } from '../../shared/loader/reporter.ts';
import { AppError, InvalidInputError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { Store } from '../../shared/store/store.ts';
import { FUNCTION_NAME } from './schema.ts';

export type ExitCode = 0 | 1 | 2;

export interface TrainerDeps {
  bus: Publisher;
  store: Store;
  logger: Logger;
  /** Where the model's artifact goes (a directory or an S3-compatible bucket, shared/artifacts). */
  artifacts: ArtifactStore;
  backend: 'auto' | 'tensorflow' | 'wasm' | 'cpu';
  progressIntervalMs: number;
  now?: () => number;
}

export async function runTraining(
  commandJson: string | undefined,
  d: TrainerDeps,
  signal: AbortSignal,
): Promise<ExitCode> {
  const now = d.now ?? Date.now;
  if (!commandJson) {
    d.logger.error('no command: STREAMFORGE_COMMAND is not set');
    return 2;
  }
  let cmd: QueueCommand;
  try {
    cmd = QueueCommand.parse(JSON.parse(commandJson));
  } catch (err) {
    d.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'invalid command');
    return 2;
  }
  const log = d.logger.child({ queue_id: cmd.queue_id });
  const reporter = createReporter(d.bus, cmd, {
    firstSeq: 1,
    intervalMs: d.progressIntervalMs,
    now,
    producer: FUNCTION_NAME,
  });
  try {
    const request = cmd.gnn;
    if (!request) throw new InvalidInputError('a gnn_train command needs its `gnn` parameters');
    await reporter.started({ percent: 0 });
    const graph = await createRegistry(d.store).getGraph(request.graph_id);
    if (!graph) throw new InvalidInputError(`no graph ${request.graph_id} is stored`);
    if (graph.interval === '1M') throw new InvalidInputError('graphs of 1M bars cannot be trained on');
    const snapshots = await d.store.graphSnapshots(graph.graph_id, { limit: 1_000_000 });
    if (snapshots.length === 0) throw new InvalidInputError(`graph ${graph.graph_id} has no snapshots`);
    // The artifact store is checked before training, so a store that is down costs no training.
    const uri = d.artifacts.uriFor(cmd.queue_id);
    await d.artifacts.list(uri);
    const bars = await readBars(d.store, graph);
    const returns = alignReturns(graph.symbols, bars, {
      start: graph.start,
      end: graph.end,
      interval_ms: intervalMs(graph.interval),
    });
    const result = await trainGnn({
      returns,
      snapshots,
      request,
      backend: d.backend,
      signal,
      onEpoch: (p) => {
        void reporter
          .progress({ training: p, percent: Math.min(99, Math.floor((100 * p.epoch) / p.epochs)) })
          .catch((err: unknown) => log.warn({ err }, 'progress report failed'));
      },
    });
    const saved = await saveModel(result.model, d.artifacts, uri);
    const model: ModelInfo = {
      model_id: cmd.queue_id,
      queue_id: cmd.queue_id,
      graph_id: graph.graph_id,
      architecture: request.architecture,
      backend: result.backend,
      params: { ...request },
      symbols: graph.symbols,
      interval: graph.interval,
      market: graph.market,
      ranges: result.ranges,
      seed: request.seed,
      epochs_run: result.epochs_run,
      best_epoch: result.best_epoch,
      metrics: result.metrics,
      baselines: result.baselines,
      comparisons: result.comparisons,
      artifact: saved.uri,
      feature_mean: result.feature_mean,
      feature_std: result.feature_std,
      created_at: new Date(now()).toISOString(),
    };
    const mlp = result.comparisons.find((c) => c.baseline === 'mlp');
    const vs = mlp
      ? `; vs mlp ${(100 * mlp.accuracy_diff).toFixed(1)} pts [${(100 * mlp.accuracy_diff_ci[0]).toFixed(1)}, ${(100 * mlp.accuracy_diff_ci[1]).toFixed(1)}]`
      : '';
    log.info(
      {
        model_id: model.model_id,
        artifact: saved.uri,
        bytes: saved.bytes,
        backend: result.backend,
        metrics: result.metrics,
      },
      'model trained',
    );
    await reporter.completed(
      { percent: 100 },
      1,
      `trained ${request.architecture} on ${result.backend}: test accuracy ${(100 * result.metrics.accuracy).toFixed(1)}%${vs} (GET /models/${model.model_id})`,
      { model },
    );
    result.model.dispose();
    return 0;
  } catch (err) {
    if (signal.aborted) {
      // trainGnn rejects with the signal's reason between epochs.
      await reporter
        .cancelled('training cancelled')
        .catch((e: unknown) => log.error({ err: e }, 'could not report'));
      return 0;
    }
    const bad = err instanceof AppError && err.status < 500;
    const message = err instanceof Error ? err.message : String(err);
    if (bad) log.info({ err: message }, 'training refused');
    else log.error({ err }, 'training failed');
    const code = bad
      ? 'invalid_input'
      : err instanceof ArtifactUnavailableError
        ? 'artifact_store'
        : 'internal';
    await reporter
      .error({ code, message, source: FUNCTION_NAME })
      .catch((e: unknown) => log.error({ err: e }, 'could not report the error'));
    return bad ? 0 : 1;
  }
}
