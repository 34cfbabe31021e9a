import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { QueueId, type Workflow } from '../../shared/contracts/workflow.ts';
import { toHttpBinary, toHttpStructured } from '../../shared/runtime/cloudevents.ts';
import { BODY, eventually, queueEvent, startManager, tempDir, type TestManager } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const dbPath = () => path.join(tmp.dir, `api-${++n}.sqlite`);

async function json<T = Record<string, unknown>>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

describe('POST /workflows', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({ sqlitePath: dbPath() });
  });
  afterAll(() => m.close());

  it('creates one pending workflow, publishes start and launches its job', async () => {
    const res = await m.request('/workflows', { method: 'POST', body: BODY });
    expect(res.status).toBe(201);
    const wf = await json<Workflow>(res);
    expect(QueueId.parse(wf.queue_id)).toMatch(/^wf-btcusdt-api_candles_5m-20240801-[0-9a-f]{6}$/);
    expect(wf).toMatchObject({
      status: 'pending',
      symbol: 'BTCUSDT',
      market: 'spot',
      target: 'loader-api',
      // half-open [2024-08-01T00:00Z, 2024-08-02T00:00Z)
      start: Date.parse('2024-08-01T00:00:00Z'),
      end: Date.parse('2024-08-02T00:00:00Z'),
      kafka_topic: 'binance-kline',
      collection_name: 'market_klines',
      records_written: 0,
      attempt: 1,
    });
    const launched = m.launcher.launched.find((s) => s.command.queue_id === wf.queue_id);
    expect(launched?.command).toMatchObject({ command: 'start', attempt: 1, kafka_topic: 'binance-kline' });
    const cmd = await eventually(() => m.commands.find((c) => c.queue_id === wf.queue_id));
    expect(cmd).toMatchObject({
      command: 'start',
      target: 'loader-api',
      time_range: '2024-08-01:2024-08-02',
    });
  });

  it('creates one workflow per symbol and answers { workflows }', async () => {
    const res = await m.request('/workflows', {
      method: 'POST',
      body: {
        symbols: ['ETHUSDT', 'BNBUSDT'],
        type: 'api_trades',
        start: '2024-08-01T12:00:00Z',
        end: '2024-08-01T13:00:00Z',
      },
    });
    expect(res.status).toBe(201);
    const { workflows } = await json<{ workflows: Workflow[] }>(res);
    expect(workflows.map((w) => w.symbol)).toEqual(['ETHUSDT', 'BNBUSDT']);
    expect(workflows[0]).toMatchObject({
      start: Date.parse('2024-08-01T12:00:00Z'),
      collection_name: 'market_trades',
    });
    expect(workflows[0]?.queue_id).toMatch(/^wf-ethusdt-api_trades-20240801-/);
  });

  it('honours explicit safe topic and collection names, and the market', async () => {
    const res = await m.request('/workflows', {
      method: 'POST',
      body: {
        ...BODY,
        type: 'api_funding',
        market: 'usdm',
        kafka_topic: 'my-topic',
        collection_name: 'my_fundings',
      },
    });
    expect(res.status).toBe(201);
    expect(await json(res)).toMatchObject({
      market: 'usdm',
      kafka_topic: 'my-topic',
      collection_name: 'my_fundings',
    });
  });

  it('keeps the case of a monthly type in the queue id', async () => {
    const res = await m.request('/workflows', { method: 'POST', body: { ...BODY, type: 'api_candles_1M' } });
    expect(res.status).toBe(201);
    expect((await json<Workflow>(res)).queue_id).toMatch(/^wf-btcusdt-api_candles_1M-20240801-/);
  });

  const bad: [string, Record<string, unknown>, string][] = [
    ['unknown type', { ...BODY, type: 'api_candles_7m' }, 'type'],
    ['lower-case symbol', { ...BODY, symbol: 'btcusdt' }, 'symbol'],
    ['one-letter symbol', { ...BODY, symbol: 'B' }, 'symbol'],
    ['21-character symbol', { ...BODY, symbol: 'A'.repeat(21) }, 'symbol'],
    [
      'bad symbol in symbols',
      { symbols: ['BTCUSDT', 'x-y'], type: BODY.type, time_range: BODY.time_range },
      'symbols',
    ],
    [
      'repeated symbols',
      { symbols: ['BTCUSDT', 'BTCUSDT'], type: BODY.type, time_range: BODY.time_range },
      'symbols',
    ],
    ['symbol and symbols', { ...BODY, symbols: ['ETHUSDT'] }, 'symbol'],
    ['no symbol', { type: BODY.type, time_range: BODY.time_range }, 'symbol'],
    ['unknown market', { ...BODY, market: 'coinm' }, 'market'],
    ['reversed range', { ...BODY, time_range: '2024-08-02:2024-08-01' }, 'time_range'],
    ['empty range', { ...BODY, time_range: '2024-08-01:2024-08-01' }, 'time_range'],
    [
      'reversed ISO range',
      { ...BODY, time_range: undefined, start: '2024-08-02T00:00:00Z', end: '2024-08-01T00:00:00Z' },
      'end',
    ],
    ['future-only range', { ...BODY, time_range: '2999-01-01:2999-01-02' }, 'time_range'],
    ['not a calendar day', { ...BODY, time_range: '2024-02-30:2024-03-01' }, 'time_range'],
    ['malformed range', { ...BODY, time_range: '2024-08-01..2024-08-02' }, 'time_range'],
    ['no range', { symbol: 'BTCUSDT', type: BODY.type }, 'time_range'],
    ['range twice', { ...BODY, start: '2024-08-01T00:00:00Z', end: '2024-08-02T00:00:00Z' }, 'time_range'],
    ['start without end', { ...BODY, time_range: undefined, start: '2024-08-01T00:00:00Z' }, 'end'],
    ['unknown field', { ...BODY, image: 'evil/image:latest' }, ''],
    ['unsafe topic', { ...BODY, kafka_topic: 'data; rm -rf' }, 'kafka_topic'],
    ['topic with a dot path', { ...BODY, kafka_topic: '../queue-control' }, 'kafka_topic'],
    ['unsafe collection', { ...BODY, collection_name: 'x y' }, 'collection_name'],
    ['1s candles on usdm', { ...BODY, type: 'api_candles_1s', market: 'usdm' }, 'market'],
    ['funding on spot', { ...BODY, type: 'api_funding' }, 'market'],
  ];

  it.each(bad)('400 for %s, with zod issues', async (_name, body, field) => {
    const before = m.launcher.launched.length;
    const res = await m.request('/workflows', { method: 'POST', body });
    expect(res.status).toBe(400);
    const out = await json<{ error: string; issues: { path: (string | number)[]; message: string }[] }>(res);
    expect(typeof out.error).toBe('string');
    expect(out.issues.length).toBeGreaterThan(0);
    if (field) expect(out.issues.map((i) => String(i.path[0]))).toContain(field);
    expect(m.launcher.launched.length).toBe(before);
  });

  it('400 for a body that is not JSON', async () => {
    const res = await m.manager.app.request('/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"symbol":',
    });
    expect(res.status).toBe(400);
  });

  it('ends the workflow in error when the job cannot be launched', async () => {
    // Its own manager: the shared one has its job slots taken by the jobs above (they never exit).
    const own = await startManager({ sqlitePath: dbPath() });
    try {
      own.launcher.failNext = new Error('spawn ENOENT');
      const res = await own.request('/workflows', { method: 'POST', body: BODY });
      expect(res.status).toBe(201);
      expect(await json(res)).toMatchObject({
        status: 'error',
        error: { code: 'launch_failed', message: 'spawn ENOENT' },
      });
    } finally {
      await own.close();
    }
  });
});

