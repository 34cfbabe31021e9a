/**
 * In-process EventBus with Kafka's semantics (DESIGN.md "Ports and adapters", embedded mode):
 * topics of partitioned append-only logs, key → partition by Kafka's own murmur2 hash, consumer
 * groups with their own committed offsets, per-partition order and at-least-once delivery.
 *
 * Records are stored in their Kafka wire form (kafka-binding.ts) and decoded afresh for every
 * delivery, so handlers never share objects with publishers, exactly as across a network.
 */
import { pino } from 'pino';
import { InvalidInputError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { EventBus, OutgoingMessage, SubscribeOptions, Subscription, TopicSpec } from './event-bus.ts';
import {
  assertTopicName,
  assertWireRecord,
  decodeEvent,
  encodeEvent,
  type WireRecord,
} from './kafka-binding.ts';
import { GroupRunner, type Member } from './memory-group.ts';

/** Runs `fn` now; its throw becomes a rejection, as from an async call. */
function settle<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

export interface MemoryBusOptions {
  /** Partitions of topics created on demand or without an explicit count; default 3. */
  partitions?: number;
  /** First redelivery delay after a handler threw; doubles per attempt; default 100 ms. */
  retryBackoffMs?: number;
  /** Upper bound of the redelivery delay; default 5000 ms. */
  maxRetryBackoffMs?: number;
  /**
   * 'consumed': drop records that every consumer group that ever subscribed to the topic has
   * committed (like a short Kafka retention), so a long backfill does not accumulate in memory.
   * A group that subscribes later starts at the oldest retained record. Topics no group has
   * subscribed to keep their newest `unreadRetention` records per partition (a size-bounded
   * retention, as Kafka's `retention.bytes`): in embedded mode nothing reads `queue-control`.
   * Default 'all' (nothing is dropped).
   */
  retention?: 'all' | 'consumed';
  /** With retention 'consumed': records kept per partition of a topic no group reads; default 1000. */
  unreadRetention?: number;
  logger?: Logger;
}

/** The memory bus adds inspection helpers to the port (tests, metrics). */
export interface MemoryBus extends EventBus {
  /** Retained records and offsets per partition of a topic (undefined when it does not exist). */
  topicStats(topic: string): { partition: number; start: number; end: number }[] | undefined;
  /** Names of every topic and every consumer group the bus has ever had. */
  inventory(): { topics: string[]; groups: string[] };
}

/** One partition: an append-only log whose prefix may be dropped by retention. */
export class PartitionLog {
  /** Offset of the oldest retained record. */
  start = 0;
  private records: (WireRecord | undefined)[] = [];
  private head = 0;
  private readonly listeners = new Set<() => void>();

  get end(): number {
    return this.start + this.records.length - this.head;
  }

  append(r: WireRecord): number {
    this.records.push(r);
    const offset = this.end - 1;
    for (const l of [...this.listeners]) l();
    return offset;
  }

  get(offset: number): WireRecord | undefined {
    if (offset < this.start) return undefined;
    return this.records[this.head + offset - this.start];
  }

  /** Calls `fn` once on the next append; returns a function that cancels it. */
  onAppend(fn: () => void): () => void {
    const once = (): void => {
      this.listeners.delete(once);
      fn();
    };
    this.listeners.add(once);
    return () => this.listeners.delete(once);
  }

  /** Drops records below `offset`. */
  trimTo(offset: number): void {
    const to = Math.min(offset, this.end);
    if (to <= this.start) return;
    const head = this.head + to - this.start;
    // Release the records now; the array itself is compacted only now and then.
    this.records.fill(undefined, this.head, head);
    this.head = head;
    this.start = to;
    // Compact only now and then so trimming stays cheap.
    if (this.head > 1024 && this.head * 2 > this.records.length) {
      this.records = this.records.slice(this.head);
      this.head = 0;
    }
  }
}

export interface MemoryTopic {
  name: string;
  partitions: PartitionLog[];
  /** Groups that ever subscribed: retention keeps what any of them has not committed. */
  groups: Set<GroupRunner>;
  nextRoundRobin: number;
}

/** Kafka's murmur2 (Java client `Utils.murmur2`), so keys land in the same partitions as on Kafka. */
export function murmur2(key: string): number {
  const data = Buffer.from(key);
  const m = 0x5bd1e995;
  const len = data.length;
  let h = 0x9747b28c ^ len;
  const len4 = len >> 2;
  for (let i = 0; i < len4; i++) {
    const i4 = i * 4;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, m);
    k ^= k >>> 24;
    k = Math.imul(k, m);
    h = Math.imul(h, m) ^ k;
  }
  const tail = len & ~3;
  const rest = len % 4;
  if (rest === 3) h ^= data[tail + 2]! << 16;
  if (rest >= 2) h ^= data[tail + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ data[tail]!, m);
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's default partitioner for a keyed record. */
export function partitionForKey(key: string, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/** Creates the in-process bus. */
export function createMemoryBus(opts: MemoryBusOptions = {}): MemoryBus {
  const defaultPartitions = opts.partitions ?? 3;
  const log = opts.logger ?? pino({ level: 'silent' });
  const topics = new Map<string, MemoryTopic>();
  const groups = new Map<string, GroupRunner>();
  const subscriptions = new Set<Subscription>();
  let closed = false;

  const assertOpen = (): void => {
    if (closed) throw new Error('event bus is closed');
  };

  function topicOf(name: string, partitions = defaultPartitions): MemoryTopic {
    let t = topics.get(name);
    if (t) return t;
    assertTopicName(name);
    if (!Number.isInteger(partitions) || partitions < 1) {
      throw new InvalidInputError(`topic ${name}: partitions must be a positive integer`);
    }
    t = {
      name,
      partitions: Array.from({ length: partitions }, () => new PartitionLog()),
      groups: new Set(),
      nextRoundRobin: 0,
    };
    topics.set(name, t);
    return t;
  }

  function trim(topic: MemoryTopic, partition: number): void {
    if (opts.retention !== 'consumed' || topic.groups.size === 0) return;
    let low = Number.POSITIVE_INFINITY;
    for (const g of topic.groups) low = Math.min(low, g.lowWatermark(topic, partition));
    topic.partitions[partition]?.trimTo(low);
  }

  const unreadRetention = opts.unreadRetention ?? 1000;
  function append(t: MemoryTopic, records: WireRecord[]): void {
    const bounded = opts.retention === 'consumed' && t.groups.size === 0;
    for (const r of records) {
      const n = t.partitions.length;
      const p = r.key === null ? t.nextRoundRobin++ % n : partitionForKey(r.key, n);
      const log = t.partitions[p]!;
      log.append(r);
      if (bounded && log.end - log.start > unreadRetention) log.trimTo(log.end - unreadRetention);
    }
  }

  function subscribe(s: SubscribeOptions): Subscription {
    assertOpen();
    if (s.groupId.length === 0) throw new InvalidInputError('subscribe: groupId must not be empty');
    if (s.topics.length === 0) throw new InvalidInputError('subscribe: at least one topic is needed');
    const subscribed = s.topics.map((name) => topicOf(name));
    let group = groups.get(s.groupId);
    if (!group) {
      group = new GroupRunner(s.groupId, {
        logger: log,
        retryBackoffMs: opts.retryBackoffMs ?? 100,
        maxRetryBackoffMs: opts.maxRetryBackoffMs ?? 5000,
        decode: (r) => decodeEvent(r.headers, r.value),
        onCommit: trim,
      });
      groups.set(s.groupId, group);
    }
    const member: Member = group.join(subscribed, s);
    for (const t of subscribed) t.groups.add(group);
    const g = group;
    const sub: Subscription = {
      close: async () => {
        subscriptions.delete(sub);
        await g.leave(member);
      },
    };
    subscriptions.add(sub);
    return sub;
  }

  return {
    ensureTopics: (specs: TopicSpec[]) =>
      settle(() => {
        assertOpen();
        for (const s of specs) topicOf(s.topic, s.partitions ?? defaultPartitions);
      }),

    publish: (topic: string, messages: OutgoingMessage[]) =>
      settle(() => {
        assertOpen();
        const t = topicOf(topic);
        // Encode everything first: one invalid event rejects the call before anything is appended.
        append(
          t,
          messages.map((m) => encodeEvent(m)),
        );
      }),

    publishWire: (topic: string, records: WireRecord[]) =>
      settle(() => {
        assertOpen();
        const t = topicOf(topic);
        for (const r of records) assertWireRecord(r);
        append(
          t,
          records.map((r) => ({ key: r.key, headers: { ...r.headers }, value: r.value })),
        );
      }),

    subscribe: (s: SubscribeOptions) => settle(() => subscribe(s)),

    ping: () => settle(assertOpen),

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.close()));
    },

    inventory: () => ({ topics: [...topics.keys()].sort(), groups: [...groups.keys()].sort() }),

    topicStats(topic: string) {
      const t = topics.get(topic);
      return t?.partitions.map((p, partition) => ({ partition, start: p.start, end: p.end }));
    },
  };
}
