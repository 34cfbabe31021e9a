/**
 * Contracts of the analytical stages (DESIGN.md "Functions": graph-builder, gnn-trainer):
 * what a `graph_build` and a `gnn_train` workflow ask for, and the shapes of what they store —
 * graph snapshots (vertices and edges) and trained models with their metrics.
 *
 * Time convention (no look-ahead, docs/analytics.md): a return is stamped with the CLOSE time of
 * its bar (open time + interval), the moment it becomes known. A snapshot stamped `t` was built
 * only from returns stamped ≤ t, i.e. its window is (t − window, t].
 */
import { z } from 'zod';
import { EpochMs, KlineInterval, Market, Symbol, intervalMs } from './common.ts';

/** Most symbols one graph takes (a dense N×N adjacency per snapshot is the GNN's input). */
export const MAX_GRAPH_SYMBOLS = 100;

/** A duration as people write it: `30d`, `12h`, `90m`, `2w`. */
export const DURATION_PATTERN = /^(\d{1,5})(m|h|d|w)$/;
const DURATION_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
export const Duration = z
  .string()
  .regex(DURATION_PATTERN, 'expected a duration such as 30d, 12h, 90m or 2w')
  .transform((s) => {
    const m = DURATION_PATTERN.exec(s)!;
    return Number(m[1]) * DURATION_MS[m[2] as keyof typeof DURATION_MS];
  });

export const GRAPH_METHODS = ['pearson', 'spearman', 'lead_lag', 'partial'] as const;
export const GraphMethod = z.enum(GRAPH_METHODS);
export type GraphMethod = z.infer<typeof GraphMethod>;

/** What a `graph_build` workflow builds (the request's `graph` object; symbols and range are the workflow's). */
export const GraphRequest = z.strictObject({
  /** Any fixed-length interval (not `1M`). */
  interval: KlineInterval.exclude(['1M'], { error: 'interval: a fixed length, 1s … 1w (not 1M)' }).default(
    '1h',
  ),
  /** Rolling window of each snapshot, e.g. `30d`; a whole number of intervals. */
  window: Duration.default(30 * 86_400_000),
  /** Distance between snapshot times, e.g. `1d`; a whole number of intervals. */
  step: Duration.default(86_400_000),
  methods: z
    .array(GraphMethod)
    .min(1)
    .default([...GRAPH_METHODS]),
  /** Lead-lag: lags 1..max_lag bars. */
  max_lag: z.number().int().min(1).max(24).default(3),
  /** Edges kept when their p-value survives Benjamini–Hochberg at this false-discovery rate. */
  alpha: z.number().gt(0).lt(1).default(0.01),
  /** Then at most this many strongest edges per vertex and method (0 = no cap). */
  top_k: z.number().int().min(0).max(MAX_GRAPH_SYMBOLS).default(5),
  /** A window needs at least this share of its bars present for every symbol, else it is refused. */
  min_coverage: z.number().gt(0).max(1).default(0.9),
});
export type GraphRequest = z.output<typeof GraphRequest>;
export type GraphRequestInput = z.input<typeof GraphRequest>;

/** Everything the graph-builder needs (on the `queue-control` command of a graph_build workflow). */
export const GraphParams = GraphRequest.extend({
  /** Window and step in ms (the request's durations, resolved). */
  window: z.number().int().positive(),
  step: z.number().int().positive(),
  interval: KlineInterval.exclude(['1M']),
  methods: z.array(GraphMethod).min(1),
  symbols: z.array(Symbol).min(2).max(MAX_GRAPH_SYMBOLS),
  market: Market,
  /** Half-open range of bar open times, epoch ms. */
  start: EpochMs,
  end: EpochMs,
});
export type GraphParams = z.output<typeof GraphParams>;

/** A request's parsed `graph` object (or the defaults) on a workflow's symbols and range. */
export function graphParamsOf(
  request: GraphRequest | undefined,
  on: { symbols: string[]; market: z.infer<typeof Market>; start: number; end: number },
): GraphParams {
  return GraphParams.parse({ ...(request ?? GraphRequest.parse({})), ...on });
}