describe('GET, cancel and retry', () => {
  let m: TestManager;
  let wf: Workflow;
  beforeEach(async () => {
    m = await startManager({ sqlitePath: dbPath() });
    wf = await json<Workflow>(await m.request('/workflows', { method: 'POST', body: BODY }));
  });
  afterEach(() => m.close());

  it('GET returns the workflow with its timeline; 404 for an unknown id; 400 for a malformed one', async () => {
    const res = await m.request(`/workflows/${wf.queue_id}`);
    expect(res.status).toBe(200);
    const got = await json<Workflow>(res);
    expect(got.queue_id).toBe(wf.queue_id);
    expect(got.timeline[0]).toMatchObject({ producer: 'queue-manager', status: 'pending' });
    expect((await m.request('/workflows/wf-btcusdt-api_trades-20240801-000000')).status).toBe(404);
    expect((await m.request('/workflows/not-a-queue-id')).status).toBe(400);
  });

  it('cancel publishes stop and stops the job; a second cancel is 409; retry relaunches', async () => {
    const res = await m.request(`/workflows/${wf.queue_id}/cancel`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await json(res)).toMatchObject({ status: 'cancelled' });
    expect(m.launcher.cancelled).toEqual([wf.queue_id]);
    await eventually(() => m.commands.find((c) => c.command === 'stop' && c.queue_id === wf.queue_id));
    expect((await m.request(`/workflows/${wf.queue_id}/cancel`, { method: 'POST' })).status).toBe(409);

    const retried = await m.request(`/workflows/${wf.queue_id}/retry`, { method: 'POST' });
    expect(retried.status).toBe(200);
    expect(await json(retried)).toMatchObject({ status: 'pending', attempt: 2 });
    expect(m.launcher.launched.map((s) => s.command.attempt)).toEqual([1, 2]);
    await eventually(() => m.commands.find((c) => c.command === 'start' && c.attempt === 2));
  });

  it('retry of a pending workflow is 409; unknown ids are 404', async () => {
    expect((await m.request(`/workflows/${wf.queue_id}/retry`, { method: 'POST' })).status).toBe(409);
    const unknown = 'wf-btcusdt-api_trades-20240801-000000';
    expect((await m.request(`/workflows/${unknown}/retry`, { method: 'POST' })).status).toBe(404);
    expect((await m.request(`/workflows/${unknown}/cancel`, { method: 'POST' })).status).toBe(404);
  });

  it('a completed workflow can be neither cancelled nor retried', async () => {
    await m.manager.handleEvent(
      queueEvent(wf, { producer: 'arango-connector', status: 'completed', records_written: 288 }),
    );
    expect((await m.request(`/workflows/${wf.queue_id}/cancel`, { method: 'POST' })).status).toBe(409);
    expect((await m.request(`/workflows/${wf.queue_id}/retry`, { method: 'POST' })).status).toBe(409);
  });
});

