/**
 * A loader's checkpoint and what it recovers from a rejected command (shared by loader-api and
 * loader-bulk: one loop, shared/loader/load.ts).
 */
import { z } from 'zod';
import { EpochMs, Symbol as SymbolName } from '../contracts/common.ts';
import { QueueId, WorkflowType } from '../contracts/workflow.ts';

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
  /** Records by origin (archive files, REST pages); absent in checkpoints older than loader-bulk. */
  archive_records: z.number().int().nonnegative().default(0),
  rest_records: z.number().int().nonnegative().default(0),
  /** Notes of the pages so far (files missing, replaced, filled over REST), bounded. */
  notes: z.array(z.string()).default([]),
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
