/**
 * Workflow types, the `queue-control` command, the `queue-events` message and the workflow
 * record (DESIGN.md "Contracts": the seed's field names are kept).
 */
import { z } from 'zod';
import { EpochMs, KLINE_INTERVALS, KlineInterval, Market, SafeName, Symbol } from './common.ts';
import type { Dataset, RecordKind } from './records.ts';
import { GnnRequest, GraphParams, ModelInfo, TrainingProgress } from './analytics.ts';

export const WORKFLOW_STATUSES = [
  'pending',
  'started',
  'loading',
  'completed',
  'error',
  'cancelled',
] as const;
export const WorkflowStatus = z.enum(WORKFLOW_STATUSES);
export type WorkflowStatus = z.infer<typeof WorkflowStatus>;

/** Terminal statuses: nothing moves a workflow out of them except an explicit retry. */
export const TERMINAL_STATUSES: ReadonlySet<WorkflowStatus> = new Set(['completed', 'error', 'cancelled']);

/** The candle types, one per loader: `api_candles_1m`, `bulk_candles_1h`, `ws_candles_1s`. */
export const CANDLE_TYPES = [
  z.templateLiteral(['api_candles_', KlineInterval]),
  z.templateLiteral(['bulk_candles_', KlineInterval]),
  z.templateLiteral(['ws_candles_', KlineInterval]),
] as const;

/** Workflow types in the seed's naming. */
export const WorkflowType = z.union([
  ...CANDLE_TYPES,
  z.enum([
    'api_trades',
    'api_agg_trades',
    'api_funding',
    'bulk_trades',
    'bulk_agg_trades',
    'ws_trades',
    'ws_agg_trades',
    'ws_depth',
    'ws_book_ticker',
    'graph_build',
    'gnn_train',
  ]),
]);
export type WorkflowType = z.infer<typeof WorkflowType>;

/** Functions a command can target. */
export const Target = z.enum([
  'loader-api',
  'loader-bulk',
  'loader-ws',
  'arango-connector',
  'graph-builder',
  'gnn-trainer',
]);
export type Target = z.infer<typeof Target>;

/** What a workflow type loads: the function that runs it, the record kind and the dataset. */
export interface WorkflowPlan {
  target: Target;
  kind: RecordKind | null;
  dataset: Dataset | null;
  interval: KlineInterval | null;
}

export function planFor(type: WorkflowType): WorkflowPlan {
  const m = /^(api|bulk|ws)_candles_(.+)$/.exec(type);
  if (m) {
    const interval = KlineInterval.parse(m[2]);
    const target = m[1] === 'api' ? 'loader-api' : m[1] === 'bulk' ? 'loader-bulk' : 'loader-ws';
    return { target, kind: 'kline', dataset: `klines_${interval}`, interval };
  }
  switch (type) {
    case 'api_trades':
      return { target: 'loader-api', kind: 'trade', dataset: 'trades', interval: null };
    case 'api_agg_trades':
      return { target: 'loader-api', kind: 'agg_trade', dataset: 'agg_trades', interval: null };
    case 'api_funding':
      return { target: 'loader-api', kind: 'funding', dataset: 'funding', interval: null };
    case 'bulk_trades':
      return { target: 'loader-bulk', kind: 'trade', dataset: 'trades', interval: null };
    case 'bulk_agg_trades':
      return { target: 'loader-bulk', kind: 'agg_trade', dataset: 'agg_trades', interval: null };
    case 'ws_trades':
      return { target: 'loader-ws', kind: 'trade', dataset: 'trades', interval: null };
    case 'ws_agg_trades':
      return { target: 'loader-ws', kind: 'agg_trade', dataset: 'agg_trades', interval: null };
    case 'ws_depth':
      return { target: 'loader-ws', kind: 'depth', dataset: 'depth', interval: null };
    case 'ws_book_ticker':
      return { target: 'loader-ws', kind: 'book_ticker', dataset: 'book_ticker', interval: null };
    case 'graph_build':
      return { target: 'graph-builder', kind: null, dataset: null, interval: null };
    default:
      return { target: 'gnn-trainer', kind: null, dataset: null, interval: null };
  }
}

export { KLINE_INTERVALS };