describe('GET /workflows', () => {
  let m: TestManager;
  beforeAll(async () => {
    m = await startManager({ sqlitePath: dbPath() });
    for (const symbol of ['BTCUSDT', 'ETHUSDT', 'BNBUSDT']) {
      await m.request('/workflows', { method: 'POST', body: { ...BODY, symbol } });
    }
    await m.request('/workflows', { method: 'POST', body: { ...BODY, type: 'api_trades' } });
  });
  afterAll(() => m.close());

  it('filters by symbol, type and status, pages, and leaves timelines out', async () => {
    const all = await json<{ items: Workflow[]; total: number }>(await m.request('/workflows'));
    expect(all.total).toBe(4);
    expect(all.items[0]).not.toHaveProperty('timeline');
    const btc = await json<{ items: Workflow[]; total: number }>(
      await m.request('/workflows?symbol=BTCUSDT'),
    );
    expect(btc.total).toBe(2);
    const trades = await json<{ items: Workflow[] }>(await m.request('/workflows?type=api_trades'));
    expect(trades.items.map((w) => w.type)).toEqual(['api_trades']);
    const page = await json<{ items: Workflow[]; total: number }>(
      await m.request('/workflows?limit=2&offset=2'),
    );
    expect(page.items).toHaveLength(2);
    expect(page.total).toBe(4);
    expect((await json<{ total: number }>(await m.request('/workflows?status=completed'))).total).toBe(0);
    expect((await m.request('/workflows?status=done')).status).toBe(400);
    expect((await m.request('/workflows?limit=0')).status).toBe(400);
  });
});

