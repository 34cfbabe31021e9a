/**
 * Issue 11's bad input, one test per row: each is sent as a user (or an intruder) would, the
 * exact answer is checked, and so is that nothing was written.
 */
import http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Workflow } from '../../shared/contracts/workflow.ts';
import { toHttpBatch, toHttpBinary } from '../../shared/runtime/cloudevents.ts';
import { createIntakeVerifier } from '../../shared/runtime/intake-auth.ts';
import { serve, type Served } from '../../shared/runtime/serve.ts';
import { BODY, eventually, logger, queueEvent, startManager, tempDir, type TestManager } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const dbPath = () => path.join(tmp.dir, `refuse-${++n}.sqlite`);
const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;
const SECRET = 'the-platform-intake-secret-0123456789';

/** Everything the manager has stored, to show that a refusal wrote nothing. */
async function total(m: TestManager): Promise<number> {
  return (await json<{ total: number }>(await m.request('/workflows'))).total;
}

describe('requests that cannot succeed are refused at the door', () => {
  let m: TestManager;
  beforeEach(async () => {
    m = await startManager({
      sqlitePath: dbPath(),
      settings: { rangeLimits: { maxCandles: 1_000_000, maxTradeDays: 31 } },
    });
  });
  afterEach(() => m.close());

  const cases: [string, Record<string, unknown>, number, unknown][] = [
    [
      'a start before 1970',
      { ...BODY, time_range: undefined, start: '1969-12-31T00:00:00Z', end: '2024-08-01T00:00:00Z' },
      400,
      { path: ['start'], message: 'start 1969-12-31T00:00:00.000Z is before spot opened (2017-07-14)' },
    ],
    [
      'a start before the market opened',
      { ...BODY, type: 'api_funding', market: 'usdm', time_range: '2019-01-01:2019-12-01' },
      400,
      { path: ['time_range'], message: 'start 2019-01-01T00:00:00.000Z is before usdm opened (2019-09-08)' },
    ],
    [
      'the whole calendar in 1m',
      { ...BODY, type: 'api_candles_1m', time_range: '1970-01-01:9999-12-31' },
      400,
      { path: ['time_range'], message: 'start 1970-01-01T00:00:00.000Z is before spot opened (2017-07-14)' },
    ],
    [
      'aggTrades on USD-M',
      { ...BODY, type: 'api_agg_trades', market: 'usdm' },
      400,
      { path: ['market'], message: 'api_agg_trades on usdm: agg_trades are loaded for spot only' },
    ],
    [
      '1s candles from the USD-M archive',
      { ...BODY, type: 'bulk_candles_1s', market: 'usdm' },
      400,
      { path: ['market'], message: 'bulk_candles_1s on usdm: 1s klines exist on spot only' },
    ],
    [
      'funding on spot',
      { ...BODY, type: 'api_funding' },
      400,
      { path: ['market'], message: 'api_funding on spot: funding rates exist on USD-M only' },
    ],
    [
      'a range beyond the maximum for its interval',
      { ...BODY, type: 'api_candles_1m', time_range: '2018-01-01:2020-01-01' },
      400,
      {
        path: ['time_range'],
        message:
          'the range holds 1051200 1m candles; at most 1000000 per workflow (split it into several workflows, or raise MAX_RANGE_CANDLES)',
      },
    ],
    [
      'trades over more days than allowed',
      { ...BODY, type: 'api_trades', time_range: '2024-01-01:2024-03-01' },
      400,
      {
        path: ['time_range'],
        message:
          'the range spans 60.0 days of trades; at most 31 per workflow (split it, or raise MAX_RANGE_TRADE_DAYS)',
      },
    ],
  ];
  it.each(cases)('%s: refused with the issue, nothing stored', async (_name, body, status, issue) => {
    const res = await m.request('/workflows', { method: 'POST', body });
    expect(res.status).toBe(status);
    expect(await json(res)).toEqual({
      error: 'invalid request json',
      issues: [{ code: 'custom', ...(issue as object) }],
    });
    expect(await total(m)).toBe(0);
    expect(m.launcher.launched).toHaveLength(0);
  });

  it.each([
    [
      { symbol: 'BTCUSDT', type: 'graph_build', time_range: '2024-01-01:2024-03-01' },
      'symbols',
      'graph_build needs `symbols`: at least 2 (one graph over all of them)',
    ],
    [
      {
        symbols: ['BTCUSDT', 'ETHUSDT'],
        type: 'graph_build',
        time_range: '2024-01-01:2024-01-11',
        graph: { window: '30d' },
      },
      'graph.window',
      'window 720h is 720 bars of 1h but the range has only 240: nothing to build',
    ],
    [
      {
        symbols: ['BTCUSDT', 'ETHUSDT'],
        type: 'graph_build',
        time_range: '2024-01-01:2024-03-01',
        graph: { interval: '1h', window: '90m' },
      },
      'graph.window',
      'window 1.5h is not a whole number of 1h bars',
    ],
    [
      { type: 'gnn_train', gnn: { graph_id: 'wf-btcusdt-graph_build-20240101-000000' } },
      'gnn.graph_id',
      'no graph wf-btcusdt-graph_build-20240101-000000: build one with a graph_build workflow (GET /graphs lists them)',
    ],
    [
      { type: 'gnn_train', symbol: 'BTCUSDT', gnn: { graph_id: 'x' } },
      'symbol',
      "gnn_train takes no symbol: it trains on the graph's symbols and range",
    ],
    [{ type: 'gnn_train' }, 'gnn', 'gnn_train needs `gnn` with the graph_id to train on'],
  ])(
    'graph and training requests that cannot run: %o is a 400 at %s, nothing stored',
    async (body, path, message) => {
      const res = await m.request('/workflows', { method: 'POST', body });
      expect(res.status).toBe(400);
      const out = await json<{ error: string; issues: { path: string[]; message: string }[] }>(res);
      expect(out.issues).toContainEqual(expect.objectContaining({ path: path.split('.'), message }));
      expect(await total(m)).toBe(0);
      expect(m.launcher.launched).toHaveLength(0);
    },
  );

  it.each([
    [{ time_range: '2024-01-01:2024-01-02' }, 'time_range', 'ws_trades is live: it takes no time_range'],
    [{ start: '2024-01-01T00:00:00Z' }, 'start', 'ws_trades is live: it starts now and takes no start'],
    [{ end: '2001-01-01T00:00:00Z' }, 'end', 'end 2001-01-01T00:00:00Z is not in the future'],
  ])('a live type refuses %o with a 400 naming %s', async (extra, path, message) => {
    const res = await m.request('/workflows', {
      method: 'POST',
      body: { symbol: 'BTCUSDT', type: 'ws_trades', ...extra },
    });
    expect(res.status).toBe(400);
    const body = await json<{ issues: Array<{ path: string[]; message: string }> }>(res);
    expect(body.issues[0]?.path).toEqual([path]);
    expect(body.issues[0]?.message).toContain(message);
    expect(await total(m)).toBe(0);
  });

  it('a live type starts now and runs until its end (or open-ended), as a command, not a Job', async () => {
    const before = Date.now();
    const res = await m.request('/workflows', {
      method: 'POST',
      body: { symbol: 'BTCUSDT', type: 'ws_candles_1m' },
    });
    expect(res.status).toBe(201);
    const wf = await json<Workflow>(res);
    expect(wf.target).toBe('loader-ws');
    expect(wf.start).toBeGreaterThanOrEqual(before);
    expect(wf.end).toBe(Date.UTC(9999, 11, 31, 23, 59, 59, 999));
    expect(wf.time_range).toMatch(/^live from /);
    expect(m.launcher.launched).toHaveLength(0);
  });

  it('a range reaching into the future is clamped to now, and the workflow says so', async () => {
    const before = Date.now();
    const res = await m.request('/workflows', {
      method: 'POST',
      body: {
        ...BODY,
        time_range: undefined,
        start: new Date(before - 3_600_000).toISOString(),
        end: '2999-01-01T00:00:00Z',
      },
    });
    expect(res.status).toBe(201);
    const wf = await json<Workflow>(res);
    expect(wf.end).toBeGreaterThanOrEqual(before);
    expect(wf.end).toBeLessThanOrEqual(Date.now());
    expect(wf.notes).toEqual([
      `end clamped from 2999-01-01T00:00:00.000Z to ${new Date(wf.end).toISOString()}: later data does not exist yet`,
    ]);
    expect(m.launcher.launched[0]?.command.end).toBe(wf.end);
  });

  it('a body over the API limit answers 413 naming it, unparsed', async () => {
    const res = await m.manager.app.request('/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...BODY, pad: 'x'.repeat(50 * 1024 * 1024) }),
    });
    expect(res.status).toBe(413);
    expect(await json(res)).toEqual({ error: 'request body larger than 65536 bytes' });
    expect(await total(m)).toBe(0);
  });
});

