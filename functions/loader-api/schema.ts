/**
 * What loader-api accepts and keeps: its environment, the start command (QueueCommand from
 * shared/contracts) and its checkpoint document.
 */
import { z } from 'zod';
import { EpochMs, Symbol as SymbolName } from '../../shared/contracts/common.ts';
import { QueueCommand, QueueId, WorkflowType } from '../../shared/contracts/workflow.ts';
import { BaseConfig, env } from '../../shared/runtime/config.ts';

export const LoaderConfig = BaseConfig.extend({
  BINANCE_API_URL: z.url().default('https://api.binance.com'),
  BINANCE_FAPI_URL: z.url().default('https://fapi.binance.com'),
  /** REQUEST_WEIGHT per window; unset = exchangeInfo `rateLimits` (6000 when it says nothing). */
  BINANCE_WEIGHT_LIMIT: z.coerce.number().int().positive().optional(),
  /** Weight window length; unset = exchangeInfo's (Binance: calendar minutes, 60 000). */
  BINANCE_WEIGHT_WINDOW_MS: z.coerce.number().int().positive().optional(),
  /**
   * Share of the limit left for other processes' requests in flight (weight-budget.ts explains
   * the arithmetic: 0.05 keeps three loaders per IP safe with the default in-flight cap).
   */
  BINANCE_WEIGHT_MARGIN: z.coerce.number().min(0).max(0.5).default(0.05),
  BINANCE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * Requests in flight per loader process, which is also its read-ahead: while one page is being
   * published, up to this many later pages are being fetched or wait, parsed, to be published
   * (klines; id-paged trades read one page ahead). Memory holds at most this many pages plus the
   * one being published; the weight budget caps in-flight requests at the same number.
   */
  LOADER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
  /** Minimum time between two progress events. */
  LOADER_PROGRESS_MS: env.int(1000),
  /** The start command as JSON: a Job gets its command from its environment, its stop as SIGTERM. */
  STREAMFORGE_COMMAND: z.string().min(1).optional(),
  /** Embedded mode: the parent's ingress, where this child publishes (shared/bus/create-bus.ts). */
  STREAMFORGE_INGRESS_URL: z.url().optional(),
});
export type LoaderConfig = z.infer<typeof LoaderConfig>;

const RangeSchema = z.object({ from: EpochMs, to: EpochMs });

/**
 * The loader's checkpoint (documents collection `loader_checkpoints`, key `<queue_id>:<attempt>`),
 * written after each page is durably published. The plan (`missing`) is fixed at the first start,
 * so a restart neither re-reads the ledger nor renumbers pages.
 */
export const Checkpoint = z.object({
  queue_id: QueueId,
  attempt: z.number().int().positive(),
  /** Ranges to fetch (the requested range minus the coverage ledger), in order. */
  missing: z.array(RangeSchema),
  skipped_ms: z.number().nonnegative(),
  total_ms: z.number().nonnegative(),
  /** Index into `missing` of the range being paged, and where in it to resume. */
  range_index: z.number().int().nonnegative(),
  cursor: z.object({ from: EpochMs, fromId: z.number().int().nonnegative().optional() }).nullable(),
  /** seq of the next data batch = batches published so far. */
  next_seq: z.number().int().nonnegative(),
  records: z.number().int().nonnegative(),
  /** Time covered by published pages. */
  covered_ms: z.number().nonnegative(),
  /** Time left out because it had not closed on the exchange yet. */
  unloaded_ms: z.number().nonnegative(),
  gaps: z.array(RangeSchema),
  /** Last queue-event seq used; a restart continues well above it. */
  event_seq: z.number().int().nonnegative(),
  done: z.boolean(),
  updated_at: z.iso.datetime(),
});
export type Checkpoint = z.infer<typeof Checkpoint>;

export const CHECKPOINTS = 'loader_checkpoints';

export function checkpointKey(queueId: string, attempt: number): string {
  return `${queueId}:${attempt}`;
}

/** Enough of a rejected command to tell its workflow so (queue-events needs id, symbol, type). */
export interface RecoveredIds {
  queue_id: string;
  symbol: string;
  type: WorkflowType;
  attempt: number | undefined;
}

/**
 * From a command that failed its schema, the ids a `queue-events` error needs: taken from the
 * command where valid, else read back from the queue id (`wf-<symbol>-<type>-<date>-<hex>`).
 */
export function recoverIds(raw: unknown): RecoveredIds | null {
  if (typeof raw !== 'object' || raw === null) return null;
  const r = raw as Record<string, unknown>;
  const id = QueueId.safeParse(r['queue_id']);
  if (!id.success) return null;
  const m = /^wf-([a-z0-9]+)-(.+)-\d{8}-[0-9a-f]{6}$/.exec(id.data);
  const symbol = SymbolName.safeParse(r['symbol']).data ?? SymbolName.safeParse(m?.[1]?.toUpperCase()).data;
  const type = WorkflowType.safeParse(r['type']).data ?? WorkflowType.safeParse(m?.[2]).data;
  const attempt = z.number().int().positive().safeParse(r['attempt']).data;
  if (symbol === undefined || type === undefined) return null;
  return { queue_id: id.data, symbol, type, attempt };
}

export { QueueCommand };
