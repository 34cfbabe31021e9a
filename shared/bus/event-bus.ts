/**
 * EventBus port (DESIGN.md "Ports and adapters"). Two adapters share one contract suite:
 * Kafka (kafkajs) and an in-process bus with Kafka's semantics.
 *
 * Semantics every adapter keeps:
 * - records with the same key land in one partition and are handled in publish order;
 * - at-least-once: a handler that throws gets the same message again (after a backoff), and
 *   nothing after it on that partition is handled before it succeeds;
 * - each consumer group has its own offsets; a new group starts at the earliest or latest offset;
 * - offsets are committed only after the handler returned.
 */

import type { WireRecord } from './kafka-binding.ts';

/** A CloudEvent as it travels on the bus: attributes plus data (JSON-serialisable). */
export interface BusEvent<T = unknown> {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  time?: string | undefined;
  subject?: string | undefined;
  datacontenttype?: string | undefined;
  data: T;
  /** CloudEvent extension attributes (lower-case a-z0-9 names), e.g. `queueid`. */
  extensions?: Record<string, string> | undefined;
}

export interface OutgoingMessage {
  /** Partition key; the platform uses the symbol. */
  key: string | null;
  event: BusEvent;
}

export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | null;
  event: BusEvent;
  /** How many times this message was handed to a handler before (0 on first delivery). */
  redeliveries: number;
}

export type MessageHandler = (msg: IncomingMessage) => Promise<void>;

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  /** Where a group with no committed offset starts; default 'earliest'. */
  from?: 'earliest' | 'latest';
  handler: MessageHandler;
  /** Partitions handled concurrently (order is kept within each); default 1. */
  partitionsConsumedConcurrently?: number;
}

export interface Subscription {
  /** Stop fetching, let the in-flight handler finish, commit, leave the group. */
  close(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions?: number;
  /** Kafka topic configs, e.g. `{ 'retention.ms': '604800000', 'cleanup.policy': 'delete' }`. */
  config?: Record<string, string>;
}

/**
 * What a process on the far side of a process boundary gets (DESIGN.md "Shape": boundaries are
 * publish-only). A loader Job publishes to Kafka, or in embedded mode to the parent's ingress
 * (http-publisher.ts); it never subscribes.
 */
export interface Publisher {
  /** Creates topics that do not exist yet (no error when they do). */
  ensureTopics(specs: TopicSpec[]): Promise<void>;
  /** Resolves once every message is durably accepted (Kafka: acks from all in-sync replicas). */
  publish(topic: string, messages: OutgoingMessage[]): Promise<void>;
  /** Health probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface EventBus extends Publisher {
  /**
   * Appends records already in their Kafka wire form (kafka-binding.ts), as a broker takes a
   * producer's records: the headers must carry a binary-mode CloudEvent, the value is not parsed.
   * The embedded ingress (ingress.ts) hands children's records on this way, decoded by nobody
   * until their consumer.
   */
  publishWire(topic: string, records: WireRecord[]): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
}