describe('bearer token', () => {
  it('guards mutating endpoints, and reads only when asked', async () => {
    const m = await startManager({ sqlitePath: dbPath(), settings: { apiToken: 's3cret' } });
    try {
      const denied = await m.request('/workflows', { method: 'POST', body: BODY });
      expect(denied.status).toBe(401);
      expect(denied.headers.get('www-authenticate')).toMatch(/^Bearer/);
      expect(await json(denied)).toHaveProperty('error');
      expect((await m.request('/workflows', { method: 'POST', body: BODY, token: 'wrong' })).status).toBe(
        401,
      );
      const ok = await m.request('/workflows', { method: 'POST', body: BODY, token: 's3cret' });
      expect(ok.status).toBe(201);
      const wf = await json<Workflow>(ok);
      expect((await m.request(`/workflows/${wf.queue_id}/cancel`, { method: 'POST' })).status).toBe(401);
      expect((await m.request(`/workflows/${wf.queue_id}`)).status).toBe(200);
      expect((await m.request('/workflows')).status).toBe(200);
    } finally {
      await m.close();
    }
    const r = await startManager({
      sqlitePath: dbPath(),
      settings: { apiToken: 's3cret', apiTokenReads: true },
    });
    try {
      expect((await r.request('/workflows')).status).toBe(401);
      expect((await r.request('/workflows', { token: 's3cret' })).status).toBe(200);
      expect((await r.request('/healthz')).status).toBe(200);
    } finally {
      await r.close();
    }
  });
});

describe('job images', () => {
  it('come from the allow-list only; a target without one is refused when images are required', async () => {
    const m = await startManager({
      sqlitePath: dbPath(),
      settings: { requireImage: true, jobImages: { 'loader-api': 'ghcr.io/streamforge/streamforge:0.1.0' } },
    });
    try {
      expect((await m.request('/workflows', { method: 'POST', body: BODY })).status).toBe(201);
      expect(m.launcher.launched[0]).toMatchObject({ image: 'ghcr.io/streamforge/streamforge:0.1.0' });
      expect(m.launcher.launched[0]?.command.image).toBe('ghcr.io/streamforge/streamforge:0.1.0');
    } finally {
      await m.close();
    }
    const none = await startManager({
      sqlitePath: dbPath(),
      settings: { requireImage: true, jobImages: {} },
    });
    try {
      const res = await none.request('/workflows', { method: 'POST', body: BODY });
      expect(res.status).toBe(400);
      expect(none.launcher.launched).toHaveLength(0);
    } finally {
      await none.close();
    }
  });
});

