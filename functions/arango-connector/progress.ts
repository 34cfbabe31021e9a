/**
 * Per-workflow progress and completion (brief "Cross-function agreements"): which batch seqs of
 * a workflow attempt are stored, the cumulative `records_written`, and exactly one `completed`
 * event once the loader's `batches_published` N is known and seqs 0..N-1 are all stored —
 * whichever of the two arrives last.
 *
 * Safety: the seq set (not a counter) makes a redelivery after a crash converge; writes use the
 * document revision (optimistic concurrency) so several replicas agree; the completion is first
 * claimed by revision, then published, then marked published.
 */
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { EventTypes, Topics, sourceOf } from '../../shared/contracts/events.ts';
import {
  QueueEvent,
  typeFromQueueId,
  type QueueEventInput,
  type WorkflowType,
} from '../../shared/contracts/workflow.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import { ConflictError, DependencyError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { mergeRangeSet } from '../../shared/store/ranges.ts';
import type { Store, StoredDoc } from '../../shared/store/store.ts';
import { ConnectorProgress, FUNCTION_NAME, PROGRESS_COLLECTION } from './schema.ts';

const MAX_CAS_TRIES = 20;
/** Progress documents of this many workflow attempts are remembered between batches. */
const MAX_KNOWN = 1024;

export interface ProgressDeps {
  store: Store;
  bus: EventBus;
  logger: Logger;
  /** At most one `loading` event per workflow per this many ms; the last one is always sent. */
  intervalMs: number;
}

/** Identity of a workflow attempt plus what events need (symbol, type). */
export interface WorkflowRef {
  queue_id: string;
  attempt: number;
  symbol: string;
  /** Known workflow type, if any (else derived from the queue id). */
  type?: WorkflowType | undefined;
}

export function progressKey(queueId: string, attempt: number): string {
  return `${queueId}:${attempt}`;
}

function hasSeq(p: ConnectorProgress, seq: number): boolean {
  return p.stored.some((r) => seq >= r.from && seq < r.to);
}

function allStored(p: ConnectorProgress): boolean {
  const n = p.batches_published;
  if (n === undefined) return false;
  if (n === 0) return true;
  const first = p.stored[0];
  return first !== undefined && first.from === 0 && first.to >= n;
}

