import type { OpenAPIHono } from '@hono/zod-openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import type { Trade } from '../../shared/contracts/records.ts';
import { rowFromRecord } from '../../shared/contracts/rows.ts';
import { createFunctionApp } from '../../shared/runtime/app.ts';
import { recordCoverage } from '../../shared/store/coverage.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnector } from '../../functions/arango-connector/app.ts';
import { registerSeriesRoutes } from '../../functions/queue-manager/series-routes.ts';
import { RecordingBus, T0, kline, klineBatch, logger, tempSqlite } from '../arango-connector/helpers.ts';

const MINUTE = 60_000;
const TOTAL = 250;
const BASE = '/series/spot/BTCUSDT/klines_1m';

let store: Store;
let cleanup: () => Promise<void>;
let app: OpenAPIHono;

function trade(id: number): Trade {
  return {
    market: 'usdm',
    symbol: 'ETHUSDT',
    id,
    price: '3000.10',
    qty: '0.001',
    quote_qty: '3.0001',
    time: T0 + id * 1000,
    is_buyer_maker: id % 2 === 0,
  };
}

beforeAll(async () => {
  ({ store, cleanup } = tempSqlite());
  const connector = createConnector({ store, bus: new RecordingBus(), logger });
  // Klines arrive the way they do in production: data batches through the connector.
  for (let seq = 0; seq < TOTAL / 50; seq++) await connector.handler.handleEvent(klineBatch(seq, 50));
  // Records that share a time must page by key too.
  const trades = [trade(1), trade(2), { ...trade(3), time: trade(2).time }, trade(4)];
  const collection = canonicalCollection('trade');
  await store.ensureCollection(collection, 'series', 'trade');
  await store.upsertRows(collection, {
    kind: 'trade',
    series: { market: 'usdm', symbol: 'ETHUSDT', dataset: 'trades' },
    rows: trades.map((t) => rowFromRecord('trade', t)),
  });
  await recordCoverage(store, canonicalCollection('kline'), 'spot:BTCUSDT:klines_1m', {
    gaps: [{ from: T0 + TOTAL * MINUTE, to: T0 + (TOTAL + 5) * MINUTE }],
  });
  await connector.stop();
  app = createFunctionApp({ name: 'queue-manager', logger }).app;
  registerSeriesRoutes(app, { store });
});

afterAll(async () => {
  await cleanup();
});

