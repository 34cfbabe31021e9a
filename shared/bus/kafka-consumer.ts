/**
 * Kafka consumer of the EventBus (kafka-bus.ts), keeping the port's guarantees:
 *
 * - autoCommit off; after a handler resolved, its offset + 1 is committed at once, so a new
 *   owner of the partition (after close, crash or rebalance) starts right after it;
 * - a handler that throws gets the same record again after a capped exponential backoff, in
 *   place inside `eachBatch`: nothing after it on that partition is handled first. kafkajs's own
 *   reaction to a throwing `eachMessage` (restart and re-fetch from the last resolved offset)
 *   would also redeliver, but with its retrier's delays and a consumer restart each time.
 * - while waiting it heartbeats, and gives up the record when the consumer stops or the
 *   partition is reassigned (`isRunning`/`isStale`): its next owner gets it again.
 */
import type { Consumer, EachBatchPayload, Kafka, KafkaMessage } from 'kafkajs';
import type { Logger } from '../runtime/logger.ts';
import type { BusEvent, SubscribeOptions, Subscription } from './event-bus.ts';
import { decodeEvent } from './kafka-binding.ts';

export interface ConsumerTuning {
  /** First redelivery delay after a handler threw; doubles per attempt. Default 100 ms. */
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  /** Group session timeout (broker bounds: group.min/max.session.timeout.ms). Default 30 s. */
  sessionTimeoutMs: number;
  /** Also how fast a member notices a rebalance. Default 3 s; tests use less. */
  heartbeatIntervalMs: number;
  /** Longest a fetch waits for data; also bounds how long `from: 'latest'` takes to settle. */
  maxWaitTimeMs: number;
  /** How long subscribe() waits to join the group. Default 60 s. */
  joinTimeoutMs: number;
}

