/**
 * The connector's logic over ports (no HTTP, no env): validate a data batch record by record,
 * UPSERT the valid ones by natural key in one store transaction, dead-letter the invalid ones,
 * update the coverage ledger, then the workflow's progress (progress.ts).
 *
 * Order matters for redelivery after a crash: records → dead letters → ledger → progress. Each
 * step is idempotent, and the progress seq set is written last, so a batch counts as done only
 * when everything before it is durable. Errors: InvalidInputError (400, never retried) only for
 * an event that can never succeed; OverloadedError (429) and DependencyError (503) are retried.
 */
import type { Registry } from 'prom-client';
import { z } from 'zod';
import type { BusEvent, EventBus } from '../../shared/bus/event-bus.ts';
import { SafeName, Symbol as SymbolName } from '../../shared/contracts/common.ts';
import { DataBatch, EventTypes, Topics, sourceOf } from '../../shared/contracts/events.ts';
import { RecordKind, datasetKind, seriesKey } from '../../shared/contracts/records.ts';
import { checkRows, type Row } from '../../shared/contracts/rows.ts';
import { QueueEvent, QueueId, typeFromQueueId } from '../../shared/contracts/workflow.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import {
  AppError,
  DependencyError,
  InvalidInputError,
  OverloadedError,
} from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { COVERAGE_COLLECTION, recordCoverage } from '../../shared/store/coverage.ts';
import type { Store, UpsertResult } from '../../shared/store/store.ts';
import { connectorMetrics } from './metrics.ts';
import { createProgressTracker, type WorkflowRef } from './progress.ts';
import { FUNCTION_NAME, PROGRESS_COLLECTION, type DeadLetter, type DeadLetterReason } from './schema.ts';

export interface ConnectorHandlerDeps {
  store: Store;
  bus: EventBus;
  logger: Logger;
  registry: Registry;
  /** Batches written at once before answering 429; default 16. */
  maxInFlight?: number;
  /** Throttle of `loading` progress events per workflow; default 500 ms. */
  progressIntervalMs?: number;
}

/** What one data batch did. */
export interface BatchOutcome extends UpsertResult {
  dead_lettered: number;
  /** The batch's seq was already stored for its workflow (a redelivery). */
  redelivery: boolean;
}

interface Rejected {
  index: number;
  reason: DeadLetterReason;
  message: string;
  issues: unknown[];
  record: unknown;
}

const DATA_PREFIX = 'io.streamforge.data.';

/** The workflow a data event's payload names, read loosely from a batch that failed its schema. */
const BatchOwner = z.object({
  queue_id: QueueId,
  symbol: SymbolName,
  attempt: z.number().int().positive().optional(),
  seq: z.number().int().nonnegative().optional(),
});

/** Documents collections of the platform: a data batch must never be written into one. */
const RESERVED = new Set([COVERAGE_COLLECTION, PROGRESS_COLLECTION, 'loader_checkpoints', 'workflows']);

/** The record kind of a data event type, or an InvalidInputError (400: never retried). */
function kindOfType(type: string): RecordKind {
  const kind = RecordKind.safeParse(
    type.startsWith(DATA_PREFIX) ? type.slice(DATA_PREFIX.length) : undefined,
  );
  if (!kind.success || EventTypes.data(kind.data) !== type) {
    throw new InvalidInputError(`unknown event type ${JSON.stringify(type)}`, [
      {
        path: ['type'],
        message: `expected ${EventTypes.data('kline')} (or another record kind) or ${EventTypes.queueEvent}`,
      },
    ]);
  }
  return kind.data;
}

export function parseBatch(event: BusEvent): DataBatch {
  const kind = kindOfType(event.type);
  const parsed = DataBatch.safeParse(event.data);
  if (!parsed.success) throw InvalidInputError.fromZod('invalid data batch', parsed.error);
  const batch = parsed.data;
  const issues: { path: string[]; message: string }[] = [];
  if (batch.kind !== kind)
    issues.push({ path: ['kind'], message: `${batch.kind} does not match event type ${event.type}` });
  if (datasetKind(batch.dataset) !== kind)
    issues.push({ path: ['dataset'], message: `${batch.dataset} is not a ${kind} dataset` });
  if (RESERVED.has(batch.collection))
    issues.push({ path: ['collection'], message: 'a documents collection, not a data one' });
  if (!SafeName.safeParse(batch.collection).success)
    issues.push({ path: ['collection'], message: 'not a safe collection name' });
  if (issues.length > 0) throw new InvalidInputError('invalid data batch', issues);
  return batch;
}

/** Splits a batch into rows to store and rejected ones (with zod's issues) to dead-letter. */
export function validateRows(batch: DataBatch): { good: Row[]; bad: Rejected[] } {
  const { good, bad } = checkRows(batch.kind, batch.rows);
  return {
    good,
    bad: bad.map((b) => ({
      index: b.index,
      reason: 'invalid_record' as const,
      message: 'row failed validation',
      issues: b.issues,
      record: b.row,
    })),
  };
}