export function createProgressTracker(deps: ProgressDeps) {
  const { store, bus, logger } = deps;
  /** In-process serialisation per workflow attempt, so replicas rarely conflict on revisions. */
  const locks = new Map<string, Promise<unknown>>();
  const lastSent = new Map<string, number>();
  const timers = new Map<string, NodeJS.Timeout>();
  const latest = new Map<string, ConnectorProgress>();
  /**
   * The progress documents this tracker last wrote, with their revisions: the next batch of the
   * workflow writes on top of them without reading first (one store round trip instead of two).
   * A stale one (another replica wrote since) fails the revision check and is read afresh, and a
   * "nothing to write" decided on one is confirmed on a fresh read; so this only saves reads.
   */
  const known = new Map<string, StoredDoc<ConnectorProgress>>();

  function remember(key: string, cur: StoredDoc<ConnectorProgress>): void {
    known.delete(key); // re-inserted last: the map's order is least recently written first
    known.set(key, cur);
    if (known.size > MAX_KNOWN) known.delete(known.keys().next().value as string);
  }

  function locked<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    locks.set(key, tail);
    void tail.then(() => {
      if (locks.get(key) === tail) locks.delete(key);
    });
    return run;
  }

  async function read(key: string): Promise<StoredDoc<ConnectorProgress> | null> {
    const got = await store.getDoc<unknown>(PROGRESS_COLLECTION, key);
    return got === null ? null : { doc: ConnectorProgress.parse(got.doc), rev: got.rev };
  }

  /** Read-modify-write with the revision; retried on conflict with another writer. */
  async function update(
    ref: WorkflowRef,
    change: (p: ConnectorProgress) => ConnectorProgress | null,
  ): Promise<StoredDoc<ConnectorProgress>> {
    const key = progressKey(ref.queue_id, ref.attempt);
    for (let i = 0; i < MAX_CAS_TRIES; i++) {
      const remembered = i === 0 ? known.get(key) : undefined;
      const cur = remembered ?? (await read(key));
      const base: ConnectorProgress = cur?.doc ?? {
        queue_id: ref.queue_id,
        attempt: ref.attempt,
        stored: [],
        records_written: 0,
        completion: 'none',
        updated_at: new Date().toISOString(),
      };
      const next = change({ ...base, symbol: base.symbol ?? ref.symbol, type: base.type ?? ref.type });
      if (next === null && cur !== null) {
        // Nothing to write. Decided on a remembered document, that could be stale (a replica
        // completed the workflow since): confirm on the stored one before acting on it.
        if (remembered === undefined) return cur;
        continue;
      }
      const doc = { ...(next ?? base), updated_at: new Date().toISOString() };
      try {
        const rev = await store.putDoc(PROGRESS_COLLECTION, key, doc, cur?.rev);
        remember(key, { doc, rev });
        return { doc, rev };
      } catch (err) {
        known.delete(key);
        if (!(err instanceof ConflictError)) throw err;
      }
    }
    throw new DependencyError(`progress ${key}: too many concurrent writers`);
  }

  function eventFor(
    p: ConnectorProgress,
    status: 'loading' | 'completed',
    message: string,
  ): QueueEventInput | null {
    const type = p.type ?? typeFromQueueId(p.queue_id);
    if (type === undefined || p.symbol === undefined) {
      logger.warn({ queue_id: p.queue_id }, 'cannot report progress: workflow type or symbol unknown');
      return null;
    }
    return {
      queue_id: p.queue_id,
      producer: FUNCTION_NAME,
      symbol: p.symbol,
      type,
      status,
      message,
      records_written: p.records_written,
      finished: status === 'completed',
      timestamp: new Date().toISOString(),
      attempt: p.attempt,
    };
  }

  async function publish(data: QueueEventInput): Promise<void> {
    const parsed = QueueEvent.parse(data);
    const event = makeEvent({
      type: EventTypes.queueEvent,
      source: sourceOf(FUNCTION_NAME),
      data: parsed,
      extensions: { queueid: parsed.queue_id },
    });
    try {
      await bus.publish(Topics.events, [{ key: parsed.symbol, event }]);
    } catch (err) {
      throw new DependencyError('bus unavailable: cannot publish to queue-events', err);
    }
  }

  async function sendLoading(key: string): Promise<void> {
    timers.delete(key);
    const p = latest.get(key);
    if (p === undefined) return;
    latest.delete(key);
    lastSent.set(key, Date.now());
    const data = eventFor(p, 'loading', `${p.records_written} records stored`);
    if (data === null) return;
    try {
      await publish(data);
    } catch (err) {
      // Informational only: the next batch or the completion reports the figure again.
      logger.warn({ err, queue_id: p.queue_id }, 'progress event not published');
    }
  }

  /** An unthrottled `loading` event with a message worth reading (dead letters). */
  async function sendNote(p: ConnectorProgress, message: string): Promise<void> {
    const data = eventFor(p, 'loading', message);
    if (data === null) return;
    try {
      await publish(data);
    } catch (err) {
      logger.warn({ err, queue_id: p.queue_id, message }, 'progress note not published');
    }
  }

  /** Throttled `loading` event; a trailing one is scheduled so the last figure always goes out. */
  function reportLoading(key: string, p: ConnectorProgress): void {
    latest.set(key, p);
    if (timers.has(key)) return;
    const wait = (lastSent.get(key) ?? 0) + deps.intervalMs - Date.now();
    if (wait <= 0) {
      void sendLoading(key);
      return;
    }
    const t = setTimeout(() => void sendLoading(key), wait);
    t.unref();
    timers.set(key, t);
  }

  function cancelLoading(key: string): void {
    const t = timers.get(key);
    if (t !== undefined) clearTimeout(t);
    timers.delete(key);
    latest.delete(key);
    lastSent.delete(key);
  }

  /** Claims, publishes and marks the completion; a failed publish releases the claim (retry). */
  async function maybeComplete(
    ref: WorkflowRef,
    cur: StoredDoc<ConnectorProgress>,
    resumeClaimed = false,
  ): Promise<void> {
    // A claim held by someone else (another replica mid-publish) is theirs to finish; only the
    // start-up recovery resumes claims left behind by a crash.
    if (cur.doc.completion === 'published' || !allStored(cur.doc)) return;
    if (cur.doc.completion === 'claimed' && !resumeClaimed) return;
    const key = progressKey(ref.queue_id, ref.attempt);
    known.delete(key); // written below without update(): read afresh next time
    let claimed = cur;
    if (cur.doc.completion === 'none') {
      const doc: ConnectorProgress = {
        ...cur.doc,
        completion: 'claimed',
        completed_at: new Date().toISOString(),
      };
      try {
        claimed = { doc, rev: await store.putDoc(PROGRESS_COLLECTION, key, doc, cur.rev) };
      } catch (err) {
        if (err instanceof ConflictError) return; // another writer moved on; it decides
        throw err;
      }
    }
    cancelLoading(key);
    const data = eventFor(claimed.doc, 'completed', `all ${claimed.doc.batches_published} batches stored`);
    try {
      if (data !== null) await publish(data);
    } catch (err) {
      await store
        .putDoc(PROGRESS_COLLECTION, key, { ...claimed.doc, completion: 'none' }, claimed.rev)
        .catch(() => 0);
      throw err;
    }
    await store
      .putDoc(PROGRESS_COLLECTION, key, { ...claimed.doc, completion: 'published' }, claimed.rev)
      .catch((e) => {
        logger.warn({ err: e, queue_id: ref.queue_id }, 'completion published but not marked');
      });
    logger.info(
      { queue_id: ref.queue_id, attempt: ref.attempt, records_written: claimed.doc.records_written },
      'workflow completed',
    );
  }

  return {
    /** True when this batch seq is already stored (a redelivery of a finished batch). */
    async isStored(ref: WorkflowRef, seq: number): Promise<boolean> {
      const cur = await read(progressKey(ref.queue_id, ref.attempt));
      return cur !== null && hasSeq(cur.doc, seq);
    },

    /** Adds a stored batch (idempotent per seq), reports progress and completes when due. */
    batchStored(ref: WorkflowRef, seq: number, records: number, note?: string): Promise<boolean> {
      const key = progressKey(ref.queue_id, ref.attempt);
      return locked(key, async () => {
        let added = false;
        // Decided per try: after a revision conflict another writer may have added the seq.
        const cur = await update(ref, (p) => {
          added = !hasSeq(p, seq);
          if (!added) return null;
          return {
            ...p,
            stored: mergeRangeSet([...p.stored, { from: seq, to: seq + 1 }]),
            records_written: p.records_written + records,
          };
        });
        if (note !== undefined) await sendNote(cur.doc, note);
        if (cur.doc.completion === 'none' && !allStored(cur.doc)) reportLoading(key, cur.doc);
        await maybeComplete(ref, cur);
        return added;
      });
    },

    /** The loader's final event: N batches published. */
    loaderFinished(ref: WorkflowRef, batchesPublished: number): Promise<void> {
      const key = progressKey(ref.queue_id, ref.attempt);
      return locked(key, async () => {
        const cur = await update(ref, (p) =>
          p.batches_published === batchesPublished ? null : { ...p, batches_published: batchesPublished },
        );
        await maybeComplete(ref, cur);
      });
    },

    /** Completions claimed but not marked published (a crash in between): publish them again. */
    async recover(): Promise<void> {
      const { items } = await store.findDocs<unknown>(PROGRESS_COLLECTION, {
        where: { completion: 'claimed' },
        limit: 1000,
      });
      for (const item of items) {
        const doc = ConnectorProgress.parse(item.doc);
        const ref = {
          queue_id: doc.queue_id,
          attempt: doc.attempt,
          symbol: doc.symbol ?? '',
          type: doc.type,
        };
        await locked(progressKey(doc.queue_id, doc.attempt), () =>
          maybeComplete(ref, { doc, rev: item.rev }, true),
        );
      }
    },

    /** Sends pending `loading` events now (shutdown). */
    async flush(): Promise<void> {
      const keys = [...timers.keys()];
      for (const key of keys) {
        const t = timers.get(key);
        if (t !== undefined) clearTimeout(t);
      }
      await Promise.all(keys.map((k) => sendLoading(k)));
    },
  };
}

export type ProgressTracker = ReturnType<typeof createProgressTracker>;
