/**
 * CloudEvent names, topics and the data-batch envelope. Everything on Kafka is a CloudEvent in
 * binary mode (`ce_` headers) so a KafkaSource forwards it unchanged (knative.md §3, §6).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { EpochMs, Market, Symbol } from './common.ts';
import { Dataset, RecordKind } from './records.ts';
import type { Row } from './rows.ts';
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

/**
 * Payload of a data event: one exchange page (or one live record) of one series. The series is
 * named once; records travel as compact rows in the kind's column order (rows.ts: for klines the
 * exchange's own 12-field rows). Encoded once by the producer, decoded once by the sink.
 */
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
  /** Rows stay `unknown` here; the sink checks each one (rows.ts) and dead-letters the bad ones. */
  rows: z.array(z.unknown()),
});
export type DataBatch = z.infer<typeof DataBatch>;

/**
 * Deterministic id of a data batch: the same page of the same series always gets the same id,
 * whichever loader run produced it, so a redelivered batch is recognisably the same batch.
 * `<market>.<symbol>.<dataset>.<covers.from>-<covers.to>.<first 16 hex of sha256 over the row ids>`
 * (a row's id, column 0, is what its natural key adds to the series).
 */
export function batchId(
  at: { market: string; symbol: string; dataset: string; covers?: { from: number; to: number } | undefined },
  rows: readonly Row[],
): string {
  const h = createHash('sha256');
  // Hashed in pieces of ~8 KB: one update per id costs twice as much for a 1000-row page.
  let text = '';
  for (const r of rows) {
    text += `${r[0] as number}\n`;
    if (text.length > 8192) {
      h.update(text);
      text = '';
    }
  }
  h.update(text);
  const from = at.covers?.from ?? (rows[0]?.[0] as number | undefined) ?? 0;
  const to = at.covers?.to ?? (rows.at(-1)?.[0] as number | undefined) ?? 0;
  return `${at.market}.${at.symbol}.${at.dataset}.${from}-${to}.${h.digest('hex').slice(0, 16)}`;
}