/** Store and bus failures become 503 (retried); the platform's own errors keep their status. */
async function dependency<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new DependencyError(`${what} unavailable`, err);
  }
}

export function createConnectorHandler(deps: ConnectorHandlerDeps) {
  const { store, bus, logger } = deps;
  const maxInFlight = deps.maxInFlight ?? 16;
  const metrics = connectorMetrics(deps.registry);
  const progress = createProgressTracker({ store, bus, logger, intervalMs: deps.progressIntervalMs ?? 500 });
  const ensured = new Map<string, Promise<void>>();
  let inFlight = 0;

  function ensure(name: string, kind: 'series' | 'documents', recordKind?: RecordKind): Promise<void> {
    let p = ensured.get(name);
    if (p === undefined) {
      p = dependency('store', store.ensureCollection(name, kind, recordKind));
      ensured.set(name, p);
      p.catch(() => ensured.delete(name)); // retry on the next batch
    }
    return p;
  }

  async function deadLetter(event: BusEvent, batch: DataBatch, bad: Rejected[]): Promise<void> {
    const messages = bad.map((b) => {
      const data: DeadLetter = {
        reason: b.reason,
        message: b.message,
        issues: b.issues,
        record: b.record,
        index: b.index,
        batch: {
          event_id: event.id,
          event_type: event.type,
          ...(batch.queue_id === undefined ? {} : { queue_id: batch.queue_id }),
          ...(batch.attempt === undefined ? {} : { attempt: batch.attempt }),
          kind: batch.kind,
          market: batch.market,
          symbol: batch.symbol,
          dataset: batch.dataset,
          collection: batch.collection,
          seq: batch.seq,
          ...(batch.covers === undefined ? {} : { covers: batch.covers }),
        },
      };
      // Deterministic id: a redelivered batch dead-letters "the same" events, so readers can dedupe.
      const dl = makeEvent({
        type: EventTypes.deadLetter,
        source: sourceOf(FUNCTION_NAME),
        id: `${event.id}/record/${b.index}`,
        subject: b.reason,
        data,
        ...(batch.queue_id === undefined ? {} : { extensions: { queueid: batch.queue_id } }),
      });
      return { key: batch.symbol, event: dl };
    });
    await dependency('bus', bus.publish(Topics.deadLetter, messages));
    for (const b of bad) metrics.deadLetters.inc({ reason: b.reason });
  }

  /** One data batch: see the file comment for the order of the steps. */
  async function handleDataEvent(event: BusEvent, log: Logger = logger): Promise<BatchOutcome> {
    if (inFlight >= maxInFlight) throw new OverloadedError(`${inFlight} batches in flight; retry later`);
    inFlight += 1;
    metrics.inFlight.inc();
    const stop = metrics.batchSeconds.startTimer();
    try {
      const batch = parseBatch(event);
      const { good, bad } = validateRows(batch);
      const ref: WorkflowRef | null =
        batch.queue_id === undefined
          ? null
          : { queue_id: batch.queue_id, attempt: batch.attempt ?? 1, symbol: batch.symbol };

      await Promise.all([
        ensure(batch.collection, 'series', batch.kind),
        ensure(COVERAGE_COLLECTION, 'documents'),
        ...(ref ? [ensure(PROGRESS_COLLECTION, 'documents')] : []),
      ]);
      // A batch already counted as stored has had its dead letters sent: do not send them twice.
      const handledBefore =
        bad.length > 0 && ref !== null && (await dependency('store', progress.isStored(ref, batch.seq)));
      const result =
        good.length > 0
          ? await dependency(
              'store',
              store.upsertRows(batch.collection, {
                kind: batch.kind,
                series: { market: batch.market, symbol: batch.symbol, dataset: batch.dataset },
                rows: good,
              }),
            )
          : { inserted: 0, updated: 0, unchanged: 0 };
      if (bad.length > 0 && !handledBefore) await deadLetter(event, batch, bad);
      if (batch.covers !== undefined || batch.gaps.length > 0) {
        await dependency(
          'store',
          recordCoverage(store, batch.collection, seriesKey(batch), {
            covered: batch.covers === undefined ? [] : [batch.covers],
            gaps: batch.gaps,
          }),
        );
      }
      let redelivery = false;
      if (ref) {
        const note =
          bad.length > 0 && !handledBefore
            ? `${bad.length} records dead-lettered (batch ${batch.seq})`
            : undefined;
        redelivery = !(await dependency('store', progress.batchStored(ref, batch.seq, good.length, note)));
      }

      const kind = batch.kind;
      metrics.records.inc({ kind, result: 'inserted' }, result.inserted);
      metrics.records.inc({ kind, result: 'updated' }, result.updated);
      metrics.records.inc({ kind, result: 'unchanged' }, result.unchanged);
      if (batch.gaps.length > 0 && !redelivery) {
        metrics.coverageGaps.inc({ kind }, batch.gaps.length);
        const ms = batch.gaps.reduce((sum, g) => sum + Math.max(0, g.to - g.from), 0);
        metrics.coverageGapSeconds.inc({ kind }, ms / 1000);
      }
      metrics.batches.inc({ outcome: redelivery ? 'redelivered' : 'stored' });
      const outcome = { ...result, dead_lettered: bad.length, redelivery };
      if (bad.length > 0) log.warn({ seq: batch.seq, dead_lettered: bad.length }, 'records dead-lettered');
      log.debug({ seq: batch.seq, ...outcome }, 'batch stored');
      return outcome;
    } catch (err) {
      metrics.batches.inc({ outcome: err instanceof AppError ? String(err.status) : 'error' });
      if (err instanceof InvalidInputError) await reportRejected(event, err, log);
      throw err;
    } finally {
      stop();
      inFlight -= 1;
      metrics.inFlight.dec();
    }
  }

  /**
   * A data batch that can never be stored (400) means its workflow can never complete: say so on
   * `queue-events` at once, with the reason, instead of leaving it to the stall watchdog. Only for
   * a data event whose workflow can be told from its payload; best effort (the 400 stands anyway).
   */
  async function reportRejected(event: BusEvent, err: InvalidInputError, log: Logger): Promise<void> {
    if (
      !event.type.startsWith(DATA_PREFIX) ||
      !RecordKind.safeParse(event.type.slice(DATA_PREFIX.length)).success
    )
      return;
    const ids = BatchOwner.safeParse(event.data);
    const type = ids.success ? typeFromQueueId(ids.data.queue_id) : undefined;
    if (!ids.success || type === undefined) return;
    const issues = (err.issues ?? [])
      .slice(0, 3)
      .map((i) => {
        const issue = i as { path?: unknown[]; message?: string };
        return `${(issue.path ?? []).join('.') || '(batch)'}: ${issue.message ?? ''}`;
      })
      .join('; ');
    const message = `batch ${ids.data.seq ?? '?'} rejected: ${err.message}${issues ? ` (${issues})` : ''}`;
    const data = QueueEvent.safeParse({
      queue_id: ids.data.queue_id,
      producer: FUNCTION_NAME,
      symbol: ids.data.symbol,
      type,
      attempt: ids.data.attempt ?? 1,
      status: 'error',
      finished: true,
      message,
      error: { code: 'BATCH_REJECTED', message, source: FUNCTION_NAME },
      timestamp: new Date().toISOString(),
    });
    if (!data.success) return;
    const ev = makeEvent({
      type: EventTypes.queueEvent,
      source: sourceOf(FUNCTION_NAME),
      data: data.data,
      extensions: { queueid: data.data.queue_id },
    });
    await bus
      .publish(Topics.events, [{ key: data.data.symbol, event: ev }])
      .catch((e: unknown) => log.warn({ err: e }, 'could not report the rejected batch on its workflow'));
  }

  /** A `queue-events` message: only a loader's final event (batches_published) matters here. */
  async function handleQueueEvent(event: BusEvent): Promise<void> {
    const parsed = QueueEvent.safeParse(event.data);
    if (!parsed.success) throw InvalidInputError.fromZod('invalid queue event', parsed.error);
    const q = parsed.data;
    if (q.producer === FUNCTION_NAME || q.batches_published === undefined) return;
    await ensure(PROGRESS_COLLECTION, 'documents');
    const ref = { queue_id: q.queue_id, attempt: q.attempt ?? 1, symbol: q.symbol, type: q.type };
    await dependency('store', progress.loaderFinished(ref, q.batches_published));
  }

  /** Both intake paths (HTTP from a KafkaSource, and the bus) end here. */
  async function handleEvent(event: BusEvent, log: Logger = logger): Promise<void> {
    if (event.type === EventTypes.queueEvent) await handleQueueEvent(event);
    else await handleDataEvent(event, log);
  }

  return {
    handleEvent,
    /** Checks an event without any effect (a batched request is checked whole first). */
    validateEvent(event: BusEvent): void {
      if (event.type !== EventTypes.queueEvent) {
        parseBatch(event);
        return;
      }
      const parsed = QueueEvent.safeParse(event.data);
      if (!parsed.success) throw InvalidInputError.fromZod('invalid queue event', parsed.error);
    },
    handleDataEvent,
    handleQueueEvent,
    /** Resends completions a crash left claimed but unpublished. */
    recover: async () => {
      await ensure(PROGRESS_COLLECTION, 'documents');
      await dependency('store', progress.recover());
    },
    /** Sends pending progress events (shutdown). */
    flush: () => progress.flush(),
  };
}

export type ConnectorHandler = ReturnType<typeof createConnectorHandler>;
