/**
 * The exchange client's node:http transport against a real server on 127.0.0.1: compressed
 * bodies, a body cut short, a server that stalls before or during the body, and a caller that
 * aborts. Each failure must be classified as before (NETWORK_ERROR, TIMEOUT, the caller's own
 * reason) and release its weight lease.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ExchangeUnavailableError } from '../../shared/exchange/errors.ts';
import { createExchangeClient, type ExchangeClient } from '../../shared/exchange/rest-client.ts';
import { createWeightBudget } from '../../shared/exchange/weight-budget.ts';

const BODY = JSON.stringify([{ a: 1 }, { a: 2 }]);
const Rows = z.array(z.object({ a: z.number() }));

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** Serves `handler`; the n-th request (1-based) is passed to it. */
async function serve(handler: (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void) {
  let n = 0;
  server = http.createServer((req, res) => handler(++n, req, res));
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests: () => n };
}

function client(url: string, o: { maxTries?: number; timeoutMs?: number } = {}): ExchangeClient {
  return createExchangeClient({
    baseUrl: url,
    budget: createWeightBudget({ limit: 6000, windowMs: 60_000, margin: 0.05 }),
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    maxTries: o.maxTries ?? 3,
    timeoutMs: o.timeoutMs ?? 5000,
  });
}

const ok = (res: http.ServerResponse, headers: Record<string, string> = {}) =>
  res.writeHead(200, { 'content-type': 'application/json', 'x-mbx-used-weight-1m': '42', ...headers });

/** The request's failure, or a failed expectation when it succeeded. */
async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    (v) => expect.fail(`expected a failure, got ${JSON.stringify(v)}`),
    (err: unknown) => err,
  );
}

describe('exchange client transport', () => {
  it('asks for compression and decodes a gzip body; reads the used-weight header', async () => {
    let asked: string | undefined;
    const s = await serve((_n, req, res) => {
      asked = req.headers['accept-encoding'];
      ok(res, { 'content-encoding': 'gzip' });
      res.end(gzipSync(BODY));
    });
    const c = client(s.url);
    expect(await c.get('/x', { q: 1 }, Rows, { weight: 2 })).toEqual([{ a: 1 }, { a: 2 }]);
    expect(asked).toContain('gzip');
    expect(c.budget.stats()).toMatchObject({ used: 42, inflightRequests: 0 });
  });

  it('a body cut short is a network error, retried on a new connection', async () => {
    const s = await serve((n, _req, res) => {
      ok(res, { 'content-length': String(BODY.length) });
      if (n === 1) {
        res.write(BODY.slice(0, 5));
        setImmediate(() => res.destroy());
      } else res.end(BODY);
    });
    expect(await client(s.url).get('/x', {}, Rows, { weight: 2 })).toHaveLength(2);
    expect(s.requests()).toBe(2);

    const always = await serve((_n, _req, res) => {
      ok(res, { 'content-length': String(BODY.length) });
      res.write(BODY.slice(0, 5));
      setImmediate(() => res.destroy());
    });
    const c = client(always.url, { maxTries: 2 });
    const err = await failure(c.get('/x', {}, Rows, { weight: 2 }));
    expect(err).toBeInstanceOf(ExchangeUnavailableError);
    expect(err).toMatchObject({ code: 'NETWORK_ERROR', tries: 2 });
    expect(c.budget.stats().inflightRequests).toBe(0);
  });

  it.each([
    ['before the answer', (res: http.ServerResponse) => void res],
    [
      'in the middle of the body',
      (res: http.ServerResponse) => {
        ok(res, { 'content-length': String(BODY.length) });
        res.write(BODY.slice(0, 5));
      },
    ],
  ])('a server that stalls %s times out (TIMEOUT), each try', async (_name, stall) => {
    const s = await serve((_n, _req, res) => stall(res));
    const c = client(s.url, { maxTries: 2, timeoutMs: 100 });
    const err = await failure(c.get('/x', {}, Rows, { weight: 2 }));
    expect(err).toMatchObject({ code: 'TIMEOUT', tries: 2 });
    expect(s.requests()).toBe(2);
    expect(c.budget.stats().inflightRequests).toBe(0);
  });

  it("the caller's abort ends the request with the caller's reason, unretried", async () => {
    const s = await serve((_n, _req, res) => {
      ok(res);
      res.write('[');
    });
    const c = client(s.url);
    const ac = new AbortController();
    const p = c.get('/x', {}, Rows, { weight: 2, signal: ac.signal });
    while (s.requests() === 0) await new Promise((r) => setTimeout(r, 5));
    const reason = new Error('stop');
    ac.abort(reason);
    expect(await failure(p)).toBe(reason);
    expect(s.requests()).toBe(1);
    expect(c.budget.stats().inflightRequests).toBe(0);
  });
});