describe('workflow creation per client is rate limited', () => {
  it('answers 429 with Retry-After once the bucket is empty, creating nothing', async () => {
    let now = Date.UTC(2026, 0, 1);
    const m = await startManager({
      sqlitePath: dbPath(),
      settings: { createRatePerMinute: 3 },
      now: () => now,
    });
    try {
      const two = await m.request('/workflows', {
        method: 'POST',
        body: { ...BODY, symbol: undefined, symbols: ['BTCUSDT', 'ETHUSDT'] },
      });
      expect(two.status).toBe(201);
      expect((await m.request('/workflows', { method: 'POST', body: BODY })).status).toBe(201);
      const refused = await m.request('/workflows', { method: 'POST', body: BODY });
      expect(refused.status).toBe(429);
      expect(refused.headers.get('retry-after')).toBe('20');
      expect(await json(refused)).toEqual({
        error:
          'too many workflows created: at most 3 per minute per client (CREATE_RATE_PER_MINUTE); retry in 20 s',
      });
      expect(await total(m)).toBe(3);
      // Another client (its own token) has its own bucket; the first one refills with time.
      expect(
        (await m.request('/workflows', { method: 'POST', body: BODY, token: 'someone-else' })).status,
      ).toBe(201);
      now += 20_000;
      expect((await m.request('/workflows', { method: 'POST', body: BODY })).status).toBe(201);
    } finally {
      await m.close();
    }
  });
});

