/**
 * HTTP bridge to an in-process EventBus (brief "Jobs / embedded mode"): a loader running as a
 * child process cannot reach its parent's in-process bus, so the parent serves these routes and
 * the child uses http-bus.ts. Semantics stay the bus's own: the parent subscribes on the child's
 * behalf, and its handler resolves only when the child acknowledges the message, so order per
 * partition, at-least-once and commit-after-success hold across the process boundary.
 *
 *   GET    /bus/ping                          bus.ping()
 *   POST   /bus/topics          {topics}      bus.ensureTopics()
 *   POST   /bus/publish         {topic, records} (wire form, kafka-binding.ts) or {topic, messages}
 *   POST   /bus/subscriptions   {groupId, topics, from?, partitionsConsumedConcurrently?} → {id}
 *   GET    /bus/subscriptions/:id/poll?waitMs=  long poll → {deliveries: [{delivery, message}]}
 *   POST   /bus/subscriptions/:id/ack {delivery, ok, error?}
 *   DELETE /bus/subscriptions/:id
 *
 * A subscription whose child stops polling for `leaseMs` is closed; its unacknowledged messages
 * are redelivered. Serve it on loopback only; with `token` set every call needs that bearer.
 */
import { randomUUID } from 'node:crypto';
import { Hono, type Context } from 'hono';
import type { z } from 'zod';
import { InvalidInputError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { EventBus, IncomingMessage, Subscription } from './event-bus.ts';
import {
  AckBody,
  PublishBody,
  PublishWireBody,
  SubscribeBody,
  TopicsBody,
  type PollReply,
} from './http-wire.ts';
import { decodeEvent, type WireRecord } from './kafka-binding.ts';

export interface BusBridgeOptions {
  bus: EventBus;
  logger: Logger;
  /** Required bearer token; unset = no check (loopback tests). */
  token?: string;
  /** A subscription not polled for this long is closed; default 30 s. */
  leaseMs?: number;
  /** Longest long poll; default 20 s. */
  maxWaitMs?: number;
  /** A message handed out but not acknowledged for this long is failed (redelivered); default 5 min. */
  ackTimeoutMs?: number;
}

export interface BusBridge {
  /** Hono app with the routes under `/bus`. */
  app: Hono;
  /** Closes every bridged subscription (their unacknowledged messages stay uncommitted). */
  close(): Promise<void>;
}

interface Waiting {
  resolve: () => void;
  reject: (err: Error) => void;
  timer?: NodeJS.Timeout;
}

interface Bridged {
  id: string;
  group: string;
  sub: Subscription | undefined;
  queue: { delivery: string; message: IncomingMessage }[];
  waiting: Map<string, Waiting>;
  pollers: Set<() => void>;
  lastSeen: number;
  closed: boolean;
}

function parse<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const r = schema.safeParse(body);
  if (!r.success) throw InvalidInputError.fromZod('invalid bus bridge request', r.error);
  return r.data;
}

