/**
 * The function runtime: one hono app per function with health, readiness, metrics, CloudEvent
 * intake and the platform's single error mapping (style.md "Errors"; DESIGN.md "Cross-cutting
 * rules"). In the spirit of Google's functions-framework: the function supplies `onEvent`, the
 * runtime decodes, logs, counts and answers.
 */
import { OpenAPIHono } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { routePath } from 'hono/route';
import type { Registry } from 'prom-client';
import type { BusEvent } from '../bus/event-bus.ts';
import { parseHttpEvents, toHttpBatch, toHttpBinary } from './cloudevents.ts';
import { AppError, classify, InvalidInputError, OverloadedError, PayloadTooLargeError } from './errors.ts';
import type { Logger } from './logger.ts';
import { createRegistry, runtimeMetrics } from './metrics.ts';

/** What an event handler gets besides the event. */
export interface EventContext {
  /** Child logger with `event_id`, `type`, and `queue_id` when the data (or `queueid` extension) has one. */
  log: Logger;
}

/** Handles one CloudEvent; may return an event to send back as the HTTP reply. */
export type EventHandler = (event: BusEvent, ctx: EventContext) => Promise<BusEvent | void>;

export interface FunctionAppOptions {
  /** Function name, e.g. `arango-connector`. */
  name: string;
  logger: Logger;
  /** Default: a new Registry with prom-client default metrics. */
  registry?: Registry;
  /** Readiness probe for /readyz: throw when a dependency is down (→ 503). */
  ready?: () => Promise<void>;
  /** POST / : CloudEvents in binary, structured or batched mode. */
  onEvent?: EventHandler;
  /** /readyz gives up after this long (→ 503); default 5000. */
  readyTimeoutMs?: number;
  /**
   * Checks the sender of POST / from its `Authorization` header before the body is read; throws
   * UnauthorizedError (401). Built from the function's config (intake-auth.ts): the platform's
   * shared secret locally, Knative's OIDC tokens in a cluster. Unset: the intake is open, which
   * only tests and an explicit INTAKE_AUTH_DISABLED do.
   */
  authenticate?: (authorization: string | undefined) => Promise<void>;
  /**
   * Checks one event's data without any effect (throws InvalidInputError). With it, a batched
   * request is all or nothing: every element is checked before the first is handled, and one
   * bad element answers 400 naming its index with nothing handled (docs/api.md "Batches").
   */
  validate?: (event: BusEvent) => void;
  /** Largest request body on every route (413 above it); default 8 MiB. */
  maxBodyBytes?: number;
  /** Smaller limits for some paths (hono path patterns), checked first so their 413 names them. */
  pathBodyLimits?: Record<string, number>;
}

/** Default request body limit of a function's server. */
export const DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024;

/**
 * A body limit that answers 413 naming the limit, with the one error body. A declared
 * Content-Length over it is refused before a byte is read; a chunked body is cut at the limit.
 */
export function limitBody(maxBytes: number): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: (c) => c.json(errorResponse(new PayloadTooLargeError(maxBytes)).body, 413),
  });
}

export interface FunctionApp {
  /** The hono app; functions add their own (zod-openapi) routes to it. */
  app: OpenAPIHono;
  registry: Registry;
  /** Requests being handled right now. */
  inFlight: () => number;
  /** Marks the app as draining: /readyz answers 503 from now on (pass it as serve's `onDrain`). */
  drain: () => void;
  /**
   * One event through the same handler, logging, metrics and error mapping as POST /, without
   * HTTP: what the local runner's in-process delivery calls (functions/local-runner). Never
   * throws; answers the status POST / would have answered, and its error body.
   */
  deliver: (event: BusEvent) => Promise<{ status: number; body?: ErrorBody }>;
}

/** JSON body of every error answer. */
export interface ErrorBody {
  error: string;
  issues?: unknown[];
}

/** An error's HTTP answer, by the one classification (errors.ts `classify`). */
export function errorResponse(err: unknown): { status: number; body: ErrorBody } {
  const { status, message, issues } = classify(err);
  return { status, body: { error: message, ...(issues ? { issues } : {}) } };
}

/** `queue_id` of an event, from its data or its `queueid` extension. */
function queueIdOf(event: BusEvent): string | undefined {
  const data = event.data;
  if (typeof data === 'object' && data !== null && 'queue_id' in data) {
    const q = data.queue_id;
    if (typeof q === 'string') return q;
  }
  return event.extensions?.['queueid'];
}

