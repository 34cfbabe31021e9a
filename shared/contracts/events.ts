/**
 * CloudEvent names, topics and the data-batch envelope. Everything on Kafka is a CloudEvent in
 * binary mode (`ce_` headers) so a KafkaSource forwards it unchanged (knative.md §3, §6).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EpochMs, Market, Symbol } from './common.ts';
import { Dataset, RecordKind, identify, type MarketRecord, type RecordOfKind } from './records.ts';
import { QueueId } from './workflow.ts';

/** CloudEvent `type` values. */
export const EventTypes = {
  commandStart: 'io.streamforge.command.start',
  commandStop: 'io.streamforge.command.stop',
  queueEvent: 'io.streamforge.queue.event',
  deadLetter: 'io.streamforge.deadletter',
  data: (kind: RecordKind) => `io.streamforge.data.${kind}` as const,
} as const;

/** CloudEvent `source` of a function: `/streamforge/<function>`. */
export function sourceOf(fn: string): string {
  return `/streamforge/${fn}`;
}

/** Kafka topics. Data topics are per record kind; the manager may pick others per workflow. */
export const Topics = {
  control: 'queue-control',
  events: 'queue-events',
  deadLetter: 'streamforge-dead-letter',
  data: (kind: RecordKind) => `binance-${kind.replaceAll('_', '-')}`,
} as const;

/** Canonical store collection per record kind, so overlapping workflows converge on one dataset. */
export function canonicalCollection(kind: RecordKind): string {
  return `market_${kind}s`;
}

/** Payload of a data event: one exchange page (or one live record) of one series. */
export const DataBatch = z.object({
  queue_id: QueueId.optional(),
  /** Workflow attempt that produced the batch (QueueCommand.attempt); absent means 1. */
  attempt: z.number().int().positive().optional(),
  kind: RecordKind,
  market: Market,
  symbol: Symbol,
  dataset: Dataset,
  /** Target collection chosen by the manager. */
  collection: z.string(),
  /** 0-based page number within the workflow; the final queue-event gives the count. */
  seq: z.number().int().nonnegative(),
  /** The half-open slice of the series' time axis this page covers (for the coverage ledger). */
  covers: z.object({ from: EpochMs, to: EpochMs }).optional(),
  /** Exchange gaps found inside `covers`: time where the exchange has no data. */
  gaps: z.array(z.object({ from: EpochMs, to: EpochMs })).default([]),
  /** Records stay `unknown` here; the sink validates each one and dead-letters the bad ones. */
  records: z.array(z.unknown()),
});
export type DataBatch = z.infer<typeof DataBatch>;

/**
 * Deterministic id of a data batch: the same page of the same series always gets the same id,
 * whichever loader run produced it, so a redelivered batch is recognisably the same batch.
 * `<market>.<symbol>.<dataset>.<covers.from>-<covers.to>.<first 16 hex of sha256 over the natural keys>`.
 */
export function batchId<K extends RecordKind>(
  kind: K,
  at: { market: string; symbol: string; dataset: string; covers?: { from: number; to: number } | undefined },
  records: readonly RecordOfKind[K][],
): string {
  const h = createHash('sha256');
  let first = Number.NaN;
  let last = Number.NaN;
  // The keys are hashed in pieces of ~8 KB: the same digest as one update per key, at half the
  // cost for a 1000-record page.
  let text = '';
  for (const r of records) {
    const id = identify(kind, r);
    if (Number.isNaN(first)) first = id.time;
    last = id.time;
    text += `${id.key}\n`;
    if (text.length > 8192) {
      h.update(text);
      text = '';
    }
  }
  h.update(text);
  const from = at.covers?.from ?? first;
  const to = at.covers?.to ?? last;
  return `${at.market}.${at.symbol}.${at.dataset}.${from}-${to}.${h.digest('hex').slice(0, 16)}`;
}

export type { MarketRecord };
