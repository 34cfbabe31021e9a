/**
 * The loader's `queue-events` messages (brief "Cross-function agreements"): `started` once,
 * throttled `loading` progress with the PUBLISHED record count in progress.records (records_written
 * stays 0: it is the sink's figure), a final `loading` "loader finished" with batches_published
 * and gaps, and `error` / `cancelled` as finished events.
 */
import type { Publisher } from '../bus/event-bus.ts';
import { EventTypes, Topics, sourceOf } from '../contracts/events.ts';
import {
  QueueEvent,
  type Progress,
  type QueueEventInput,
  type WorkflowError,
  type WorkflowType,
} from '../contracts/workflow.ts';
import { makeEvent } from '../runtime/cloudevents.ts';

/** The functions that report on queue-events through this reporter. */
export type LoaderName = 'loader-api' | 'loader-bulk' | 'loader-ws' | 'graph-builder' | 'gnn-trainer';

export interface WorkflowIds {
  queue_id: string;
  symbol: string;
  type: WorkflowType;
  attempt: number;
}

export interface Reporter {
  started(progress: Progress): Promise<void>;
  /** Sends a progress event unless one went out less than the interval ago (or `force`). */
  progress(progress: Progress, force?: boolean): Promise<void>;
  finished(
    progress: Progress,
    batches: number,
    gaps: { from: number; to: number }[],
    message: string,
    notes?: string[],
  ): Promise<void>;
  /**
   * The workflow is done and its results stored, by this producer itself (graph-builder,
   * gnn-trainer: no sink counts their batches); `extra` carries e.g. the model's registry entry.
   */
  completed(
    progress: Progress,
    recordsWritten: number,
    message: string,
    extra?: Pick<QueueEventInput, 'model' | 'notes'>,
  ): Promise<void>;
  error(error: WorkflowError, progress?: Progress, notes?: string[]): Promise<void>;
  cancelled(message: string, progress?: Progress): Promise<void>;
  /** The last seq used (kept in the checkpoint). */
  lastSeq(): number;
}

export function createReporter(
  bus: Publisher,
  ids: WorkflowIds,
  opts: { firstSeq: number; intervalMs: number; now: () => number; producer: LoaderName },
): Reporter {
  let seq = opts.firstSeq - 1;
  let lastProgressAt = Number.NEGATIVE_INFINITY;

  async function send(
    e: Omit<QueueEventInput, 'queue_id' | 'producer' | 'symbol' | 'type' | 'timestamp' | 'seq' | 'attempt'>,
  ): Promise<void> {
    seq += 1;
    const data = QueueEvent.parse({
      queue_id: ids.queue_id,
      producer: opts.producer,
      symbol: ids.symbol,
      type: ids.type,
      attempt: ids.attempt,
      seq,
      timestamp: new Date(opts.now()).toISOString(),
      ...e,
    });
    const event = makeEvent({
      type: EventTypes.queueEvent,
      source: sourceOf(opts.producer),
      data,
      extensions: { queueid: ids.queue_id },
    });
    await bus.publish(Topics.events, [{ key: ids.symbol, event }]);
  }

  return {
    started: (progress) => send({ status: 'started', message: 'loader started', progress }),
    async progress(progress, force = false) {
      const t = opts.now();
      if (!force && t - lastProgressAt < opts.intervalMs) return;
      lastProgressAt = t;
      await send({ status: 'loading', message: `published ${progress.pages ?? 0} pages`, progress });
    },
    finished: (progress, batches, gaps, message, notes) =>
      send({
        status: 'loading',
        finished: false,
        message,
        progress,
        batches_published: batches,
        gaps,
        ...(notes && notes.length > 0 ? { notes } : {}),
      }),
    completed: (progress, recordsWritten, message, extra) =>
      send({
        status: 'completed',
        finished: true,
        message,
        progress,
        records_written: recordsWritten,
        ...(extra?.model ? { model: extra.model } : {}),
        ...(extra?.notes && extra.notes.length > 0 ? { notes: extra.notes } : {}),
      }),
    error: (error, progress, notes) =>
      send({
        status: 'error',
        finished: true,
        message: `${error.code} ${error.message}`,
        error,
        ...(progress ? { progress } : {}),
        ...(notes && notes.length > 0 ? { notes } : {}),
      }),
    cancelled: (message, progress) =>
      send({ status: 'cancelled', finished: true, message, ...(progress ? { progress } : {}) }),
    lastSeq: () => seq,
  };
}