describe('queue-events intake', () => {
  let m: TestManager;
  let wf: Workflow;
  beforeEach(async () => {
    m = await startManager({ sqlitePath: dbPath() });
    wf = await json<Workflow>(await m.request('/workflows', { method: 'POST', body: BODY }));
  });
  afterEach(() => m.close());
  const get = async () => json<Workflow>(await m.request(`/workflows/${wf.queue_id}`));

  it('folds CloudEvent POSTs in binary and structured mode', async () => {
    const started = toHttpBinary(queueEvent(wf, { status: 'started', seq: 0 }));
    const res = await m.manager.app.request('/', {
      method: 'POST',
      headers: started.headers,
      body: started.body,
    });
    expect(res.status).toBe(202);
    const loading = toHttpStructured(
      queueEvent(wf, { status: 'loading', seq: 1, progress: { pages: 2, percent: 40 } }),
    );
    expect(
      (await m.manager.app.request('/', { method: 'POST', headers: loading.headers, body: loading.body }))
        .status,
    ).toBe(202);
    expect(await get()).toMatchObject({ status: 'loading', progress: { pages: 2, percent: 40 } });
  });

  it('400 for a queue-event with invalid data or of another type', async () => {
    const bad = toHttpBinary(queueEvent(wf, { status: 'finished' as never }));
    expect(
      (await m.manager.app.request('/', { method: 'POST', headers: bad.headers, body: bad.body })).status,
    ).toBe(400);
    const other = toHttpBinary({ ...queueEvent(wf, {}), type: 'io.streamforge.command.start' });
    expect(
      (await m.manager.app.request('/', { method: 'POST', headers: other.headers, body: other.body })).status,
    ).toBe(400);
    expect((await get()).status).toBe('pending');
  });

  it('folds queue-events from the bus, and shows an exchange error with its code and message', async () => {
    await m.bus.publish('queue-events', [
      { key: wf.symbol, event: queueEvent(wf, { status: 'started', seq: 0 }) },
      { key: wf.symbol, event: queueEvent(wf, { status: 'loading', seq: 1 }) },
      {
        key: wf.symbol,
        event: queueEvent(wf, {
          status: 'error',
          seq: 2,
          finished: true,
          error: { code: -1121, message: 'Invalid symbol.', source: '/api/v3/klines' },
        }),
      },
    ]);
    const failed = await eventually(async () => {
      const w = await get();
      return w.status === 'error' ? w : undefined;
    });
    expect(failed.error).toEqual({ code: -1121, message: 'Invalid symbol.', source: '/api/v3/klines' });
    expect(failed.timeline.map((t) => t.status)).toEqual(['pending', 'started', 'loading', 'error']);
  });

  it('a failed job exit ends the workflow in error after the grace, unless its error event came first', async () => {
    m.launcher.exit({ queue_id: wf.queue_id, name: 'fake-1', code: 3, signal: null, attempt: 1 });
    const failed = await eventually(async () => {
      const w = await get();
      return w.status === 'error' ? w : undefined;
    });
    expect(failed.error).toMatchObject({ code: 'job_exit', message: 'job fake-1 exited with code 3' });

    const other = await json<Workflow>(
      await m.request('/workflows', { method: 'POST', body: { ...BODY, symbol: 'ETHUSDT' } }),
    );
    m.launcher.exit({ queue_id: other.queue_id, name: 'fake-2', code: 1, signal: null, attempt: 1 });
    await m.manager.handleEvent(
      queueEvent(other, {
        status: 'error',
        finished: true,
        error: { code: -1003, message: 'Too many requests.' },
      }),
    );
    await new Promise((r) => setTimeout(r, 100)); // past the 20 ms grace
    const w = await json<Workflow>(await m.request(`/workflows/${other.queue_id}`));
    expect(w.error).toEqual({ code: -1003, message: 'Too many requests.' });
  });

  it('an exit of an older attempt does not touch the current one', async () => {
    await m.request(`/workflows/${wf.queue_id}/cancel`, { method: 'POST' });
    await m.request(`/workflows/${wf.queue_id}/retry`, { method: 'POST' });
    m.launcher.exit({ queue_id: wf.queue_id, name: 'fake-1', code: null, signal: 'SIGTERM', attempt: 1 });
    await new Promise((r) => setTimeout(r, 100));
    expect(await get()).toMatchObject({ status: 'pending', attempt: 2 });
  });
});

describe('/openapi.json', () => {
  it('documents the workflow routes from the same schemas, with half-open UTC ranges', async () => {
    const m = await startManager({ sqlitePath: dbPath() });
    try {
      const res = await m.request('/openapi.json');
      expect(res.status).toBe(200);
      const doc = await json<{
        paths: Record<string, unknown>;
        components: { schemas: Record<string, unknown> };
      }>(res);
      for (const p of [
        '/workflows',
        '/workflows/{queue_id}',
        '/workflows/{queue_id}/cancel',
        '/workflows/{queue_id}/retry',
      ]) {
        expect(doc.paths).toHaveProperty([p]);
      }
      expect(doc.components.schemas).toHaveProperty('CreateWorkflowRequest');
      expect(JSON.stringify(doc)).toMatch(/half-open/);
    } finally {
      await m.close();
    }
  });
});