describe('concurrent jobs are bounded', () => {
  it('workflows beyond MAX_RUNNING_JOBS wait as pending, say so, and start when a job ends', async () => {
    const m = await startManager({ sqlitePath: dbPath(), settings: { maxRunningJobs: 1 } });
    try {
      const first = await json<Workflow>(await m.request('/workflows', { method: 'POST', body: BODY }));
      const second = await json<Workflow>(
        await m.request('/workflows', { method: 'POST', body: { ...BODY, symbol: 'ETHUSDT' } }),
      );
      expect(second).toMatchObject({
        status: 'pending',
        waiting: 'waiting for a job slot: 1 of 1 jobs running (MAX_RUNNING_JOBS), 1 workflow(s) waiting',
      });
      expect(m.launcher.launched.map((s) => s.command.queue_id)).toEqual([first.queue_id]);
      // The watchdog does not call a waiting workflow stalled.
      expect(await m.manager.service.sweep()).toBe(0);

      m.launcher.exit({ queue_id: first.queue_id, name: 'fake-1', code: 0, signal: null, attempt: 1 });
      await eventually(() => (m.launcher.launched.length === 2 ? true : undefined));
      expect(m.launcher.launched[1]?.command.queue_id).toBe(second.queue_id);
      const now = await json<Workflow>(await m.request(`/workflows/${second.queue_id}`));
      expect(now.waiting).toBeUndefined();
    } finally {
      await m.close();
    }
  });

  it('a waiting workflow that is cancelled never starts', async () => {
    const m = await startManager({ sqlitePath: dbPath(), settings: { maxRunningJobs: 1 } });
    try {
      const first = await json<Workflow>(await m.request('/workflows', { method: 'POST', body: BODY }));
      const second = await json<Workflow>(
        await m.request('/workflows', { method: 'POST', body: { ...BODY, symbol: 'ETHUSDT' } }),
      );
      expect((await m.request(`/workflows/${second.queue_id}/cancel`, { method: 'POST' })).status).toBe(200);
      m.launcher.exit({ queue_id: first.queue_id, name: 'fake-1', code: 0, signal: null, attempt: 1 });
      await new Promise((r) => setTimeout(r, 100));
      expect(m.launcher.launched).toHaveLength(1);
    } finally {
      await m.close();
    }
  });
});

