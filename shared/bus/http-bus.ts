/**
 * EventBus adapter for child processes of the embedded platform (brief "Jobs / embedded mode"):
 * talks to the parent's bus through its HTTP bridge (http-bridge.ts). Chosen by createBus when
 * STREAMFORGE_BUS_URL is set and KAFKA_BROKERS is not.
 *
 * Subscriptions long-poll the bridge. Each message is handed to the handler and acknowledged
 * after it resolved (or failed when it threw), and the parent's bus commits only then, so the
 * port's guarantees hold: order per partition, at-least-once, commit after success.
 */
import http from 'node:http';
import { pino } from 'pino';
import type { z } from 'zod';
import { DependencyError, InvalidInputError, UnauthorizedError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type {
  EventBus,
  IncomingMessage,
  OutgoingMessage,
  SubscribeOptions,
  Subscription,
  TopicSpec,
} from './event-bus.ts';
import { send, type Reply } from './http-send.ts';
import { BridgeError, PollReply, SubscribeReply, safeJson } from './http-wire.ts';
import { encodeEvent } from './kafka-binding.ts';

export interface HttpBusOptions {
  /**
   * The bridge's base URL, e.g. `http://127.0.0.1:43121/bus`. A password in the URL
   * (`http://bus:<token>@127.0.0.1:43121/bus`) is sent as the bearer token.
   */
  url: string;
  logger?: Logger;
  /** Long-poll wait per request; default 15 s (below the bridge's lease). */
  pollWaitMs?: number;
  /** Attempts for publish and ack on network errors; default 5. */
  attempts?: number;
  /** Per-request timeout for calls other than polls; default 30 s. */
  requestTimeoutMs?: number;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function splitUrl(raw: string): { base: string; token: string | undefined } {
  const u = new URL(raw);
  const token = u.password !== '' ? decodeURIComponent(u.password) : undefined;
  u.username = '';
  u.password = '';
  return { base: u.toString().replace(/\/+$/, ''), token };
}

/** Creates the adapter; nothing is contacted until the first call. */
export function createHttpBus(opts: HttpBusOptions): EventBus {
  const log = opts.logger ?? pino({ level: 'silent' });
  const { base, token } = splitUrl(opts.url);
  const pollWaitMs = opts.pollWaitMs ?? 15_000;
  const attempts = opts.attempts ?? 5;
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  const subscriptions = new Set<Subscription>();
  // Keep-alive connections to the bridge (http-send.ts says why not fetch).
  const agent = new http.Agent({ keepAlive: true });
  let closed = false;

  const headers = (json: boolean): Record<string, string> => ({
    ...(json ? { 'content-type': 'application/json' } : {}),
    ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
  });

  /** One call; network errors become DependencyError, 400 InvalidInputError, other failures DependencyError. */
  async function call(
    method: string,
    path: string,
    body?: unknown,
    signal?: AbortSignal,
    waitMs = 0,
  ): Promise<Reply> {
    let res: Reply;
    try {
      res = await send(agent, method, `${base}${path}`, {
        headers: headers(body !== undefined),
        body: body === undefined ? undefined : JSON.stringify(body),
        signal,
        timeoutMs: timeoutMs + waitMs,
      });
    } catch (err) {
      throw new DependencyError(`bus bridge unreachable (${method} ${path})`, err);
    }
    if ((res.status >= 200 && res.status < 300) || res.status === 404) return res;
    const parsed = BridgeError.safeParse(safeJson(res.text));
    const message = parsed.success ? parsed.data.error : res.text.slice(0, 200);
    if (res.status === 400)
      throw new InvalidInputError(`bus bridge: ${message}`, parsed.success ? parsed.data.issues : undefined);
    if (res.status === 401)
      throw new UnauthorizedError(`bus bridge: ${message} (check the token in STREAMFORGE_BUS_URL)`);
    throw new DependencyError(`bus bridge: HTTP ${res.status} ${message}`);
  }

  /** Retries DependencyErrors (the bridge restarting, a dropped connection) with a short backoff. */
  async function withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let i = 1; ; i++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof DependencyError) || i >= attempts) throw err;
        log.warn({ err, attempt: i }, `bus bridge: ${what} failed, retrying`);
        await sleep(100 * 2 ** i);
      }
    }
  }

  function expectOk(res: Reply, what: string): Reply {
    if (res.status === 404) throw new DependencyError(`bus bridge: ${what}: ${res.text}`);
    return res;
  }

  function parseBody<S extends z.ZodType>(res: Reply, schema: S): z.infer<S> {
    const r = schema.safeParse(safeJson(res.text));
    if (!r.success) throw new DependencyError('bus bridge: unexpected answer', r.error);
    return r.data;
  }

  function subscribe(s: SubscribeOptions): Promise<Subscription> {
    const body = {
      groupId: s.groupId,
      topics: s.topics,
      ...(s.from === undefined ? {} : { from: s.from }),
      ...(s.partitionsConsumedConcurrently === undefined
        ? {}
        : { partitionsConsumedConcurrently: s.partitionsConsumedConcurrently }),
    };
    const open = async (): Promise<string> => {
      const res = expectOk(await call('POST', '/subscriptions', body), 'subscribe');
      return parseBody(res, SubscribeReply).id;
    };

    return withRetry('subscribe', open).then((first) => {
      let id = first;
      let closing = false;
      const poll = new AbortController();
      const running = new Set<Promise<void>>();

      async function ack(subId: string, delivery: string, ok: boolean, error?: string): Promise<void> {
        try {
          await withRetry('ack', async () => {
            const res = await call('POST', `/subscriptions/${subId}/ack`, {
              delivery,
              ok,
              ...(error ? { error } : {}),
            });
            if (res.status === 404)
              log.warn({ delivery }, 'bus bridge: ack for an expired delivery (it will be redelivered)');
          });
        } catch (err) {
          log.error({ err, delivery }, 'bus bridge: ack failed (the message will be redelivered)');
        }
      }

      async function handle(subId: string, delivery: string, message: IncomingMessage): Promise<void> {
        try {
          await s.handler(message);
        } catch (err) {
          await ack(subId, delivery, false, err instanceof Error ? err.message : String(err));
          return;
        }
        await ack(subId, delivery, true);
      }

      async function loop(): Promise<void> {
        let failures = 0;
        while (!closing) {
          try {
            const res = await call(
              'GET',
              `/subscriptions/${id}/poll?waitMs=${pollWaitMs}`,
              undefined,
              poll.signal,
              pollWaitMs,
            );
            if (res.status === 404) {
              // The lease ran out (a long pause) or the parent restarted the bridge: join again.
              if (closing) break;
              log.warn(
                { subscription: id, group: s.groupId },
                'bus bridge: subscription expired, subscribing again',
              );
              id = await open();
              continue;
            }
            const { deliveries } = parseBody(res, PollReply);
            failures = 0;
            const subId = id;
            for (const d of deliveries) {
              const p = handle(subId, d.delivery, d.message);
              running.add(p);
              void p.finally(() => running.delete(p));
            }
          } catch (err) {
            if (closing) break;
            failures++;
            log.warn({ err, failures }, 'bus bridge: poll failed, retrying');
            await sleep(Math.min(5000, 100 * 2 ** Math.min(failures, 6)));
          }
        }
      }

      const looping = loop();
      const sub: Subscription = {
        async close() {
          if (closing) return;
          closing = true;
          subscriptions.delete(sub);
          poll.abort();
          await looping;
          await Promise.allSettled([...running]);
          try {
            await call('DELETE', `/subscriptions/${id}`);
          } catch (err) {
            log.warn({ err }, 'bus bridge: unsubscribe failed (the lease will expire)');
          }
        },
      };
      subscriptions.add(sub);
      return sub;
    });
  }

  const assertOpen = (): void => {
    if (closed) throw new Error('event bus is closed');
  };

  return {
    async ensureTopics(specs: TopicSpec[]) {
      assertOpen();
      await withRetry('ensureTopics', async () =>
        expectOk(await call('POST', '/topics', { topics: specs }), 'ensureTopics'),
      );
    },
    async publish(topic: string, messages: OutgoingMessage[]) {
      assertOpen();
      if (messages.length === 0) return;
      // Encoded here, once: the bridge appends the records without parsing their data (an invalid
      // event is rejected before anything is sent, as by the in-process bus).
      const records = messages.map((m) => encodeEvent(m));
      // A retried publish may store a message twice: the port promises at-least-once, not exactly-once.
      await withRetry('publish', async () =>
        expectOk(await call('POST', '/publish', { topic, records }), 'publish'),
      );
    },
    async subscribe(s: SubscribeOptions) {
      assertOpen();
      return subscribe(s);
    },
    async ping() {
      assertOpen();
      expectOk(await call('GET', '/ping'), 'ping');
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.close()));
      agent.destroy();
    },
  };
}