/**
 * Queue id in the seed's shape: `wf-<symbol>-<type>-<yyyymmdd>-<6 hex>`
 * (e.g. `wf-btcusdt-api_candles_5m-20240801-a1b2c3`).
 */
export const QueueId = z
  .string()
  // The type keeps its case: `api_candles_1M` (months) differs from `api_candles_1m` (minutes).
  .regex(
    /^wf-[a-z0-9]{2,20}-[a-zA-Z0-9_]+-\d{8}-[0-9a-f]{6}$/,
    'queue_id must look like wf-btcusdt-api_candles_5m-20240801-a1b2c3',
  );
export type QueueId = z.infer<typeof QueueId>;

/** Queue ids embed the type: `wf-<symbol>-<type>-<yyyymmdd>-<hex>`. */
export function typeFromQueueId(queueId: string): WorkflowType | undefined {
  const parsed = WorkflowType.safeParse(queueId.split('-')[2]);
  return parsed.success ? parsed.data : undefined;
}

/** The `queue-control` command (seed fields plus `market`, `start`, `end`). */
export const QueueCommand = z.object({
  command: z.enum(['start', 'stop']),
  queue_id: QueueId,
  target: Target,
  symbol: Symbol,
  type: WorkflowType,
  market: Market.default('spot'),
  /** The seed's `yyyy-mm-dd:yyyy-mm-dd` text as the user gave it (informative). */
  time_range: z.string(),
  /** Authoritative half-open range [start, end) in epoch ms, UTC. */
  start: EpochMs,
  end: EpochMs,
  kafka_topic: SafeName,
  collection_name: SafeName,
  telemetry_id: z.string().min(1),
  /** Image for the Job; always from the manager's allow-list, never from a request. */
  image: z.string().optional(),
  /** 1 for the first run, +1 per retry; events of an older attempt are ignored. */
  attempt: z.number().int().positive().default(1),
  timestamp: z.iso.datetime(),
  /** graph_build: what to build (symbols, interval, window, step, methods…). */
  graph: GraphParams.optional(),
  /** gnn_train: what to train (graph, architecture, split, seed…). */
  gnn: GnnRequest.optional(),
});
export type QueueCommand = z.infer<typeof QueueCommand>;

/** Error details carried into a workflow's status, e.g. `{code: -1121, message: "Invalid symbol."}`. */
export const WorkflowError = z.object({
  code: z.union([z.number(), z.string()]),
  message: z.string(),
  source: z.string().optional(),
});
export type WorkflowError = z.infer<typeof WorkflowError>;

export const Progress = z.object({
  pages: z.number().int().nonnegative().optional(),
  records: z.number().int().nonnegative().optional(),
  percent: z.number().min(0).max(100).optional(),
  /** Milliseconds of the requested range skipped because the coverage ledger had them. */
  skipped_ms: z.number().nonnegative().optional(),
  /** Records published from archive files (loader-bulk), and over the REST API. */
  archive_records: z.number().int().nonnegative().optional(),
  rest_records: z.number().int().nonnegative().optional(),
  /** A live workflow's state (loader-ws): how current it is and what it repaired. */
  live: z
    .object({
      /** Exchange time of the newest record received. */
      last_event_time: EpochMs.optional(),
      /** Receive time minus exchange event time of that record, ms. */
      lag_ms: z.number().optional(),
      /** True while the bus or the store cannot keep up: live records are shed and refilled over REST. */
      behind: z.boolean(),
      /** Records received but not yet published. */
      buffered: z.number().int().nonnegative(),
      /** Socket replacements after a drop or silence (not rotations). */
      reconnects: z.number().int().nonnegative(),
      /** Make-before-break rotations before the exchange's connection age limit. */
      rotations: z.number().int().nonnegative(),
      /** Holes found in the id or time sequence and filled over REST, and the records that filled them. */
      gap_fills: z.number().int().nonnegative(),
      filled_records: z.number().int().nonnegative(),
      /** Records seen twice (overlaps of rotations and refills) and dropped. */
      duplicates: z.number().int().nonnegative(),
      /** Holes REST could not fill: recorded as gaps with their reason in `notes`. */
      unfilled_gaps: z.number().int().nonnegative(),
      /** Order book (ws_depth): resynchronisations, and checks against REST snapshots that differed. */
      resyncs: z.number().int().nonnegative().optional(),
      divergences: z.number().int().nonnegative().optional(),
    })
    .optional(),
  /** gnn_train: the latest epoch (loss, validation accuracy) and the backend training runs on. */
  training: TrainingProgress.optional(),
});
export type Progress = z.infer<typeof Progress>;
export type LiveProgress = NonNullable<Progress['live']>;

