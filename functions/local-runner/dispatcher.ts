/**
 * Delivers one record to a sink the way the KafkaSource dispatcher does (knative.md §3
 * "Delivery", eventing-kafka-broker RecordDispatcherImpl and WebClientCloudEventSender):
 *
 * - a binary-mode CloudEvent POST (`ce-*` headers, Content-Type, data as body) with
 *   `Prefer: reply` and `Kn-Namespace`; our records already are CloudEvents, so the event is
 *   forwarded as it is, plus `knativekafkapartition`/`knativekafkaoffset` and any `ceOverrides`;
 * - 2xx is success and the reply is discarded;
 * - 5xx, 404, 408, 409, 429 and network errors are retried `retry` times with the declared
 *   backoff; any other status ≥ 300 fails at once;
 * - a final failure goes to the dead-letter sink with `knativeerrordest`, `knativeerrorcode`,
 *   `knativeerrordata` (base64 of up to 1 KiB of the body) and the `kne-*` response headers;
 * - with no dead-letter sink, or when it fails too, the record is dropped (the offset moves on).
 */
import type { BusEvent, IncomingMessage } from '../../shared/bus/event-bus.ts';
import { toHttpBinary } from '../../shared/runtime/cloudevents.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { isRetryableStatus, type DeliveryPolicy } from '../../shared/topology/delivery.ts';
import { httpPost, type Agents } from './http-post.ts';

const ERROR_DATA_MAX_BYTES = 1024;
const KNE_PREFIX = 'kne-';

/** Outcome of one POST: a status with up to 1 KiB of body, or a network error. */
export type Attempt =
  | { ok: true; status: number }
  | { ok: false; status: number; body: Buffer; headers: Headers }
  | { ok: false; status: null; error: string };

/** Where a finally failed event goes. */
export type DeadLetterTarget =
  | { kind: 'sink'; url: string }
  | {
      kind: 'topic';
      topic: string;
      publish: (topic: string, key: string | null, event: BusEvent) => Promise<void>;
    };

export interface DispatchDeps {
  policy: DeliveryPolicy;
  /** Namespace sent as `Kn-Namespace`. */
  namespace: string;
  /**
   * `Authorization` sent with every POST (the platform's intake secret as `Bearer <secret>`), as a
   * KafkaSource sends its OIDC token in a cluster (docs/knative.md "Sender identity").
   */
  authorization?: string | undefined;
  /** Extensions from `spec.ceOverrides.extensions`. */
  overrides: Record<string, string>;
  deadLetter: DeadLetterTarget | undefined;
  requestTimeoutMs: number;
  logger: Logger;
  /** Aborted when the runner stops: backoff waits end and the record is left uncommitted. */
  signal: AbortSignal;
  /** Aborted a grace period after `signal`: requests still running are cut. */
  requestSignal: AbortSignal;
  /** Keep-alive connections to the sinks. */
  agents: Agents;
  /** The sink runs in this process: deliver to it without HTTP. */
  direct?: DirectDelivery | undefined;
  /** Called before each retry's wait: the retry number (1-based), the wait and the failure. */
  onRetry?: (retry: { n: number; waitMs: number; status: number | null; url: string }) => void;
}

export type DispatchResult = 'delivered' | 'dead-lettered' | 'dropped';

/**
 * A sink running in this process, delivered to without HTTP (FunctionApp.deliver): it answers
 * the status its POST / would have answered. Retries, backoff and dead letters stay the
 * dispatcher's, so the in-process path is the HTTP path minus the socket and the re-encoding.
 */
export type DirectDelivery = (event: BusEvent) => Promise<{ status: number; body?: unknown }>;

