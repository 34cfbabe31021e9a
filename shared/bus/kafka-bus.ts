/**
 * EventBus on Apache Kafka (kafkajs 2.2). Records are binary-mode CloudEvents (kafka-binding.ts).
 *
 * Producer: idempotent (kafkajs requires maxInFlightRequests 1 for it), acks from all in-sync
 * replicas, Kafka's default murmur2 partitioner, so a key always lands in the same partition.
 * Consumer: see kafka-consumer.ts (manual commits after the handler, in-place redelivery).
 */
import { Kafka, Partitioners, logLevel, type Admin, type Producer, type logCreator } from 'kafkajs';
import { DependencyError, InvalidInputError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { EventBus, OutgoingMessage, SubscribeOptions, Subscription, TopicSpec } from './event-bus.ts';
import {
  assertTopicName,
  assertWireRecord,
  encodeEvent,
  wireSize,
  type WireRecord,
} from './kafka-binding.ts';
import { subscribeKafka, type ConsumerTuning } from './kafka-consumer.ts';

export interface KafkaBusOptions extends Partial<ConsumerTuning> {
  brokers: string[];
  clientId: string;
  logger: Logger;
  /** Partitions for topics created by ensureTopics without a count; default 3. */
  defaultPartitions?: number;
  /**
   * Upper bound of one produce request's payload. Kafka limits a record batch to
   * `message.max.bytes` (default ~1 MiB) and kafkajs puts all messages of one send for a
   * partition into one batch, so larger publishes are split. Default 900 000.
   */
  maxSendBytes?: number;
  /** How long ping() waits for the cluster; default 3000 ms. */
  pingTimeoutMs?: number;
}

/**
 * Routes kafkajs logs to pino. kafkajs logs every error response at ERROR, including the ones
 * it retries by design (a coordinator still loading, a topic being auto-created, a rebalance):
 * single responses become debug lines, retried requests warnings; what is left is an error.
 */
function pinoLogCreator(logger: Logger): logCreator {
  return () =>
    ({ namespace, level, log }) => {
      const { message, timestamp: _t, ...extra } = log;
      const fields = { ...extra, kafkajs: namespace };
      if (level === logLevel.ERROR && namespace === 'Connection') logger.debug(fields, message);
      else if (level === logLevel.ERROR && !('retryCount' in extra)) logger.error(fields, message);
      // Retried errors and kafkajs warnings (rebalances, reconnects) are expected: info.
      else if (level === logLevel.ERROR || level === logLevel.WARN) logger.info(fields, message);
      else if (level === logLevel.INFO) logger.info(fields, message);
      else logger.debug(fields, message);
    };
}

/** Splits records into sends of at most `maxBytes` (a single larger record goes alone). */
function chunkBySize(records: WireRecord[], maxBytes: number): WireRecord[][] {
  const chunks: WireRecord[][] = [];
  let current: WireRecord[] = [];
  let size = 0;
  for (const r of records) {
    const n = wireSize(r);
    if (current.length > 0 && size + n > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += n;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** Connects once, on first use; a failed attempt is retried by the next call. */
function lazy(connect: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | undefined;
  return () => {
    p ??= connect().catch((err: unknown) => {
      p = undefined;
      throw err;
    });
    return p;
  };
}

function asDependencyError(what: string, err: unknown): Error {
  if (err instanceof InvalidInputError || err instanceof DependencyError) return err;
  return new DependencyError(
    `kafka: ${what} failed: ${err instanceof Error ? err.message : String(err)}`,
    err,
  );
}

/** Creates the Kafka adapter. Nothing connects until the first call that needs a connection. */
export function createKafkaBus(opts: KafkaBusOptions): EventBus {
  if (opts.brokers.length === 0) throw new InvalidInputError('createKafkaBus: no brokers given');
  const log = opts.logger.child({ component: 'kafka-bus' });
  const kafka = new Kafka({
    clientId: opts.clientId,
    brokers: opts.brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(log),
  });
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const admin: Admin = kafka.admin();
  const producerReady = lazy(() => producer.connect());
  const adminReady = lazy(() => admin.connect());
  const tuning: ConsumerTuning = {
    retryBackoffMs: opts.retryBackoffMs ?? 100,
    maxRetryBackoffMs: opts.maxRetryBackoffMs ?? 5_000,
    sessionTimeoutMs: opts.sessionTimeoutMs ?? 30_000,
    heartbeatIntervalMs: opts.heartbeatIntervalMs ?? 3_000,
    maxWaitTimeMs: opts.maxWaitTimeMs ?? 1_000,
    joinTimeoutMs: opts.joinTimeoutMs ?? 60_000,
  };
  const maxSendBytes = opts.maxSendBytes ?? 900_000;
  const pingTimeoutMs = opts.pingTimeoutMs ?? 3_000;
  const subscriptions = new Set<Subscription>();
  let closed = false;
  const assertOpen = (): void => {
    if (closed) throw new Error('event bus is closed');
  };

  async function sendRecords(topic: string, records: WireRecord[]): Promise<void> {
    assertOpen();
    assertTopicName(topic);
    if (records.length === 0) return;
    try {
      await producerReady();
      // Sequential sends keep publish order per partition (one request in flight).
      for (const chunk of chunkBySize(records, maxSendBytes)) {
        await producer.send({
          topic,
          acks: -1,
          messages: chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        });
      }
    } catch (err) {
      throw asDependencyError(`publish to ${topic}`, err);
    }
  }

  return {
    async ensureTopics(specs: TopicSpec[]): Promise<void> {
      assertOpen();
      for (const spec of specs) assertTopicName(spec.topic);
      if (specs.length === 0) return;
      try {
        await adminReady();
        const existing = new Set(await admin.listTopics());
        const missing = specs.filter((s) => !existing.has(s.topic));
        if (missing.length === 0) return;
        // createTopics answers false (no error) for topics another client created meanwhile.
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((s) => ({
            topic: s.topic,
            numPartitions: s.partitions ?? opts.defaultPartitions ?? 3,
            configEntries: Object.entries(s.config ?? {}).map(([name, value]) => ({ name, value })),
          })),
        });
      } catch (err) {
        throw asDependencyError('ensureTopics', err);
      }
    },

    publish(topic: string, messages: OutgoingMessage[]): Promise<void> {
      // Encode everything first: one invalid event rejects the call before anything is sent.
      return Promise.resolve().then(() =>
        sendRecords(
          topic,
          messages.map((m) => encodeEvent(m)),
        ),
      );
    },

    publishWire(topic: string, records: WireRecord[]): Promise<void> {
      return Promise.resolve().then(() => {
        for (const r of records) assertWireRecord(r);
        return sendRecords(topic, records);
      });
    },

    async subscribe(s: SubscribeOptions): Promise<Subscription> {
      assertOpen();
      if (s.groupId.length === 0) throw new InvalidInputError('subscribe: groupId must not be empty');
      if (s.topics.length === 0) throw new InvalidInputError('subscribe: at least one topic is needed');
      for (const topic of s.topics) assertTopicName(topic);
      const inner = await subscribeKafka(kafka, s, tuning, log).catch((err: unknown) => {
        throw asDependencyError(`subscribe ${s.groupId}`, err);
      });
      const sub: Subscription = {
        close: async () => {
          subscriptions.delete(sub);
          await inner.close();
        },
      };
      subscriptions.add(sub);
      return sub;
    },

    async ping(): Promise<void> {
      assertOpen();
      // kafkajs retries a dead broker for many seconds; a readiness probe wants an answer sooner.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${pingTimeoutMs} ms`)), pingTimeoutMs);
      });
      try {
        await Promise.race([adminReady().then(() => admin.describeCluster()), timeout]);
      } catch (err) {
        throw asDependencyError('ping', err);
      } finally {
        clearTimeout(timer);
      }
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.close()));
      await Promise.allSettled([producer.disconnect(), admin.disconnect()]);
    },
  };
}