/** Most notes a workflow keeps (what a loader adjusted: files missing, replaced, filled over REST). */
export const MAX_NOTES = 50;

/** The `queue-events` message (seed fields plus structured details). */
export const QueueEvent = z.object({
  queue_id: QueueId,
  producer: z.string().min(1),
  symbol: Symbol,
  type: WorkflowType,
  status: WorkflowStatus,
  message: z.string().default(''),
  records_written: z.number().int().nonnegative().default(0),
  finished: z.boolean().default(false),
  timestamp: z.iso.datetime(),
  /** Monotonic per producer and workflow, so duplicates and late events can be recognised. */
  seq: z.number().int().nonnegative().optional(),
  /** The workflow attempt this event belongs to (see QueueCommand.attempt). */
  attempt: z.number().int().positive().optional(),
  progress: Progress.optional(),
  error: WorkflowError.optional(),
  /** From a loader's final event: batches published, so the sink knows when all are stored. */
  batches_published: z.number().int().nonnegative().optional(),
  /** Exchange gaps found by the loader (half-open ranges, epoch ms). */
  gaps: z.array(z.object({ from: EpochMs, to: EpochMs })).optional(),
  /** What the workflow should say it did differently (kept in the workflow's `notes`). */
  notes: z.array(z.string().max(500)).max(MAX_NOTES).optional(),
  /** gnn_train's final event: the registry entry the manager stores (`GET /models/{id}`). */
  model: ModelInfo.optional(),
});
export type QueueEvent = z.infer<typeof QueueEvent>;
export type QueueEventInput = z.input<typeof QueueEvent>;

/** A workflow as the manager stores and serves it. */
export const Workflow = z.object({
  queue_id: QueueId,
  symbol: Symbol,
  market: Market,
  type: WorkflowType,
  target: Target,
  time_range: z.string(),
  start: EpochMs,
  end: EpochMs,
  status: WorkflowStatus,
  kafka_topic: SafeName,
  collection_name: SafeName,
  telemetry_id: z.string(),
  records_written: z.number().int().nonnegative(),
  progress: Progress.optional(),
  error: WorkflowError.optional(),
  attempt: z.number().int().positive(),
  created_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
  /** Last time any service reported on this workflow (for the stall watchdog). */
  last_event_at: z.iso.datetime(),
  finished_at: z.iso.datetime().optional(),
  /** What the manager adjusted or is waiting for, e.g. an end clamped to now (request-rules.ts). */
  notes: z.array(z.string()).optional(),
  /** Present while a pending workflow waits for a job slot (MAX_RUNNING_JOBS): why and behind how many. */
  waiting: z.string().optional(),
  /** graph_build and gnn_train: their parameters, defaults applied (sent on the command). */
  graph: GraphParams.optional(),
  gnn: GnnRequest.optional(),
  timeline: z.array(
    z.object({
      at: z.iso.datetime(),
      producer: z.string(),
      status: WorkflowStatus,
      message: z.string(),
      records_written: z.number().int().nonnegative().optional(),
      /** The attempt the event belonged to, and its producer's `seq` (duplicate detection). */
      attempt: z.number().int().positive().optional(),
      seq: z.number().int().nonnegative().optional(),
      /** Only on coalesced entries (queue-manager/fold.ts): merged progress, the late-event note. */
      reports: z
        .number()
        .int()
        .nonnegative()
        .optional()
        .meta({
          description:
            'How many reports this entry stands for: progress reports of one producer and attempt merged into one ' +
            'entry (`at` the latest, records_written the maximum), or the late events counted by the note after a ' +
            'terminal status. Absent on state transitions, which are never merged.',
        }),
    }),
  ),
});
export type Workflow = z.infer<typeof Workflow>;