describe('the queue-event intake', () => {
  let m: TestManager;
  let served: Served;
  let wf: Workflow;
  beforeEach(async () => {
    m = await startManager({ sqlitePath: dbPath(), intakeAuth: createIntakeVerifier({ secrets: [SECRET] }) });
    served = await serve(m.manager.app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
    wf = await json<Workflow>(await m.request('/workflows', { method: 'POST', body: BODY }));
  });
  afterEach(async () => {
    await served.close();
    await m.close();
  });
  const get = async () => json<Workflow>(await m.request(`/workflows/${wf.queue_id}`));
  const forged = () =>
    toHttpBinary(queueEvent(wf, { status: 'completed', records_written: 999_999, finished: true }));

  it.each([
    ['no credential', undefined, 'missing Authorization header'],
    [
      'a wrong secret',
      'Bearer not-the-secret-at-all-000000',
      'bearer token does not match the intake secret',
    ],
    [
      'another scheme',
      `Basic ${Buffer.from(`x:${SECRET}`).toString('base64')}`,
      'Authorization header is not a bearer token',
    ],
  ])('a forged outcome with %s is refused (401) and changes nothing', async (_n, authorization, error) => {
    const msg = forged();
    const res = await fetch(`${served.url}/`, {
      method: 'POST',
      headers: { ...msg.headers, ...(authorization ? { authorization } : {}) },
      body: msg.body,
    });
    expect(res.status).toBe(401);
    expect(await json(res)).toEqual({ error: error });
    expect(await get()).toMatchObject({ status: 'pending', records_written: 0 });
  });

  it('the same event with the platform secret is folded', async () => {
    const msg = forged();
    const res = await fetch(`${served.url}/`, {
      method: 'POST',
      headers: { ...msg.headers, authorization: `Bearer ${SECRET}` },
      body: msg.body,
    });
    expect(res.status).toBe(202);
    expect(await get()).toMatchObject({ status: 'completed', records_written: 999_999 });
  });

  it('a batch with one bad element is refused whole (400 naming index 1) and nothing is folded', async () => {
    const good = queueEvent(wf, { status: 'loading', records_written: 10, message: 'good element' });
    const bad = queueEvent(wf, { status: 'loading' });
    (bad.data as Record<string, unknown>)['records_written'] = -5;
    const msg = toHttpBatch([good, bad]);
    const res = await fetch(`${served.url}/`, {
      method: 'POST',
      headers: { ...msg.headers, authorization: `Bearer ${SECRET}` },
      body: msg.body,
    });
    expect(res.status).toBe(400);
    const body = await json<{ error: string; issues: { path: unknown[] }[] }>(res);
    expect(body.error).toBe('invalid CloudEvents batch: 1 of 2 events rejected, none handled');
    expect(body.issues.map((i) => i.path)).toEqual([[1, 'records_written']]);
    const after = await get();
    expect(after).toMatchObject({ status: 'pending', records_written: 0 });
    expect(after.timeline.map((e) => e.message)).not.toContain('good element');
  });

  it('a 600 MB CloudEvent is answered 413 before its body is read: memory stays flat', async () => {
    const size = 600 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    const rssBefore = process.memoryUsage().rss;
    const { status, body, sent } = await new Promise<{ status: number; body: string; sent: number }>(
      (resolve, reject) => {
        let written = 0;
        const req = http.request(`${served.url}/`, {
          method: 'POST',
          headers: {
            ...forged().headers,
            authorization: `Bearer ${SECRET}`,
            'content-length': String(size),
          },
        });
        req.on('response', (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => (text += d));
          res.on('end', () => {
            resolve({ status: res.statusCode ?? 0, body: text, sent: written });
            req.destroy();
          });
        });
        req.on('error', (err) => (written >= size ? undefined : reject(err)));
        const pump = (): void => {
          while (written < size) {
            written += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      },
    );
    expect(status).toBe(413);
    expect(JSON.parse(body)).toEqual({ error: 'request body larger than 1048576 bytes' });
    // The answer came before the body was all sent, and the server held none of it.
    expect(sent).toBeLessThan(size);
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(100 * 1024 * 1024);
    expect(await get()).toMatchObject({ status: 'pending' });
  });
});
