/**
 * Train a GNN on aligned returns and graph snapshots and score it against its baselines
 * (issue 15): the library behind the gnn-trainer function — no HTTP, no store.
 *
 *   returns + snapshots → dataset (dataset.ts) → GNN fit (fit.ts) → test predictions
 *   → the same test predictions from persistence, momentum, logistic and MLP (baselines.ts)
 *   → metrics with intervals and block-bootstrap comparisons (metrics.ts)
 *
 * The caller owns the returned model (dispose it, or save it with artifact.ts).
 */
import type * as TF from '@tensorflow/tfjs';
import type {
  Comparison,
  GnnRequest,
  GraphSnapshot,
  ModelMetrics,
  TrainingProgress,
} from '../../contracts/analytics.ts';
import { InvalidInputError } from '../../runtime/errors.ts';
import { selectBackend, type BackendPreference } from './backend.ts';
import { logistic, mlp, momentum, persistence } from './baselines.ts';
import { buildDataset, rowsOf, type ReturnsInput, type Rows, type GnnDataset } from './dataset.ts';
import { fit, predictSpan } from './fit.ts';
import { compare, scoreModel, type Scored } from './metrics.ts';
import { buildGnn } from './model.ts';

export type { ReturnsInput } from './dataset.ts';

export interface TrainOptions {
  returns: ReturnsInput;
  snapshots: GraphSnapshot[];
  request: GnnRequest;
  backend?: BackendPreference;
  onEpoch?: (p: TrainingProgress) => void;
  signal?: AbortSignal;
  /** Decision times per mini-batch (default 64). */
  batchSize?: number;
  /** Bootstrap resamples of every interval (default 1000). */
  resamples?: number;
  /**
   * The generating graph, when known (synthetic markets): test accuracy is then also reported
   * separately for the assets with a true incoming edge and for the others.
   */
  truth?: { edges: readonly { source: string; target: string }[] };
}

export interface TruthBreakdown {
  /** Assets with at least one true incoming edge. */
  receivers: string[];
  /** Per model (gnn and each baseline): test accuracy on receivers and on the other assets (null: none). */
  accuracy: Record<string, { receivers: number | null; others: number | null }>;
}

export interface TrainResult {
  backend: string;
  model: TF.LayersModel;
  metrics: ModelMetrics;
  baselines: Record<string, ModelMetrics>;
  comparisons: Comparison[];
  /** Decision times (epoch ms) of each span: [first, last]. */
  ranges: { train: [number, number]; validation: [number, number]; test: [number, number] };
  epochs_run: number;
  best_epoch: number;
  feature_mean: number;
  feature_std: number;
  /** Decision times skipped for want of a snapshot at or before them. */
  skipped: number;
  /** Mean wall time of a GNN epoch, ms. */
  epoch_ms: number;
  /** The backend's note and anything the caller should know (e.g. an empty adjacency). */
  notes: string[];
  truth?: TruthBreakdown;
}

export const BASELINES = ['persistence', 'momentum', 'logistic', 'mlp'] as const;

export async function trainGnn(o: TrainOptions): Promise<TrainResult> {
  const { tf, backend, note } = await selectBackend(o.backend ?? 'auto');
  const r = o.request;
  const ds = buildDataset(o.returns, o.snapshots, r);
  const rows = rowsOf(ds, ds.split.test);
  if (rows.q.length < 10)
    throw new InvalidInputError(`only ${rows.q.length} test predictions have a known next return; needed 10`);
  const common = {
    epochs: r.epochs,
    patience: r.patience,
    learningRate: r.learning_rate,
    batchSize: o.batchSize ?? 64,
    seed: r.seed,
    backend,
    signal: o.signal,
  };
  const model = buildGnn(tf, {
    architecture: r.architecture,
    lags: r.lags,
    hidden: r.hidden,
    heads: r.heads,
    seed: r.seed,
  });
  try {
    const fitted = await fit({ ...common, tf, model, ds, graph: true, onEpoch: o.onEpoch });
    const gnnP = select(predictSpan(tf, model, ds, ds.split.test, true), ds, rows);
    const predictions: Record<string, Float64Array> = {
      persistence: persistence(ds, o.returns, rows),
      momentum: momentum(ds, o.returns, rows),
      logistic: logistic(ds, rows),
      mlp: await mlp(tf, ds, rows, { ...common, hidden: r.hidden }),
    };
    const boot = { resamples: o.resamples ?? 1000, seed: r.seed };
    const gnn = scored(ds, rows, gnnP);
    const result: TrainResult = {
      backend,
      model,
      metrics: scoreModel(gnn, boot),
      baselines: Object.fromEntries(
        BASELINES.map((b) => [b, scoreModel(scored(ds, rows, predictions[b]!), boot)]),
      ),
      comparisons: BASELINES.map((b) => compare(b, gnn, scored(ds, rows, predictions[b]!), boot)),
      ranges: {
        train: span(ds, ds.split.train),
        validation: span(ds, ds.split.validation),
        test: span(ds, ds.split.test),
      },
      epochs_run: fitted.epochsRun,
      best_epoch: fitted.bestEpoch,
      feature_mean: ds.feature_mean,
      feature_std: ds.feature_std,
      skipped: ds.skipped,
      epoch_ms: fitted.epochMs,
      notes: [`backend: ${note}`, ...ds.notes],
    };
    if (o.truth !== undefined)
      result.truth = breakdown(ds, rows, { gnn: gnnP, ...predictions }, o.truth.edges);
    return result;
  } catch (err) {
    model.dispose();
    throw err;
  }
}

const span = (ds: GnnDataset, [start, end]: [number, number]): [number, number] => [
  ds.times[start]!,
  ds.times[end - 1]!,
];

function select(p: Float32Array, ds: GnnDataset, rows: Rows): Float64Array {
  const n = ds.symbols.length;
  const start = ds.split.test[0];
  return Float64Array.from(rows.q, (q, j) => p[(q - start) * n + rows.i[j]!]!);
}

function scored(ds: GnnDataset, rows: Rows, p: Float64Array): Scored {
  const n = ds.symbols.length;
  return {
    time: rows.q,
    p,
    y: Uint8Array.from(rows.q, (q, j) => ds.y[q * n + rows.i[j]!]!),
    next: Float64Array.from(rows.q, (q, j) => ds.next[q * n + rows.i[j]!]!),
  };
}

function breakdown(
  ds: GnnDataset,
  rows: Rows,
  predictions: Record<string, Float64Array>,
  edges: readonly { source: string; target: string }[],
): TruthBreakdown {
  const receivers = new Set(edges.map((e) => e.target));
  const n = ds.symbols.length;
  const accuracy: TruthBreakdown['accuracy'] = {};
  for (const [name, p] of Object.entries(predictions)) {
    const c = { rh: 0, rn: 0, oh: 0, on: 0 };
    rows.q.forEach((q, j) => {
      const i = rows.i[j]!;
      const hit = (p[j]! >= 0.5 ? 1 : 0) === ds.y[q * n + i] ? 1 : 0;
      if (receivers.has(ds.symbols[i]!)) {
        c.rn++;
        c.rh += hit;
      } else {
        c.on++;
        c.oh += hit;
      }
    });
    accuracy[name] = { receivers: c.rn > 0 ? c.rh / c.rn : null, others: c.on > 0 ? c.oh / c.on : null };
  }
  return { receivers: ds.symbols.filter((s) => receivers.has(s)), accuracy };
}
