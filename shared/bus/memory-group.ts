/**
 * Consumer groups of the in-process bus (memory-bus.ts): committed offsets, partition assignment
 * among the group's members and one delivery loop per partition that keeps Kafka's guarantees:
 * in order, at least once, commit only after the handler resolved.
 */
import type { Logger } from '../runtime/logger.ts';
import type { BusEvent, MessageHandler, SubscribeOptions } from './event-bus.ts';
import type { WireRecord } from './kafka-binding.ts';
import type { MemoryTopic, PartitionLog } from './memory-bus.ts';

/** Longest stretch a delivery loop runs before it lets the event loop turn. */
const YIELD_EVERY_MS = 20;

/** FIFO counting semaphore: `partitionsConsumedConcurrently` per member, as in kafkajs. */
class Slots {
  private readonly waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/** One subscriber of a group. */
export interface Member {
  topics: ReadonlySet<string>;
  from: 'earliest' | 'latest';
  handler: MessageHandler;
  slots: Slots;
  closed: boolean;
  inflight: number;
  onIdle: (() => void)[];
}

export interface GroupDeps {
  logger: Logger;
  retryBackoffMs: number;
  maxRetryBackoffMs: number;
  decode(r: WireRecord): BusEvent;
  /** Called after every commit (retention). */
  onCommit(topic: MemoryTopic, partition: number): void;
}

type Decoded = { event: BusEvent } | { error: unknown };

/** A consumer group: members, committed offsets, and a delivery loop per subscribed partition. */
export class GroupRunner {
  private readonly members: Member[] = [];
  private readonly committed = new Map<string, Map<number, number>>();
  private readonly loops = new Map<string, PartitionLoop>();

  constructor(
    readonly id: string,
    readonly deps: GroupDeps,
  ) {}

  join(topics: MemoryTopic[], opts: SubscribeOptions): Member {
    const member: Member = {
      topics: new Set(topics.map((t) => t.name)),
      from: opts.from ?? 'earliest',
      handler: opts.handler,
      slots: new Slots(Math.max(1, opts.partitionsConsumedConcurrently ?? 1)),
      closed: false,
      inflight: 0,
      onIdle: [],
    };
    this.members.push(member);
    for (const t of topics) {
      t.partitions.forEach((_, p) => {
        const k = `${t.name}\u0000${p}`;
        if (!this.loops.has(k)) this.loops.set(k, new PartitionLoop(this, t, p));
      });
    }
    this.rebalance();
    return member;
  }

  /** Removes a member; resolves once its in-flight handlers returned and were committed. */
  async leave(member: Member): Promise<void> {
    if (member.closed) return;
    member.closed = true;
    this.members.splice(this.members.indexOf(member), 1);
    this.rebalance();
    if (member.inflight > 0) await new Promise<void>((resolve) => member.onIdle.push(resolve));
  }

  /** Simple assignment: partition p of a topic goes to member p mod n of its subscribers. */
  owner(topic: string, partition: number): Member | undefined {
    const subs = this.members.filter((m) => m.topics.has(topic));
    return subs.length === 0 ? undefined : subs[partition % subs.length];
  }

  committedOffset(topic: string, partition: number): number | undefined {
    return this.committed.get(topic)?.get(partition);
  }

  commit(topic: MemoryTopic, partition: number, offset: number): void {
    let m = this.committed.get(topic.name);
    if (!m) this.committed.set(topic.name, (m = new Map<number, number>()));
    m.set(partition, offset);
    this.deps.onCommit(topic, partition);
  }

  /** Lowest offset this group may still need (retention must keep it). */
  lowWatermark(topic: MemoryTopic, partition: number): number {
    const log = topic.partitions[partition]!;
    return (
      this.committedOffset(topic.name, partition) ??
      this.loops.get(`${topic.name}\u0000${partition}`)?.position ??
      log.start
    );
  }

  private rebalance(): void {
    for (const loop of this.loops.values()) loop.kick();
  }
}

/** Delivers one partition to whichever member currently owns it. */
class PartitionLoop {
  /** Next offset to deliver; resolved from the committed offset or `from` when ownership changes. */
  position: number | undefined;
  private owner: Member | undefined;
  private redeliveries = 0;
  /** The next record, decoded while the handler of the current one waited. */
  private ahead: { offset: number; decoded: Promise<Decoded> } | undefined;
  private running = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly group: GroupRunner,
    private readonly topic: MemoryTopic,
    private readonly partition: number,
  ) {}

  /** Re-checks ownership now: cuts short an idle wait or a redelivery backoff. */
  kick(): void {
    const w = this.wake;
    this.wake = null;
    if (w) w();
    else if (!this.running) this.start();
  }

