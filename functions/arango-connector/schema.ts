/**
 * What the arango-connector accepts and emits beyond the shared contracts: its configuration,
 * its per-workflow progress document and its dead-letter payload.
 */
import { z } from 'zod';
import { EpochMs } from '../../shared/contracts/common.ts';
import { WorkflowType } from '../../shared/contracts/workflow.ts';
import { BaseConfig, env } from '../../shared/runtime/config.ts';
import { IntakeAuthConfig } from '../../shared/runtime/intake-auth.ts';

export const FUNCTION_NAME = 'arango-connector';

/** Documents collection with one progress document per workflow attempt. */
export const PROGRESS_COLLECTION = 'connector_progress';

export const ConnectorConfig = BaseConfig.extend({
  ...IntakeAuthConfig.shape,
  /** Batches written at once before answering 429 (a KafkaSource retries it). */
  CONNECTOR_MAX_IN_FLIGHT: env.int(16),
  /** At most one `loading` progress event per workflow per this many ms (the last is always sent). */
  CONNECTOR_PROGRESS_INTERVAL_MS: env.int(500),
});
export type ConnectorConfig = z.infer<typeof ConnectorConfig>;

/** A set of batch sequence numbers as merged half-open ranges [from, to). */
const SeqRanges = z.array(
  z.object({ from: z.number().int().nonnegative(), to: z.number().int().positive() }),
);

/**
 * Per-workflow-attempt progress (`connector_progress`, key `<queue_id>:<attempt>`). Stored seqs
 * are a set, not a counter, so a redelivery after a crash converges instead of double-counting.
 */
export const ConnectorProgress = z.object({
  queue_id: z.string(),
  attempt: z.number().int().positive(),
  symbol: z.string().optional(),
  type: WorkflowType.optional(),
  /** Batch seqs whose records are durably stored. */
  stored: SeqRanges,
  /** Valid records of the stored batches (each batch counted once). */
  records_written: z.number().int().nonnegative(),
  /** From the loader's final event; completion needs seqs 0..N-1 stored. */
  batches_published: z.number().int().nonnegative().optional(),
  /** none → claimed (completion decided) → published (the `completed` event is out). */
  completion: z.enum(['none', 'claimed', 'published']),
  completed_at: z.iso.datetime().optional(),
  updated_at: z.iso.datetime(),
});
export type ConnectorProgress = z.infer<typeof ConnectorProgress>;

/** Why a record was dead-lettered (also the `reason` label of `streamforge_dead_letters_total`). */
export const DeadLetterReason = z.enum(['invalid_record']);
export type DeadLetterReason = z.infer<typeof DeadLetterReason>;

/** Data of an `io.streamforge.deadletter` event: one rejected record, its reason and the original. */
export const DeadLetter = z.object({
  reason: DeadLetterReason,
  message: z.string(),
  /** zod issues of the record validation. */
  issues: z.array(z.unknown()),
  /** The record exactly as it arrived. */
  record: z.unknown(),
  /** Position of the record inside its batch. */
  index: z.number().int().nonnegative(),
  batch: z.object({
    event_id: z.string(),
    event_type: z.string(),
    queue_id: z.string().optional(),
    attempt: z.number().int().positive().optional(),
    kind: z.string(),
    market: z.string(),
    symbol: z.string(),
    dataset: z.string(),
    collection: z.string(),
    seq: z.number().int().nonnegative(),
    covers: z.object({ from: EpochMs, to: EpochMs }).optional(),
  }),
});
export type DeadLetter = z.infer<typeof DeadLetter>;