/** Thrown when the runner stops mid-delivery: the record must not be committed. */
export class DeliveryAborted extends Error {
  constructor() {
    super('delivery aborted: runner stopping');
    this.name = 'DeliveryAborted';
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(new DeliveryAborted());
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new DeliveryAborted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** POSTs `event` in binary mode once. */
export async function postEvent(
  url: string,
  event: BusEvent,
  opts: {
    namespace: string;
    authorization?: string | undefined;
    timeoutMs: number;
    signal: AbortSignal;
    agents: Agents;
  },
): Promise<Attempt> {
  const { headers, body } = toHttpBinary(event);
  const sent: Record<string, string> = { ...headers, prefer: 'reply', 'kn-namespace': opts.namespace };
  if (opts.authorization !== undefined) sent['authorization'] = opts.authorization;
  try {
    // node:http never follows a redirect: a 3xx is an answer ≥ 300 like any other and fails the delivery.
    const res = await httpPost(url, sent, body, {
      agents: opts.agents,
      timeoutMs: opts.timeoutMs,
      signal: opts.signal,
      maxBody: ERROR_DATA_MAX_BYTES,
    });
    if (res.status >= 200 && res.status < 300) return { ok: true, status: res.status };
    return { ok: false, status: res.status, body: res.body, headers: res.headers };
  } catch (err) {
    if (opts.signal.aborted) throw new DeliveryAborted();
    const e = err as { code?: string; message?: string };
    return { ok: false, status: null, error: e.code ?? e.message ?? String(err) };
  }
}

/** Hands `event` to an in-process sink once; its answer as an Attempt, as if over HTTP. */
async function deliverDirect(direct: DirectDelivery, event: BusEvent, signal: AbortSignal): Promise<Attempt> {
  if (signal.aborted) throw new DeliveryAborted();
  const { status, body } = await direct(event);
  if (status >= 200 && status < 300) return { ok: true, status };
  const text = body === undefined ? '' : JSON.stringify(body);
  return {
    ok: false,
    status,
    body: Buffer.from(text).subarray(0, ERROR_DATA_MAX_BYTES),
    headers: new Headers({ 'content-type': 'application/json' }),
  };
}

/**
 * Sends with retries per the policy; returns the last attempt. `direct` is the in-process path to
 * `url`, or null for HTTP. (It must be explicit: a default parameter would turn an `undefined`
 * passed for the dead-letter sink back into the function's own direct path, as it once did.)
 */
async function sendWithRetries(
  url: string,
  event: BusEvent,
  deps: DispatchDeps,
  direct: DirectDelivery | null,
): Promise<Attempt> {
  const opts = {
    namespace: deps.namespace,
    authorization: deps.authorization,
    timeoutMs: deps.requestTimeoutMs,
    signal: deps.requestSignal,
    agents: deps.agents,
  };
  const once = (): Promise<Attempt> =>
    direct ? deliverDirect(direct, event, deps.requestSignal) : postEvent(url, event, opts);
  let attempt = await once();
  for (let n = 1; n <= deps.policy.retries; n++) {
    if (attempt.ok || (attempt.status !== null && !isRetryableStatus(attempt.status))) return attempt;
    const waitMs = deps.policy.backoffMs(n);
    deps.onRetry?.({ n, waitMs, status: attempt.status, url });
    await sleep(waitMs, deps.signal);
    attempt = await once();
  }
  return attempt;
}

/** The event as it leaves the dispatcher: Kafka position and ceOverrides added, nothing else touched. */
export function outgoingEvent(msg: IncomingMessage, overrides: Record<string, string>): BusEvent {
  return {
    ...msg.event,
    extensions: {
      ...msg.event.extensions,
      knativekafkapartition: String(msg.partition),
      knativekafkaoffset: msg.offset,
      ...overrides,
    },
  };
}

/** The dead letter: the event plus the knativeerror* extensions describing the last failure. */
export function deadLetterEvent(event: BusEvent, dest: string, last: Attempt): BusEvent {
  const ext: Record<string, string> = { ...event.extensions, knativeerrordest: dest };
  if (!last.ok && last.status !== null) {
    ext['knativeerrorcode'] = String(last.status);
    last.headers.forEach((value, name) => {
      const extName = name.toLowerCase().slice(KNE_PREFIX.length);
      // Only names that are valid extension names: one bad header must not make the letter unsendable.
      if (name.toLowerCase().startsWith(KNE_PREFIX) && /^[a-z0-9]{1,20}$/.test(extName)) ext[extName] = value;
    });
    if (last.body.length > 0) ext['knativeerrordata'] = last.body.toString('base64');
  }
  return { ...event, extensions: ext };
}

/**
 * The dispatcher's `knativekafkapartition` is 21 characters; the bus's Kafka binding enforces the
 * CloudEvents limit of 20 for extension names, so the position is left out when a dead letter
 * goes back onto a topic (the log line names it).
 */
function withoutKafkaPosition(event: BusEvent): BusEvent {
  const { knativekafkapartition: _p, knativekafkaoffset: _o, ...rest } = event.extensions ?? {};
  return { ...event, extensions: rest };
}

function describe(a: Attempt): string {
  if (a.ok) return `HTTP ${a.status}`;
  return a.status === null ? `network error ${a.error}` : `HTTP ${a.status}`;
}

/** Delivers one record to `url`; never throws except DeliveryAborted (the runner is stopping). */
export async function dispatch(
  url: string,
  msg: IncomingMessage,
  deps: DispatchDeps,
): Promise<DispatchResult> {
  try {
    return await deliver(url, msg, deps);
  } catch (err) {
    if (err instanceof DeliveryAborted) throw err;
    // As the dispatcher does with a record it cannot handle at all: discard it so the partition
    // moves on, rather than redelivering it forever.
    deps.logger.error(
      { err, topic: msg.topic, partition: msg.partition, offset: msg.offset, event_id: msg.event.id },
      'RECORD CANNOT BE SENT (discarded)',
    );
    return 'dropped';
  }
}

async function deliver(url: string, msg: IncomingMessage, deps: DispatchDeps): Promise<DispatchResult> {
  const event = outgoingEvent(msg, deps.overrides);
  const last = await sendWithRetries(url, event, deps, deps.direct ?? null);
  if (last.ok) return 'delivered';

  const where = {
    topic: msg.topic,
    partition: msg.partition,
    offset: msg.offset,
    event_id: event.id,
    type: event.type,
  };
  const dl = deps.deadLetter;
  if (dl === undefined) {
    deps.logger.error(
      { ...where, sink: url, failure: describe(last) },
      'DELIVERY FAILED and no dead-letter sink: EVENT DROPPED',
    );
    return 'dropped';
  }
  const letter = deadLetterEvent(event, url, last);
  if (dl.kind === 'topic') {
    try {
      await dl.publish(dl.topic, msg.key, withoutKafkaPosition(letter));
      deps.logger.warn(
        { ...where, sink: url, failure: describe(last), dead_letter_topic: dl.topic },
        'delivery failed: event dead-lettered',
      );
      return 'dead-lettered';
    } catch (err) {
      deps.logger.error(
        { ...where, err },
        'DELIVERY FAILED and the dead-letter topic refused it: EVENT DROPPED',
      );
      return 'dropped';
    }
  }
  const dlsAttempt = await sendWithRetries(dl.url, letter, deps, null);
  if (dlsAttempt.ok) {
    deps.logger.warn(
      { ...where, sink: url, failure: describe(last), dead_letter_sink: dl.url },
      'delivery failed: event dead-lettered',
    );
    return 'dead-lettered';
  }
  deps.logger.error(
    {
      ...where,
      sink: url,
      failure: describe(last),
      dead_letter_sink: dl.url,
      dls_failure: describe(dlsAttempt),
    },
    'DELIVERY FAILED and the dead-letter sink failed too: EVENT DROPPED',
  );
  return 'dropped';
}