  private start(): void {
    this.running = true;
    this.run().catch((err: unknown) => {
      this.running = false;
      this.group.deps.logger.error({ err, group: this.group.id }, 'memory bus: delivery loop failed');
    });
  }

  private async run(): Promise<void> {
    const log = this.topic.partitions[this.partition]!;
    let lastYield = Date.now();
    await Promise.resolve(); // never run a handler inside subscribe() itself
    for (;;) {
      if (Date.now() - lastYield > YIELD_EVERY_MS) {
        // Handlers that never wait on I/O (better-sqlite3 is synchronous) would otherwise starve
        // timers and sockets for as long as a backlog lasts.
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = Date.now();
      }
      const owner = this.group.owner(this.topic.name, this.partition);
      if (!owner) {
        // Nobody is assigned; the next join kicks the loop again. `running` is reset here, not in
        // a `finally`, so a join in the very next tick cannot find the loop "running" but gone.
        this.owner = undefined;
        this.running = false;
        return;
      }
      if (owner !== this.owner) {
        // A new owner starts where the group committed, like a consumer after a rebalance.
        this.owner = owner;
        this.position =
          this.group.committedOffset(this.topic.name, this.partition) ??
          (owner.from === 'latest' ? log.end : log.start);
      }
      const offset = Math.max(this.position ?? log.start, log.start);
      this.position = offset;
      const record = log.get(offset);
      if (!record) {
        await this.idle(log);
        continue;
      }
      const release = await owner.slots.acquire();
      if (owner.closed || this.group.owner(this.topic.name, this.partition) !== owner) {
        release(); // reassigned while waiting for a slot
        continue;
      }
      owner.inflight++;
      let delay: number;
      try {
        delay = await this.deliver(owner, record, offset);
      } finally {
        release();
        if (--owner.inflight === 0) for (const f of owner.onIdle.splice(0)) f();
      }
      if (delay > 0 && this.group.owner(this.topic.name, this.partition) === owner) await this.sleep(delay);
    }
  }

  /** Hands one record to the owner; returns the backoff before a redelivery (0 after a commit). */
  private async deliver(owner: Member, record: WireRecord, offset: number): Promise<number> {
    const { logger, retryBackoffMs, maxRetryBackoffMs } = this.group.deps;
    const where = { group: this.group.id, topic: this.topic.name, partition: this.partition, offset };
    const ahead = this.ahead?.offset === offset ? this.ahead.decoded : undefined;
    this.ahead = undefined;
    const decoded = (await ahead) ?? this.decode(record);
    if ('error' in decoded) {
      // A record that is not a CloudEvent can never be handled: skip it, as a Kafka consumer would.
      logger.error({ err: decoded.error, ...where }, 'bus: skipping a record that is not a CloudEvent');
      this.advance(offset);
      return 0;
    }
    const event = decoded.event;
    try {
      const handling = owner.handler({
        ...where,
        offset: String(offset),
        key: record.key,
        event,
        redeliveries: this.redeliveries,
      });
      // Decode the next record once the handler waits (setImmediate runs after the microtasks it
      // queued): this thread parses while, say, the store's worker writes.
      const next = this.topic.partitions[this.partition]?.get(offset + 1);
      if (next !== undefined) {
        this.ahead = {
          offset: offset + 1,
          decoded: new Promise((resolve) => setImmediate(() => resolve(this.decode(next)))),
        };
      }
      await handling;
    } catch (err) {
      const delay = Math.min(maxRetryBackoffMs, retryBackoffMs * 2 ** Math.min(this.redeliveries, 20));
      this.redeliveries++;
      logger.warn(
        { err, ...where, event_id: event.id, redeliveries: this.redeliveries, retry_in_ms: delay },
        'bus: handler failed, message will be redelivered',
      );
      return delay;
    }
    this.advance(offset);
    return 0;
  }

  /** A fresh copy of the record's event for one delivery, or why it has none. */
  private decode(record: WireRecord): Decoded {
    try {
      return { event: this.group.deps.decode(record) };
    } catch (error) {
      return { error };
    }
  }

  private advance(offset: number): void {
    this.position = offset + 1;
    this.redeliveries = 0;
    this.group.commit(this.topic, this.partition, offset + 1);
  }

  private idle(log: PartitionLog): Promise<void> {
    return new Promise((resolve) => {
      const cancel = log.onAppend(() => {
        this.wake = null;
        resolve();
      });
      this.wake = () => {
        cancel();
        resolve();
      };
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