type Batch = Pick<EachBatchPayload, 'batch' | 'heartbeat' | 'isRunning' | 'isStale' | 'resolveOffset'> & {
  commitOffsetsIfNecessary: EachBatchPayload['commitOffsetsIfNecessary'];
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Longest a handled record of a fetched batch waits for its offset to be committed. */
const COMMIT_EVERY_MS = 250;
/**
 * Bytes a fetch may bring per partition (kafkajs: 1 MiB). A data batch is ~170 KB, so 1 MiB is
 * five or six batches and one fetch round trip (which kafkajs does not overlap with handling)
 * per five batches; 8 MiB lets one fetch carry ~48 (the fetch as a whole stays under maxBytes).
 */
const MAX_BYTES_PER_PARTITION = 8 * 1024 * 1024;

/** `p`, or what `onTimeout` returns (or throws) after `ms`; the timer never outlives the call. */
async function within<T>(p: Promise<T>, ms: number, onTimeout: () => T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<T>((resolve, reject) => {
    timer = setTimeout(() => {
      try {
        resolve(onTimeout());
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    }, ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Joins the group and starts consuming; resolves once this member has joined. */
export async function subscribeKafka(
  kafka: Kafka,
  s: SubscribeOptions,
  t: ConsumerTuning,
  parentLog: Logger,
): Promise<Subscription> {
  const log = parentLog.child({ group: s.groupId });
  const consumer: Consumer = kafka.consumer({
    groupId: s.groupId,
    sessionTimeout: t.sessionTimeoutMs,
    heartbeatInterval: t.heartbeatIntervalMs,
    maxWaitTimeInMs: t.maxWaitTimeMs,
    maxBytesPerPartition: MAX_BYTES_PER_PARTITION,
    allowAutoTopicCreation: true,
  });
  // Redelivery counts of records given up mid-retry (rebalance), so a later attempt continues the count.
  const attempts = new Map<string, number>();

  type Decoded = { event: BusEvent } | { error: unknown };
  const decode = (message: KafkaMessage): Decoded => {
    try {
      return { event: decodeEvent(message.headers ?? {}, message.value) };
    } catch (error) {
      return { error };
    }
  };

  async function handle(
    topic: string,
    partition: number,
    message: KafkaMessage,
    b: Batch,
    decoded: Decoded,
  ): Promise<boolean> {
    const id = `${topic}/${partition}/${message.offset}`;
    const where = { topic, partition, offset: message.offset };
    if ('error' in decoded) {
      // Not a CloudEvent: it can never be handled. Skip it rather than block the partition.
      log.error({ err: decoded.error, ...where }, 'bus: skipping a record that is not a CloudEvent');
      return true;
    }
    let event = decoded.event;
    for (;;) {
      const redeliveries = attempts.get(id) ?? 0;
      try {
        await s.handler({ ...where, key: message.key?.toString() ?? null, event, redeliveries });
        attempts.delete(id);
        return true;
      } catch (err) {
        const delay = Math.min(t.maxRetryBackoffMs, t.retryBackoffMs * 2 ** Math.min(redeliveries, 20));
        if (attempts.size > 10_000) attempts.clear();
        attempts.set(id, redeliveries + 1);
        log.warn(
          { err, ...where, event_id: event.id, redeliveries: redeliveries + 1, retry_in_ms: delay },
          'bus: handler failed, message will be redelivered',
        );
        // Wait in slices so the group keeps seeing heartbeats and a stop is noticed soon.
        for (const until = Date.now() + delay; Date.now() < until;) {
          if (!b.isRunning() || b.isStale()) return false;
          await sleep(Math.min(until - Date.now(), t.heartbeatIntervalMs, 250));
          await b.heartbeat();
        }
        if (!b.isRunning() || b.isStale()) return false;
        // A fresh decode: a handler that mutated the event must not see its own changes again.
        event = decodeEvent(message.headers ?? {}, message.value);
      }
    }
  }

  /**
   * One fetched batch of a partition, in order. Two things overlap with a handler's own waiting
   * (a store write, say): decoding the next record, and committing. Commits happen only after
   * their handlers resolved, in offset order, and not per record: at the end of the fetched batch
   * and at least every COMMIT_EVERY_MS within it (and when the batch is left early). A crash
   * redelivers at most that much, which at-least-once allows; a commit per record cost the sink a
   * broker round trip per 1000-row batch (bench/sink.ts).
   */
  async function eachBatch(b: EachBatchPayload): Promise<void> {
    const { topic, partition } = b.batch;
    const messages = b.batch.messages;
    let committing: Promise<void> | undefined;
    let handled: string | undefined;
    let committed: string | undefined;
    let lastCommit = Date.now();
    const commit = async (): Promise<void> => {
      if (handled === undefined || handled === committed) return;
      const offset = handled;
      committed = offset;
      lastCommit = Date.now();
      await committing;
      committing = b.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      // Observed at the next await; this only keeps a failure from being reported as unhandled.
      committing.catch(() => undefined);
    };
    let decoded = messages[0] === undefined ? undefined : decode(messages[0]);
    try {
      for (let i = 0; i < messages.length; i++) {
        const message = messages[i] as KafkaMessage;
        if (!b.isRunning() || b.isStale() || decoded === undefined) return;
        const handling = handle(topic, partition, message, b, decoded);
        // Decoded once the handler has run up to its first real wait (setImmediate comes after
        // the microtasks it queued), so the decode uses this thread while the handler waits.
        const following = messages[i + 1];
        const ahead =
          following === undefined
            ? undefined
            : new Promise<Decoded>((resolve) => setImmediate(() => resolve(decode(following))));
        if (!(await handling)) return;
        decoded = ahead === undefined ? undefined : await ahead;
        b.resolveOffset(message.offset);
        handled = (BigInt(message.offset) + 1n).toString();
        if (i === messages.length - 1 || Date.now() - lastCommit >= COMMIT_EVERY_MS) await commit();
        await b.heartbeat();
      }
    } finally {
      await commit();
      await committing;
    }
  }

  const joined = new Promise<void>((resolve, reject) => {
    const offJoin = consumer.on(consumer.events.GROUP_JOIN, () => {
      offJoin();
      resolve();
    });
    consumer.on(consumer.events.CRASH, (e) => {
      log.error({ err: e.payload.error, restart: e.payload.restart }, 'bus: kafka consumer crashed');
      if (!e.payload.restart) reject(e.payload.error);
    });
  });
  joined.catch(() => undefined); // observed below; this only keeps an early crash from being unhandled
  // A 'latest' start is fixed at the member's first fetch: wait for it, or publishes made right
  // after subscribe() could land before the start offset and be skipped.
  const firstFetch = new Promise<void>((resolve) => {
    const off = consumer.on(consumer.events.FETCH, () => {
      off();
      resolve();
    });
  });

  try {
    await consumer.connect();
    await consumer.subscribe({ topics: s.topics, fromBeginning: (s.from ?? 'earliest') === 'earliest' });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: s.partitionsConsumedConcurrently ?? 1,
      eachBatch,
    });
    await within(joined, t.joinTimeoutMs, () => {
      throw new Error(`no group join within ${t.joinTimeoutMs} ms`);
    });
    // A member without partitions never fetches: then there is no start offset to wait for.
    if (s.from === 'latest') await within(firstFetch, t.maxWaitTimeMs + 1_000, () => undefined);
  } catch (err) {
    await consumer.disconnect().catch(() => undefined);
    throw err;
  }
  log.debug({ topics: s.topics }, 'bus: subscribed');

  let closing: Promise<void> | undefined;
  return {
    close: () => (closing ??= consumer.disconnect()),
  };
}