export function createBusBridge(opts: BusBridgeOptions): BusBridge {
  const { bus } = opts;
  const log = opts.logger.child({ component: 'bus-bridge' });
  const leaseMs = opts.leaseMs ?? 30_000;
  const maxWaitMs = opts.maxWaitMs ?? 20_000;
  const ackTimeoutMs = opts.ackTimeoutMs ?? 300_000;
  const subs = new Map<string, Bridged>();

  async function closeBridged(b: Bridged, why: string): Promise<void> {
    if (b.closed) return;
    b.closed = true;
    subs.delete(b.id);
    for (const wake of b.pollers) wake();
    // Fail what the child still holds: the bus keeps those offsets uncommitted.
    for (const w of b.waiting.values()) {
      clearTimeout(w.timer);
      w.reject(new Error(`bridged subscription closed (${why})`));
    }
    b.waiting.clear();
    b.queue = [];
    await b.sub?.close();
    log.info({ subscription: b.id, group: b.group, why }, 'bridged subscription closed');
  }

  const sweeper = setInterval(
    () => {
      const now = Date.now();
      for (const b of subs.values()) {
        if (b.pollers.size === 0 && now - b.lastSeen > leaseMs) void closeBridged(b, 'lease expired');
      }
    },
    Math.min(leaseMs, 5000),
  );
  sweeper.unref();

  const app = new Hono().basePath('/bus');

  app.use('*', async (c, next) => {
    if (opts.token !== undefined && c.req.header('authorization') !== `Bearer ${opts.token}`) {
      return c.json({ error: 'missing or wrong bearer token' }, 401);
    }
    await next();
    return undefined;
  });

  app.onError((err, c) => {
    if (err instanceof InvalidInputError)
      return c.json({ error: err.message, issues: err.issues ?? [] }, 400);
    log.warn({ err }, 'bus bridge call failed');
    return c.json({ error: err instanceof Error ? err.message : String(err) }, 503);
  });

  const json = async (c: Context): Promise<unknown> => {
    try {
      return (await c.req.json()) as unknown;
    } catch {
      throw new InvalidInputError('body must be JSON');
    }
  };

  app.get('/ping', async (c) => {
    await bus.ping();
    return c.body(null, 204);
  });

  app.post('/topics', async (c) => {
    const { topics } = parse(TopicsBody, await json(c));
    await bus.ensureTopics(topics);
    return c.body(null, 204);
  });

  /** A bus that takes wire records as they are (the in-process bus); others get decoded events. */
  const publishWire =
    'publishWire' in bus && typeof bus.publishWire === 'function'
      ? (bus.publishWire as (topic: string, records: WireRecord[]) => Promise<void>).bind(bus)
      : (topic: string, records: WireRecord[]) =>
          bus.publish(
            topic,
            records.map((r) => ({ key: r.key, event: decodeEvent(r.headers, r.value) })),
          );

  app.post('/publish', async (c) => {
    const body = await json(c);
    // Children send wire records (http-bus.ts); `{topic, messages}` of events is accepted too.
    if (typeof body === 'object' && body !== null && 'records' in body) {
      const { topic, records } = parse(PublishWireBody, body);
      await publishWire(topic, records);
    } else {
      const { topic, messages } = parse(PublishBody, body);
      await bus.publish(topic, messages);
    }
    return c.body(null, 204);
  });

  app.post('/subscriptions', async (c) => {
    const s = parse(SubscribeBody, await json(c));
    const b: Bridged = {
      id: randomUUID(),
      group: s.groupId,
      sub: undefined,
      queue: [],
      waiting: new Map(),
      pollers: new Set(),
      lastSeen: Date.now(),
      closed: false,
    };
    subs.set(b.id, b);
    try {
      b.sub = await bus.subscribe({
        ...s,
        handler: (message) =>
          new Promise<void>((resolve, reject) => {
            if (b.closed) {
              reject(new Error('bridged subscription closed'));
              return;
            }
            const delivery = randomUUID();
            b.waiting.set(delivery, { resolve, reject });
            b.queue.push({ delivery, message });
            for (const wake of b.pollers) wake();
          }),
      });
    } catch (err) {
      subs.delete(b.id);
      throw err;
    }
    log.info({ subscription: b.id, group: s.groupId, topics: s.topics }, 'bridged subscription opened');
    return c.json({ id: b.id }, 201);
  });

  app.get('/subscriptions/:id/poll', async (c) => {
    const b = subs.get(c.req.param('id'));
    if (b === undefined) return c.json({ error: 'unknown or expired subscription' }, 404);
    const wait = Math.min(maxWaitMs, Math.max(0, Number(c.req.query('waitMs') ?? maxWaitMs) || 0));
    b.lastSeen = Date.now();
    if (b.queue.length === 0 && wait > 0) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          b.pollers.delete(done);
          resolve();
        };
        const t = setTimeout(done, wait);
        b.pollers.add(done);
      });
    }
    b.lastSeen = Date.now();
    if (b.closed) return c.json({ error: 'subscription closed' }, 404);
    const handed = b.queue.splice(0);
    for (const d of handed) {
      const w = b.waiting.get(d.delivery);
      if (w === undefined) continue;
      w.timer = setTimeout(() => {
        b.waiting.delete(d.delivery);
        log.warn({ subscription: b.id, delivery: d.delivery }, 'no ack in time: message will be redelivered');
        w.reject(new Error('bridge: no ack in time'));
      }, ackTimeoutMs);
    }
    const reply: PollReply = { deliveries: handed };
    return c.json(reply, 200);
  });

  app.post('/subscriptions/:id/ack', async (c) => {
    const b = subs.get(c.req.param('id'));
    if (b === undefined) return c.json({ error: 'unknown or expired subscription' }, 404);
    const ack = parse(AckBody, await json(c));
    const w = b.waiting.get(ack.delivery);
    if (w === undefined) return c.json({ error: 'unknown or expired delivery' }, 404);
    b.waiting.delete(ack.delivery);
    clearTimeout(w.timer);
    b.lastSeen = Date.now();
    if (ack.ok) w.resolve();
    else w.reject(new Error(`child handler failed: ${ack.error ?? 'no reason given'}`));
    return c.body(null, 204);
  });

  app.delete('/subscriptions/:id', async (c) => {
    const b = subs.get(c.req.param('id'));
    if (b !== undefined) await closeBridged(b, 'unsubscribed');
    return c.body(null, 204);
  });

  return {
    app,
    async close() {
      clearInterval(sweeper);
      await Promise.all([...subs.values()].map((b) => closeBridged(b, 'bridge closing')));
    },
  };
}