async function get(url: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await app.request(url);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

interface Page {
  items: Record<string, unknown>[];
  next_cursor: string | null;
}

async function pageAll(query: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const { status, body } = await get(`${BASE}/records?${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(status).toBe(200);
    const page = body as unknown as Page;
    out.push(...page.items);
    cursor = page.next_cursor;
    if (cursor === null) return out;
  }
  throw new Error('paging did not end');
}

describe('read API', () => {
  it('GET /series lists every stored series with count and time span', async () => {
    const { status, body } = await get('/series');
    expect(status).toBe(200);
    expect(body['items']).toEqual([
      {
        market: 'spot',
        symbol: 'BTCUSDT',
        dataset: 'klines_1m',
        count: TOTAL,
        first: T0,
        last: T0 + (TOTAL - 1) * MINUTE,
      },
      { market: 'usdm', symbol: 'ETHUSDT', dataset: 'trades', count: 4, first: T0 + 1000, last: T0 + 4000 },
    ]);
  });

  it('GET /series/{market}/{symbol}/{dataset} adds the coverage ledger', async () => {
    const { status, body } = await get(BASE);
    expect(status).toBe(200);
    expect(body).toEqual({
      market: 'spot',
      symbol: 'BTCUSDT',
      dataset: 'klines_1m',
      count: TOTAL,
      first: T0,
      last: T0 + (TOTAL - 1) * MINUTE,
      covered: [{ from: T0, to: T0 + TOTAL * MINUTE }],
      gaps: [{ from: T0 + TOTAL * MINUTE, to: T0 + (TOTAL + 5) * MINUTE }],
    });
  });

  it('pages through a series in time order without skipping or repeating', async () => {
    const all = await pageAll('limit=37');
    expect(all).toEqual(Array.from({ length: TOTAL }, (_, i) => kline(i)));
    // Exact page size: the last full page has no cursor.
    expect(await pageAll('limit=50')).toHaveLength(TOTAL);
    // Trades sharing a time are ordered by key and not lost at a page boundary.
    const trades: unknown[] = [];
    let cursor: string | null = null;
    do {
      const { body } = await get(
        `/series/usdm/ETHUSDT/trades/records?limit=1${cursor ? `&cursor=${cursor}` : ''}`,
      );
      const page = body as unknown as Page;
      trades.push(...page.items.map((t) => t['id']));
      cursor = page.next_cursor;
    } while (cursor !== null);
    expect(trades).toEqual([1, 2, 3, 4]);
  });

  it('filters by from/to given as epoch ms or ISO-8601, half-open', async () => {
    const from = T0 + 10 * MINUTE;
    const to = T0 + 20 * MINUTE;
    const byMs = await pageAll(`from=${from}&to=${to}&limit=3`);
    expect(byMs.map((k) => k['open_time'])).toEqual(
      Array.from({ length: 10 }, (_, i) => T0 + (10 + i) * MINUTE),
    );
    const byIso = await pageAll(`from=${new Date(from).toISOString()}&to=2024-01-01T00:20:00%2B00:00`);
    expect(byIso).toEqual(byMs);
    const { body } = await get(`${BASE}/records?from=2024-01-01&limit=1`);
    expect((body as unknown as Page).items).toEqual([kline(0)]);
  });

  it('a cursor is `<time>_<id>` of the last record: any such position pages on from there', async () => {
    const { body } = await get(`${BASE}/records?limit=2`);
    const first = body as unknown as Page;
    expect(first.next_cursor).toBe(`${T0 + MINUTE}_${T0 + MINUTE}`);
    // A position between records (or before all of them) is as good as one returned.
    const mid = (await get(`${BASE}/records?limit=1&cursor=${T0 + 90_000}_0`)).body as unknown as Page;
    expect(mid.items).toEqual([kline(2)]);
    const before = (await get(`${BASE}/records?limit=1&cursor=-5_-5`)).body as unknown as Page;
    expect(before.items).toEqual([kline(0)]);
    // ISO dates before 1970 are instants too.
    expect((await get(`${BASE}/records?from=1969-12-31T23:00:00-01:00&limit=1`)).status).toBe(200);
  });

  it('keeps the exchange decimal strings exactly', async () => {
    const { body } = await get(`${BASE}/records?limit=1&from=${T0 + 7 * MINUTE}`);
    const item = (body as unknown as Page).items[0];
    expect(item).toMatchObject({ open: '42007.01000000', low: '41997.12345678', volume: '12.34500000' });
  });

  it('answers 400 with zod issues for parameters out of range', async () => {
    const bad = [
      `${BASE}/records?limit=0`,
      `${BASE}/records?limit=5001`,
      `${BASE}/records?limit=ten`,
      `${BASE}/records?from=yesterday`,
      `${BASE}/records?from=2024-01-01T00:00:00`, // no zone: ambiguous
      `${BASE}/records?from=${T0 + MINUTE}&to=${T0}`,
      `${BASE}/records?from=${T0}&to=${T0}`, // `to` must be after `from`
      `${BASE}/records?limit=0x10`,
      `${BASE}/records?limit=1e3`,
      `${BASE}/records?from=2024-02-30`, // not a calendar day
      `${BASE}/records?cursor=not-a-cursor`,
      `${BASE}/records?cursor=${Buffer.from('{"time":1,"key":"a:1"}').toString('base64url')}`,
      '/series/margin/BTCUSDT/klines_1m',
      '/series/spot/btc-usdt/klines_1m/records',
      '/series/spot/BTCUSDT/klines_7m',
    ];
    for (const url of bad) {
      const { status, body } = await get(url);
      expect(status, url).toBe(400);
      expect((body['issues'] as unknown[]).length, url).toBeGreaterThan(0);
    }
  });

  it('answers 404 for a series that is not stored', async () => {
    expect((await get('/series/spot/DOGEUSDT/klines_1m')).status).toBe(404);
    expect((await get('/series/spot/DOGEUSDT/klines_1m/records')).status).toBe(404);
    // A stored series with nothing in the window is an empty page, not a 404.
    const { status, body } = await get(`${BASE}/records?from=${T0 + 10_000 * MINUTE}`);
    expect(status).toBe(200);
    expect(body).toEqual({ items: [], next_cursor: null });
  });

  it('describes the routes in the OpenAPI document: every status and every rule they enforce', () => {
    const doc = app.getOpenAPI31Document({ openapi: '3.1.0', info: { title: 't', version: '1' } });
    expect(Object.keys(doc.paths ?? {})).toEqual(
      expect.arrayContaining([
        '/series',
        '/series/{market}/{symbol}/{dataset}',
        '/series/{market}/{symbol}/{dataset}/records',
      ]),
    );
    const statuses = (path: string) => Object.keys(doc.paths?.[path]?.get?.responses ?? {});
    const item = ['200', '400', '401', '404', '503'];
    expect(statuses('/series')).toEqual(['200', '401', '503']);
    expect(statuses('/series/{market}/{symbol}/{dataset}')).toEqual(item);
    expect(statuses('/series/{market}/{symbol}/{dataset}/records')).toEqual(item);

    const params = doc.paths?.['/series/{market}/{symbol}/{dataset}/records']?.get?.parameters ?? [];
    const schemaOf = (name: string) => {
      const p = params.find((x) => 'name' in x && x.name === name);
      return (p && 'schema' in p ? p.schema : undefined) as Record<string, unknown> | undefined;
    };
    // Each value's rule is a pattern (or bounds) the handler applies as it stands.
    const time = new RegExp(schemaOf('from')?.['pattern'] as string);
    for (const ok of ['1704067200000', '2024-02-29', '2024-01-01T00:00:00.5+05:30', '0000-01-01T00:00:00Z'])
      expect(time.test(ok), ok).toBe(true);
    for (const bad of ['yesterday', '2023-02-29', '2024-01-01T00:00:00', '1234567890123456'])
      expect(time.test(bad), bad).toBe(false);
    expect(schemaOf('to')?.['pattern']).toBe(time.source);
    expect(schemaOf('to')?.['description']).toMatch(/after `from`/);
    expect(schemaOf('limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 5000, default: 500 });
    expect(new RegExp(schemaOf('cursor')?.['pattern'] as string).test('1704067200000_42')).toBe(true);
  });
});
