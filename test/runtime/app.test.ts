import { request as httpRequest } from 'node:http';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { describe, expect, it, vi } from 'vitest';
import type { BusEvent } from '../../shared/bus/event-bus.ts';
import { createFunctionApp, type EventContext, type EventHandler } from '../../shared/runtime/app.ts';
import { toHttpBatch, toHttpBinary, toHttpStructured } from '../../shared/runtime/cloudevents.ts';
import {
  ConflictError,
  DependencyError,
  InvalidInputError,
  NotFoundError,
  OverloadedError,
} from '../../shared/runtime/errors.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { sampleValue } from './prom-text.ts';

const logger = createLogger('test', 'silent');

function event(
  id: string,
  data: unknown = { queue_id: 'wf-btcusdt-api_trades-20240801-a1b2c3', n: id },
): BusEvent {
  return {
    specversion: '1.0',
    id,
    source: '/streamforge/test',
    type: 'io.streamforge.test',
    time: '2024-08-01T00:00:00Z',
    datacontenttype: 'application/json',
    data,
  };
}

function post(app: OpenAPIHono, msg: { headers: Record<string, string>; body: string }): Promise<Response> {
  return Promise.resolve(app.request('/', { method: 'POST', headers: msg.headers, body: msg.body }));
}

/** An app whose event handler may be sync or async (tests stay short). */
function appWith(handler: (e: BusEvent, ctx: EventContext) => BusEvent | void | Promise<BusEvent | void>) {
  return createFunctionApp({
    name: 'test-fn',
    logger,
    onEvent: (e, ctx) => Promise.resolve(handler(e, ctx)),
  });
}