/**
 * What a graph request must satisfy before anything runs (the manager answers 400 with these;
 * the graph-builder checks the same on its command): window and step whole numbers of bars, a
 * window of at least 10 bars that fits in the range, symbols without repeats.
 */
export function graphIssues(p: GraphParams): { path: string[]; message: string }[] {
  const issues: { path: string[]; message: string }[] = [];
  const bar = intervalMs(p.interval);
  const text = (ms: number) => `${ms / 3_600_000}h`;
  if (p.window % bar !== 0)
    issues.push({
      path: ['graph', 'window'],
      message: `window ${text(p.window)} is not a whole number of ${p.interval} bars`,
    });
  else if (p.window / bar < 10)
    issues.push({
      path: ['graph', 'window'],
      message: `window is ${p.window / bar} ${p.interval} bars; at least 10 are needed`,
    });
  if (p.step % bar !== 0)
    issues.push({
      path: ['graph', 'step'],
      message: `step ${text(p.step)} is not a whole number of ${p.interval} bars`,
    });
  const bars = Math.floor((p.end - p.start) / bar);
  if (p.window / bar >= bars)
    issues.push({
      path: ['graph', 'window'],
      message: `window ${text(p.window)} is ${Math.ceil(p.window / bar)} bars of ${p.interval} but the range has only ${bars}: nothing to build`,
    });
  if (new Set(p.symbols).size !== p.symbols.length)
    issues.push({ path: ['symbols'], message: 'symbols must not repeat' });
  return issues;
}

/** One edge of a snapshot. Undirected methods: source < target; lead_lag: source leads target by `lag` bars. */
export const GraphEdge = z.object({
  source: Symbol,
  target: Symbol,
  method: GraphMethod,
  /** 0 for contemporaneous methods. */
  lag: z.number().int().nonnegative(),
  /** The statistic: a (partial, rank, lagged) correlation in [-1, 1]. */
  weight: z.number().min(-1).max(1),
  sign: z.union([z.literal(1), z.literal(-1)]),
  p_value: z.number().min(0).max(1),
  /** Observations (pairs of returns) the statistic used. */
  n: z.number().int().nonnegative(),
});
export type GraphEdge = z.infer<typeof GraphEdge>;

/** An asset in one snapshot, with its features over the window. */
export const GraphVertex = z.object({
  symbol: Symbol,
  /** Bars of the window with a return (both closes present). */
  n_obs: z.number().int().nonnegative(),
  /** Bars of the window missing a return (no candle stored, or its previous one missing). */
  missing: z.number().int().nonnegative(),
  mean_return: z.number(),
  volatility: z.number().nonnegative(),
  last_return: z.number(),
  /** Sum of quote-asset volume over the window. */
  quote_volume: z.number().nonnegative(),
});
export type GraphVertex = z.infer<typeof GraphVertex>;

export const GraphSnapshot = z.object({
  /** The snapshot's time: built from returns stamped in (t − window, t]. */
  t: EpochMs,
  window_start: EpochMs,
  vertices: z.array(GraphVertex),
  edges: z.array(GraphEdge),
});
export type GraphSnapshot = z.infer<typeof GraphSnapshot>;

/** A stored graph's summary (`GET /graphs`). */
export const GraphInfo = z.object({
  graph_id: z.string(),
  queue_id: z.string(),
  params: z.record(z.string(), z.unknown()),
  symbols: z.array(Symbol),
  interval: KlineInterval,
  market: Market,
  start: EpochMs,
  end: EpochMs,
  snapshots: z.number().int().nonnegative(),
  edges: z.number().int().nonnegative(),
  created_at: z.iso.datetime(),
});
export type GraphInfo = z.infer<typeof GraphInfo>;

export const GNN_ARCHITECTURES = ['gcn', 'gat'] as const;

