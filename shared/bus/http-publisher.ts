/**
 * Publisher for a child process of the embedded platform (DESIGN.md "Shape"): POSTs each event
 * to the parent's ingress (ingress.ts), as a Job in a cluster would POST to a KafkaSink. Chosen
 * by createPublisher when STREAMFORGE_INGRESS_URL is set and KAFKA_BROKERS is not.
 *
 * An event is encoded once, into its Kafka wire form (kafka-binding.ts), and sent in binary mode
 * with that value as the body: the ingress appends it without parsing it. The record key travels
 * as the `partitionkey` extension. Several events in one call go as one batched-mode request, so
 * they are appended together or not at all. Network errors and retryable answers (errors.ts
 * `classify`: 429, 5xx) are retried with backoff; a 400 is not.
 */
import http from 'node:http';
import { pino } from 'pino';
import { encodeHeaderValue, toHttpBatch } from '../runtime/cloudevents.ts';
import {
  DependencyError,
  InvalidInputError,
  isRetryableStatus,
  UnauthorizedError,
} from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { OutgoingMessage, Publisher, TopicSpec } from './event-bus.ts';
import { send, type Reply } from './http-send.ts';
import { PARTITION_KEY } from './ingress.ts';
import { encodeEvent, type WireRecord } from './kafka-binding.ts';

export interface HttpPublisherOptions {
  /**
   * The ingress base URL including the namespace, e.g. `http://127.0.0.1:43121/streamforge`; the
   * topic is appended. A password in the URL (`http://bus:<token>@…`) is sent as the bearer token.
   */
  url: string;
  logger?: Logger;
  /** Attempts per publish on network errors and retryable answers; default 6. */
  attempts?: number;
  /** Per-request timeout; default 30 s. */
  requestTimeoutMs?: number;
}

/** A wire record as a binary-mode HTTP request: `ce_x` → `ce-x` (percent-encoded), value as body. */
export function httpFromWire(r: WireRecord): { headers: Record<string, string>; body: string } {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(r.headers)) {
    if (name.startsWith('ce_')) headers[`ce-${name.slice(3)}`] = encodeHeaderValue(value);
    else headers[name] = value;
  }
  if (r.key !== null) headers[`ce-${PARTITION_KEY}`] = encodeHeaderValue(r.key);
  return { headers, body: r.value };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function splitUrl(raw: string): { base: string; token: string | undefined } {
  const u = new URL(raw);
  const token = u.password !== '' ? decodeURIComponent(u.password) : undefined;
  u.username = '';
  u.password = '';
  return { base: u.toString().replace(/\/+$/, ''), token };
}

/** Creates the publisher; nothing is contacted until the first publish. */
export function createHttpPublisher(opts: HttpPublisherOptions): Publisher {
  const log = opts.logger ?? pino({ level: 'silent' });
  const { base, token } = splitUrl(opts.url);
  const attempts = opts.attempts ?? 6;
  const timeoutMs = opts.requestTimeoutMs ?? 30_000;
  // Keep-alive connections to the ingress (http-send.ts says why not fetch).
  const agent = new http.Agent({ keepAlive: true });
  const auth: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  let closed = false;

  async function post(url: string, msg: { headers: Record<string, string>; body: string }): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      let res: Reply | undefined;
      let failure: unknown;
      try {
        res = await send(agent, 'POST', url, {
          headers: { ...msg.headers, ...auth },
          body: msg.body,
          signal: undefined,
          timeoutMs,
        });
        if (res.status >= 200 && res.status < 300) return;
      } catch (err) {
        failure = err;
      }
      const status = res?.status;
      const what =
        status === undefined
          ? `unreachable (${String(failure)})`
          : `HTTP ${status} ${res?.text.slice(0, 300)}`;
      if (status === 401) throw new UnauthorizedError(`ingress: ${what} (check STREAMFORGE_INGRESS_URL)`);
      if (status !== undefined && !isRetryableStatus(status))
        throw new InvalidInputError(`ingress refused the event: ${what}`);
      if (attempt >= attempts)
        throw new DependencyError(`ingress ${what} after ${attempt} attempts`, failure);
      log.info({ attempt, status }, `ingress ${what}; retrying`);
      await sleep(Math.min(5000, 100 * 2 ** attempt));
    }
  }

  return {
    ensureTopics(_specs: TopicSpec[]) {
      // The parent created the topology's topics; the in-process bus creates others on first append.
      return Promise.resolve();
    },
    async publish(topic: string, messages: OutgoingMessage[]) {
      if (closed) throw new Error('publisher is closed');
      if (messages.length === 0) return;
      const url = `${base}/${encodeURIComponent(topic)}`;
      if (messages.length === 1) {
        // Encoded here, once (an invalid event fails before anything is sent).
        await post(url, httpFromWire(encodeEvent(messages[0]!)));
        return;
      }
      const events = messages.map((m) =>
        m.key === null
          ? m.event
          : { ...m.event, extensions: { ...m.event.extensions, [PARTITION_KEY]: m.key } },
      );
      for (const e of events) encodeEvent({ key: null, event: e }); // validate all before sending
      await post(url, toHttpBatch(events));
    },
    async ping() {
      const res = await send(agent, 'GET', `${base.replace(/\/[^/]*$/, '')}/healthz`, {
        headers: auth,
        body: undefined,
        signal: undefined,
        timeoutMs,
      }).catch((err: unknown) => {
        throw new DependencyError('ingress unreachable', err);
      });
      if (res.status !== 200) throw new DependencyError(`ingress: HTTP ${res.status}`);
    },
    close() {
      closed = true;
      agent.destroy();
      return Promise.resolve();
    },
  };
}