describe('POST / accepts CloudEvents in every HTTP mode', () => {
  const cases = [
    { mode: 'binary', msg: toHttpBinary(event('e1')), ids: ['e1'] },
    { mode: 'structured', msg: toHttpStructured(event('e1')), ids: ['e1'] },
    { mode: 'batched', msg: toHttpBatch([event('e1'), event('e2'), event('e3')]), ids: ['e1', 'e2', 'e3'] },
    { mode: 'batched (one event)', msg: toHttpBatch([event('e1')]), ids: ['e1'] },
  ];

  for (const c of cases) {
    it(`${c.mode}: 202 without a reply, handler sees each event in order`, async () => {
      const seen: BusEvent[] = [];
      const { app } = appWith((e) => {
        seen.push(e);
      });
      const res = await post(app, c.msg);
      expect(res.status).toBe(202);
      expect(await res.text()).toBe('');
      expect(seen.map((e) => e.id)).toEqual(c.ids);
      expect(seen[0]?.data).toEqual({ queue_id: 'wf-btcusdt-api_trades-20240801-a1b2c3', n: 'e1' });
    });

    it(`${c.mode}: a returned event comes back as a CloudEvent (200)`, async () => {
      const { app } = appWith((e) => ({
        ...event(`reply-${e.id}`, { ok: true }),
        type: 'io.streamforge.reply',
      }));
      const res = await post(app, c.msg);
      expect(res.status).toBe(200);
      if (!c.mode.startsWith('batched')) {
        expect(res.headers.get('ce-id')).toBe('reply-e1');
        expect(res.headers.get('ce-type')).toBe('io.streamforge.reply');
        expect(res.headers.get('ce-specversion')).toBe('1.0');
        expect(await res.json()).toEqual({ ok: true });
      } else {
        expect(res.headers.get('content-type')).toMatch(/^application\/cloudevents-batch\+json/);
        const body = (await res.json()) as { id: string }[];
        expect(body.map((b) => b.id)).toEqual(c.ids.map((id) => `reply-${id}`));
      }
    });
  }

  it('invalid CloudEvents → 400 with issues, handler never called', async () => {
    const handler = vi.fn<EventHandler>(() => Promise.resolve());
    const { app } = appWith(handler);
    const res = await app.request('/', {
      method: 'POST',
      headers: { 'ce-specversion': '1.0', 'ce-source': '/s', 'content-type': 'application/json' },
      body: '{',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; issues: { path: string[] }[] };
    expect(body.error).toMatch(/invalid CloudEvent/);
    expect(body.issues.map((i) => i.path)).toEqual([['ce-id'], ['ce-type'], ['body']]);
    expect(handler).not.toHaveBeenCalled();
  });

  it('a batch stops at the first failing event', async () => {
    const seen: string[] = [];
    const { app } = appWith((e) => {
      seen.push(e.id);
      if (e.id === 'e2') throw new DependencyError('store down');
    });
    const res = await post(app, toHttpBatch([event('e1'), event('e2'), event('e3')]));
    expect(res.status).toBe(503);
    expect(seen).toEqual(['e1', 'e2']);
  });

  it('the event logger carries event_id and queue_id', async () => {
    const bindings: Record<string, unknown>[] = [];
    const { app } = appWith((_e, ctx) => {
      bindings.push(ctx.log.bindings());
    });
    await post(app, toHttpBinary(event('e9')));
    expect(bindings[0]).toMatchObject({ event_id: 'e9', queue_id: 'wf-btcusdt-api_trades-20240801-a1b2c3' });
  });
});

describe('one error mapping', () => {
  const cases: { name: string; err: unknown; status: number; error: string; issues?: unknown[] }[] = [
    {
      name: 'InvalidInputError',
      err: new InvalidInputError('bad record', [{ path: ['x'] }]),
      status: 400,
      error: 'bad record',
      issues: [{ path: ['x'] }],
    },
    {
      name: 'NotFoundError',
      err: new NotFoundError('no such workflow'),
      status: 404,
      error: 'no such workflow',
    },
    {
      name: 'ConflictError',
      err: new ConflictError('already running'),
      status: 409,
      error: 'already running',
    },
    { name: 'OverloadedError', err: new OverloadedError('too busy'), status: 429, error: 'too busy' },
    { name: 'DependencyError', err: new DependencyError('arango down'), status: 503, error: 'arango down' },
    {
      name: 'ZodError',
      err: z.object({ a: z.string() }).safeParse({ a: 1 }).error,
      status: 400,
      error: 'invalid input',
    },
    { name: 'unknown error', err: new TypeError('boom'), status: 500, error: 'internal error' },
  ];
  for (const c of cases) {
    it(`handler throwing ${c.name} → ${c.status}`, async () => {
      const { app, registry } = appWith(() => {
        throw c.err;
      });
      const res = await post(app, toHttpBinary(event('e1')));
      expect(res.status).toBe(c.status);
      const body = (await res.json()) as { error: string; issues?: unknown[] };
      expect(body.error).toBe(c.error);
      if (c.issues) expect(body.issues).toEqual(c.issues);
      if (c.name === 'ZodError') expect(body.issues?.[0]).toMatchObject({ path: ['a'] });
      const metrics = await registry.metrics();
      expect(
        sampleValue(metrics, 'streamforge_cloudevents_failed_total', {
          type: 'io.streamforge.test',
          status: String(c.status),
        }),
      ).toBe(1);
    });
  }

  it("a function's own zod-openapi routes answer 400 { error, issues } on invalid input", async () => {
    const { app } = createFunctionApp({ name: 'test-fn', logger });
    const route = createRoute({
      method: 'post',
      path: '/things',
      request: {
        body: { content: { 'application/json': { schema: z.object({ n: z.number().int().positive() }) } } },
      },
      responses: { 200: { description: 'ok' } },
    });
    app.openapi(route, (c) => c.json({ n: c.req.valid('json').n }, 200));
    const bad = await app.request('/things', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":-1}',
    });
    expect(bad.status).toBe(400);
    const body = (await bad.json()) as { error: string; issues: { path: string[] }[] };
    expect(body.issues[0]?.path).toEqual(['n']);
    const good = await app.request('/things', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"n":2}',
    });
    expect(await good.json()).toEqual({ n: 2 });
  });

  it('unknown routes → 404 with the same shape, one metrics label for all of them', async () => {
    const { app, registry } = createFunctionApp({ name: 'test-fn', logger });
    const res = await app.request('/nope');
    await app.request('/other/path');
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toMatch(/no route/);
    const text = await registry.metrics();
    expect(
      sampleValue(text, 'http_request_duration_seconds_count', { route: 'unmatched', status: '404' }),
    ).toBe(2);
  });

  it('a known path under another method → 405 with Allow; an unknown path stays 404', async () => {
    const { app } = createFunctionApp({ name: 'test-fn', logger });
    // Middleware on the path (method ALL) does not make it a route.
    app.use('/workflows/*', async (_c, next) => next());
    app.get('/workflows', (c) => c.json([]));
    app.post('/workflows', (c) => c.json({}, 201));
    app.get('/workflows/:id', (c) => c.json({ id: c.req.param('id') }));

    const put = await app.request('/workflows', { method: 'PUT' });
    expect(put.status).toBe(405);
    expect(put.headers.get('allow')).toBe('GET, HEAD, POST');
    expect(((await put.json()) as { error: string }).error).toMatch(/PUT not allowed/);
    const del = await app.request('/workflows/wf-1', { method: 'DELETE' });
    expect(del.status).toBe(405);
    expect(del.headers.get('allow')).toBe('GET, HEAD');
    // The runtime's own routes too.
    expect((await app.request('/healthz', { method: 'POST' })).headers.get('allow')).toBe('GET, HEAD');
    for (const [method, path] of [
      ['DELETE', '/nope'],
      ['GET', '/nope'],
      ['GET', '/workflows/a/b'],
    ] as const) {
      const res = await app.request(path, { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.headers.get('allow')).toBeNull();
    }

    // TRACE cannot be sent with fetch: over a real socket, as a client (or schemathesis) sends it.
    const served = await serve(app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
    try {
      const trace = await rawRequest(`${served.url}/workflows`, 'TRACE');
      expect(trace.status).toBe(405);
      expect(trace.allow).toBe('GET, HEAD, POST');
      expect((await rawRequest(`${served.url}/nope`, 'TRACE')).status).toBe(404);
    } finally {
      await served.close();
    }
  });
});