/** Unexpected errors at error level (with stack); expected ones (AppError, 4xx) quieter. */
function logFailure(
  log: Logger,
  err: unknown,
  status: number,
  fields: Record<string, unknown>,
  quiet: boolean,
): void {
  const msg = err instanceof Error ? err.message : String(err);
  if (status >= 500 && !(err instanceof AppError)) log.error({ ...fields, err, status }, 'failed');
  // Back-pressure and a dependency away are retried by the sender: expected, not a person's problem.
  else if (status === 429 || status === 503) log.info({ ...fields, status, error: msg }, 'deferred');
  else if (quiet && status < 500) log.debug({ ...fields, status, error: msg }, 'rejected');
  else log.warn({ ...fields, status, error: msg }, status < 500 ? 'rejected' : 'failed');
}

/** Errors already logged with their event context, so the error handler does not log them twice. */
const logged = new WeakSet<object>();

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** Creates a function's app: GET /healthz, /readyz, /metrics, POST / (when `onEvent` is given). */
export function createFunctionApp(opts: FunctionAppOptions): FunctionApp {
  const log = opts.logger;
  const registry = opts.registry ?? createRegistry(opts.name);
  const metrics = runtimeMetrics(registry);
  let inFlight = 0;
  let draining = false;
  let wasReady = true;

  const app = new OpenAPIHono({
    // A function's own zod-openapi routes answer invalid input like everything else.
    defaultHook: (result, c) => {
      if (!result.success) {
        return c.json({ error: `invalid request ${result.target}`, issues: result.error.issues }, 400);
      }
      return undefined;
    },
  });

  app.onError((err, c) => {
    const { status, body } = errorResponse(err);
    if (status === 401) c.header('WWW-Authenticate', 'Bearer realm="streamforge"');
    if (err instanceof OverloadedError && err.retryAfterSec !== undefined)
      c.header('Retry-After', String(Math.max(1, Math.ceil(err.retryAfterSec))));
    if (!logged.has(err)) logFailure(log, err, status, { method: c.req.method, path: c.req.path }, true);
    return c.json(body, status as 400);
  });

  // A path that a route serves under other methods answers 405 with `Allow` (RFC 9110 §15.5.6);
  // only a path no route serves is 404. Middleware (`app.use`, method ALL) serves no path.
  app.notFound((c) => {
    const path = c.req.path;
    const allowed = new Set<string>();
    for (const method of new Set(app.routes.map((r) => r.method))) {
      if (method === 'ALL') continue;
      const [matched] = app.router.match(method, path);
      if (matched.some(([[, route]]) => route.method === method)) allowed.add(method);
    }
    if (allowed.size === 0) return c.json({ error: `no route for ${c.req.method} ${path}` }, 404);
    // HEAD is answered wherever GET is (hono runs the GET route without the body).
    if (allowed.has('GET')) allowed.add('HEAD');
    const allow = [...allowed].sort().join(', ');
    return c.json({ error: `method ${c.req.method} not allowed for ${path}; allowed: ${allow}` }, 405, {
      Allow: allow,
    });
  });

  app.use('*', async (c, next) => {
    const started = performance.now();
    inFlight += 1;
    metrics.inFlight.inc();
    try {
      await next();
    } finally {
      inFlight -= 1;
      metrics.inFlight.dec();
      // The middleware's context is typed with `any` input; routePath only reads the match.
      const route = routePath(c as Context);
      metrics.httpDuration.observe(
        {
          method: c.req.method,
          route: route === '*' || route === '/*' ? 'unmatched' : route,
          status: String(c.res.status),
        },
        (performance.now() - started) / 1000,
      );
    }
  });

  // The sender is checked first, so a stranger's body is never read, then the size.
  const authenticate = opts.authenticate;
  if (opts.onEvent && authenticate) {
    app.post('/', async (c, next) => {
      await authenticate(c.req.header('authorization'));
      await next();
    });
  }
  for (const [p, max] of Object.entries(opts.pathBodyLimits ?? {})) app.use(p, limitBody(max));
  app.use('*', limitBody(opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES));

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.get('/readyz', async (c) => {
    if (draining) return c.json({ status: 'draining' }, 503);
    try {
      if (opts.ready) await withTimeout(opts.ready(), opts.readyTimeoutMs ?? 5000, 'readiness check');
      if (!wasReady) log.info('ready');
      wasReady = true;
      return c.json({ status: 'ready' });
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      // Probed every few seconds: a warning when it changes, info while it lasts.
      (wasReady ? log.warn.bind(log) : log.info.bind(log))({ reason }, 'not ready');
      wasReady = false;
      return c.json({ status: 'unavailable', reason }, 503);
    }
  });

  app.get('/metrics', async (c) => {
    const text = await registry.metrics();
    return c.body(text, 200, { 'content-type': registry.contentType });
  });

  const onEvent = opts.onEvent;
  if (onEvent) {
    app.post('/', async (c) => {
      const events = decode(c.req.raw.headers, await c.req.text());
      if (events.length > 1 && opts.validate) validateAll(opts.validate, events);
      const replies: BusEvent[] = [];
      for (const event of events) {
        const reply = await handleOne(onEvent, event, c.req.path);
        if (reply) replies.push(reply);
      }
      if (replies.length === 0) return c.body(null, 202);
      // A single event gets a binary-mode reply (what a KafkaSource or broker expects); a batch
      // gets a batch back.
      const batched = (c.req.header('content-type') ?? '')
        .toLowerCase()
        .startsWith('application/cloudevents-batch');
      const msg = !batched && replies[0] ? toHttpBinary(replies[0]) : toHttpBatch(replies);
      return c.body(msg.body, 200, msg.headers);
    });
  }

  function decode(headers: Headers, body: string): BusEvent[] {
    try {
      return parseHttpEvents(headers, body);
    } catch (err) {
      // Never retried (400), so say so once at warn level: the sender has a bug.
      metrics.eventsFailed.inc({ type: 'unparseable', status: '400' });
      logFailure(log, err, 400, { issues: err instanceof AppError ? err.issues : undefined }, false);
      if (typeof err === 'object' && err !== null) logged.add(err);
      throw err;
    }
  }

  /** Every element checked before any is handled: one bad element rejects the whole batch. */
  function validateAll(validate: (event: BusEvent) => void, events: BusEvent[]): void {
    const issues: unknown[] = [];
    events.forEach((event, i) => {
      try {
        validate(event);
      } catch (err) {
        if (!(err instanceof InvalidInputError)) throw err;
        const inner = err.issues ?? [{ path: [], message: err.message }];
        for (const issue of inner) {
          const path = (issue as { path?: unknown }).path;
          issues.push({
            ...(issue as object),
            path: [i, ...(Array.isArray(path) ? (path as unknown[]) : [])],
          });
        }
      }
    });
    if (issues.length === 0) return;
    metrics.eventsFailed.inc({ type: 'batch', status: '400' });
    const err = new InvalidInputError(
      `invalid CloudEvents batch: ${new Set(issues.map((i) => (i as { path: unknown[] }).path[0])).size} of ${events.length} events rejected, none handled`,
      issues,
    );
    logFailure(log, err, 400, {}, false);
    logged.add(err);
    throw err;
  }

  async function handleOne(handler: EventHandler, event: BusEvent, path: string): Promise<BusEvent | void> {
    const queueId = queueIdOf(event);
    const elog = log.child({
      event_id: event.id,
      type: event.type,
      ...(queueId ? { queue_id: queueId } : {}),
    });
    metrics.observeEvent(event.type, event.time);
    try {
      return await handler(event, { log: elog });
    } catch (err) {
      const { status } = errorResponse(err);
      metrics.eventsFailed.inc({ type: metrics.typeLabel(event.type), status: String(status) });
      logFailure(elog, err, status, { path }, false);
      if (typeof err === 'object' && err !== null) logged.add(err);
      throw err;
    }
  }

  async function deliver(event: BusEvent): Promise<{ status: number; body?: ErrorBody }> {
    if (!onEvent) return { status: 404, body: { error: `${opts.name} takes no events` } };
    inFlight += 1;
    metrics.inFlight.inc();
    try {
      await handleOne(onEvent, event, '/');
      return { status: 202 };
    } catch (err) {
      return errorResponse(err);
    } finally {
      inFlight -= 1;
      metrics.inFlight.dec();
    }
  }

  return {
    app,
    registry,
    inFlight: () => inFlight,
    drain: () => {
      draining = true;
    },
    deliver,
  };
}