/** What a `gnn_train` workflow trains (the request's `gnn` object). */
export const GnnRequest = z.strictObject({
  graph_id: z.string().min(1),
  architecture: z.enum(GNN_ARCHITECTURES).default('gat'),
  /** Edges of this method form the adjacency (lead_lag: directed, leader → follower). */
  edge_method: GraphMethod.default('lead_lag'),
  /** Lagged returns per asset used as features. */
  lags: z.number().int().min(1).max(48).default(5),
  hidden: z.number().int().min(2).max(256).default(16),
  /** GAT-style heads (gat only). */
  heads: z.number().int().min(1).max(8).default(2),
  epochs: z.number().int().min(1).max(2000).default(200),
  /** Early stopping: epochs without a better validation loss. */
  patience: z.number().int().min(1).max(200).default(15),
  learning_rate: z.number().gt(0).max(1).default(0.01),
  /** Train / validation / test shares of the time axis, in time order. */
  split: z
    .tuple([z.number().gt(0), z.number().gt(0), z.number().gt(0)])
    .default([0.7, 0.1, 0.2])
    .refine((s) => Math.abs(s[0] + s[1] + s[2] - 1) < 1e-9, 'split shares must add up to 1'),
  seed: z.number().int().nonnegative().default(42),
});
export type GnnRequest = z.output<typeof GnnRequest>;
export type GnnRequestInput = z.input<typeof GnnRequest>;

/** One model's scores on the test span, with 95% intervals. */
export const ModelMetrics = z.object({
  /** Predictions scored (asset × time, with a known next return). */
  n: z.number().int().nonnegative(),
  accuracy: z.number(),
  accuracy_ci: z.tuple([z.number(), z.number()]),
  log_loss: z.number(),
  log_loss_ci: z.tuple([z.number(), z.number()]),
  /** Information coefficient: rank correlation of the score with the realised next return. */
  ic: z.number(),
  ic_ci: z.tuple([z.number(), z.number()]),
});
export type ModelMetrics = z.infer<typeof ModelMetrics>;

/** The GNN against one baseline on the same test predictions: accuracy difference, block-bootstrap CI. */
export const Comparison = z.object({
  baseline: z.string(),
  accuracy_diff: z.number(),
  accuracy_diff_ci: z.tuple([z.number(), z.number()]),
  log_loss_diff: z.number(),
  log_loss_diff_ci: z.tuple([z.number(), z.number()]),
});
export type Comparison = z.infer<typeof Comparison>;

/** A registry entry (`GET /models/{id}`). */
export const ModelInfo = z.object({
  model_id: z.string(),
  queue_id: z.string(),
  graph_id: z.string(),
  architecture: z.enum(GNN_ARCHITECTURES),
  /** The tfjs backend that trained it (`tensorflow` = tfjs-node, `wasm`, `cpu`). */
  backend: z.string(),
  params: z.record(z.string(), z.unknown()),
  symbols: z.array(Symbol),
  interval: KlineInterval,
  market: Market,
  /** Decision times (epoch ms) of each span: [first, last]. */
  ranges: z.object({
    train: z.tuple([EpochMs, EpochMs]),
    validation: z.tuple([EpochMs, EpochMs]),
    test: z.tuple([EpochMs, EpochMs]),
  }),
  seed: z.number().int(),
  epochs_run: z.number().int().nonnegative(),
  best_epoch: z.number().int().nonnegative(),
  metrics: ModelMetrics,
  baselines: z.record(z.string(), ModelMetrics),
  comparisons: z.array(Comparison),
  /** Where the tfjs artifact (model.json + weights.bin) lives: a directory or an object-store URI. */
  artifact: z.string(),
  /** Feature standardisation learnt on the train span (applied again by predict). */
  feature_mean: z.number(),
  feature_std: z.number(),
  created_at: z.iso.datetime(),
});
export type ModelInfo = z.infer<typeof ModelInfo>;

/** Training progress on `queue-events` (QueueEvent.progress.training). */
export const TrainingProgress = z.object({
  epoch: z.number().int().nonnegative(),
  epochs: z.number().int().positive(),
  loss: z.number(),
  val_loss: z.number(),
  val_accuracy: z.number(),
  backend: z.string(),
});
export type TrainingProgress = z.infer<typeof TrainingProgress>;