/** One request over node:http (any method, TRACE included): its status and `Allow` header. */
function rawRequest(url: string, method: string): Promise<{ status: number; allow: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, allow: res.headers.allow }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('health, readiness, metrics', () => {
  it('/healthz is 200 ok', async () => {
    const { app } = createFunctionApp({ name: 'test-fn', logger });
    const res = await app.request('/healthz');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: 'ok' });
  });

  it('/readyz runs the readiness check: 200, then 503 with the reason, then 503 while draining', async () => {
    let down = false;
    const fn = createFunctionApp({
      name: 'test-fn',
      logger,
      ready: () => (down ? Promise.reject(new Error('kafka unreachable')) : Promise.resolve()),
    });
    expect((await fn.app.request('/readyz')).status).toBe(200);
    down = true;
    const res = await fn.app.request('/readyz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unavailable', reason: 'kafka unreachable' });
    down = false;
    fn.drain();
    const draining = await fn.app.request('/readyz');
    expect(draining.status).toBe(503);
    expect(await draining.json()).toEqual({ status: 'draining' });
  });

  it('/readyz gives up on a hanging check', async () => {
    const { app } = createFunctionApp({
      name: 'test-fn',
      logger,
      ready: () => new Promise(() => {}),
      readyTimeoutMs: 20,
    });
    const res = await app.request('/readyz');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toMatch(/timed out/);
  });

  it('/metrics has default metrics, the duration histogram by route and the event counters', async () => {
    const { app } = appWith(() => undefined);
    app.get('/items/:id', (c) => c.json({ id: c.req.param('id') }));
    await app.request('/items/42');
    await post(app, toHttpBinary(event('e1')));
    const res = await app.request('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toContain('process_cpu_user_seconds_total');
    const get = { method: 'GET', route: '/items/:id', status: '200', fn: 'test-fn' };
    expect(sampleValue(text, 'http_request_duration_seconds_count', get)).toBe(1);
    expect(sampleValue(text, 'http_request_duration_seconds_bucket', { ...get, le: '+Inf' })).toBe(1);
    const postLabels = { method: 'POST', route: '/', status: '202' };
    expect(sampleValue(text, 'http_request_duration_seconds_count', postLabels)).toBe(1);
    expect(sampleValue(text, 'streamforge_cloudevents_received_total', { type: 'io.streamforge.test' })).toBe(
      1,
    );
    expect(sampleValue(text, 'http_requests_in_flight')).toBe(1); // the scrape itself
  });

  it('two apps can share one registry', async () => {
    const a = createFunctionApp({ name: 'a', logger });
    const b = createFunctionApp({ name: 'b', logger, registry: a.registry });
    await a.app.request('/healthz');
    await b.app.request('/healthz');
    const text = await a.registry.metrics();
    expect(
      sampleValue(text, 'http_request_duration_seconds_count', { route: '/healthz', status: '200' }),
    ).toBe(2);
  });
});
