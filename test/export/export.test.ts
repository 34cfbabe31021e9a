/**
 * GET /series/{market}/{symbol}/{dataset}/export over real HTTP (a manager with a SQLite store,
 * served on 127.0.0.1): every record kind exported as Parquet and CSV, read back with pyarrow and
 * Python's csv module (test/export/read_back.py; pyarrow from .ci/requirements.txt) and compared
 * value by value with the API's own /records JSON. Also: a range with no data is an empty file
 * with the schema, an unknown series 404, a bad format 400 with the zod issues, and the stream
 * sends its first bytes before the store's last page is read.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { RECORD_KINDS, seriesKey, type RecordKind, type SeriesId } from '../../shared/contracts/records.ts';
import { rowFromRecord } from '../../shared/contracts/rows.ts';
import { exportColumns } from '../../shared/export/columns.ts';
import { EXPORT_PAGE_ROWS } from '../../shared/export/stream.ts';
import { serve, type Served } from '../../shared/runtime/serve.ts';
import type { RangeQuery, SeriesRecord } from '../../shared/store/store.ts';
import { SAMPLES, kline, T0 } from '../arango-connector/helpers.ts';
import { logger, startManager, tempDir, type TestManager } from '../queue-manager/helpers.ts';

const tmp = tempDir();
const run = promisify(execFile);
const READ_BACK = path.join(import.meta.dirname, 'read_back.py');
/** Klines of the main series: several store pages and several Parquet row groups. */
const KLINES = 2 * 20_000 + 1234;
const BIG: SeriesId = { market: 'spot', symbol: 'ETHUSDT', dataset: 'klines_1m' };

let m: TestManager;
let served: Served;

beforeAll(async () => {
  m = await startManager({ sqlitePath: path.join(tmp.dir, 'export.sqlite') });
  for (const kind of RECORD_KINDS) {
    const { series, records } = SAMPLES[kind];
    await m.store.upsertRows(canonicalCollection(kind), {
      kind,
      series,
      rows: (records as never[]).map((r) => rowFromRecord(kind, r)),
    });
  }
  await m.store.upsertRows(canonicalCollection('kline'), {
    kind: 'kline',
    series: BIG,
    rows: Array.from({ length: KLINES }, (_, i) =>
      rowFromRecord('kline', {
        ...kline(i),
        symbol: 'ETHUSDT',
        open: `${1000 + i}.${String(i % 100).padStart(2, '0')}`,
      }),
    ),
  });
  served = await serve(m.manager.app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
});

afterAll(async () => {
  await served?.close();
  await m?.close();
  tmp.cleanup();
});

const base = (s: SeriesId) => `${served.url}/series/${s.market}/${s.symbol}/${s.dataset}`;

/** Every record of the series through /records, as the API serves them. */
async function records(s: SeriesId, query = ''): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const res = await fetch(`${base(s)}/records?limit=5000${query}${cursor ? `&cursor=${cursor}` : ''}`);
    expect(res.status).toBe(200);
    const page = (await res.json()) as { items: Record<string, unknown>[]; next_cursor: string | null };
    out.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor !== null);
  return out;
}

interface ReadBack {
  rows: Record<string, unknown>[];
  schema: Record<string, string> | string[];
  nullable?: Record<string, boolean>;
  metadata: Record<string, string> | null;
}

/** Downloads the export and reads it back in Python. */
async function exported(
  s: SeriesId,
  format: 'csv' | 'parquet',
  query = '',
): Promise<{ res: Response; file: ReadBack; bytes: Buffer }> {
  const res = await fetch(`${base(s)}/export?format=${format}${query}`);
  expect(res.status).toBe(200);
  const bytes = Buffer.from(await res.arrayBuffer());
  const file = path.join(tmp.dir, `${s.symbol}-${s.dataset}-${Math.random()}.${format}`);
  writeFileSync(file, bytes);
  const kind = SAMPLES_KIND.get(s.dataset) ?? 'kline';
  // Not execFileSync: the server lives in this process, and a blocked event loop lets its
  // keep-alive timer and the client's next request on that connection race (ECONNRESET).
  const { stdout: out } = await run(
    'python3',
    [READ_BACK, file, format, JSON.stringify(exportColumns(kind))],
    {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    },
  );
  return { res, file: JSON.parse(out) as ReadBack, bytes };
}
const SAMPLES_KIND = new Map<string, RecordKind>(RECORD_KINDS.map((k) => [SAMPLES[k].series.dataset, k]));

describe('export: every record kind, read back and compared with /records', () => {
  it.each(RECORD_KINDS.flatMap((kind) => (['parquet', 'csv'] as const).map((f) => [kind, f] as const)))(
    '%s as %s',
    async (kind, format) => {
      const s = SAMPLES[kind].series;
      const [{ res, file }, api] = await Promise.all([exported(s, format), records(s)]);
      expect(res.headers.get('content-type')).toBe(
        format === 'csv' ? 'text/csv; charset=utf-8' : 'application/vnd.apache.parquet',
      );
      expect(res.headers.get('content-disposition')).toBe(
        `attachment; filename="${s.market}-${s.symbol}-${s.dataset}.${format}"`,
      );
      expect(api.length).toBe(SAMPLES[kind].records.length);
      expect(file.rows).toEqual(api);
      const names = exportColumns(kind).map((c) => c.name);
      if (format === 'csv') expect(file.schema).toEqual(names);
      else expect(Object.keys(file.schema)).toEqual(names);
    },
  );

  it('Parquet column types: timestamp[ms, UTC], int64, exact decimal strings, lists of levels', async () => {
    const k = await exported(SAMPLES.kline.series, 'parquet');
    expect(k.file.schema).toMatchObject({
      open_time: 'timestamp[ms, tz=UTC]',
      close_time: 'timestamp[ms, tz=UTC]',
      trades: 'int64',
      open: 'string',
      quote_volume: 'string',
    });
    expect(k.file.metadata).toMatchObject({ 'streamforge.series': 'spot:BTCUSDT:klines_1m' });
    const t = await exported(SAMPLES.trade.series, 'parquet');
    expect(t.file.schema).toMatchObject({ id: 'int64', is_buyer_maker: 'bool', is_best_match: 'bool' });
    expect(t.file.nullable).toMatchObject({ is_best_match: true, is_buyer_maker: false, id: false });
    const d = await exported(SAMPLES.depth.series, 'parquet');
    expect(d.file.schema['bids' as never]).toBe(
      'list<element: struct<price: string not null, qty: string not null> not null>',
    );
  });

  it(`a series of ${KLINES} klines: many pages and row groups, equal value by value, in both formats`, async () => {
    const api = await records(BIG);
    expect(api).toHaveLength(KLINES);
    const pq = await exported(BIG, 'parquet');
    expect(pq.file.rows).toEqual(api);
    const csv = await exported(BIG, 'csv');
    expect(csv.file.rows).toEqual(api);
    // Decimals exactly as stored: "1000.00", not 1000.
    expect(csv.bytes.toString('utf8').split('\r\n')[1]).toContain(',1000.00,');
  });

  it('a range: from inclusive, to exclusive, the same as /records', async () => {
    const q = `&from=${T0 + 100 * 60_000}&to=${new Date(T0 + 7000 * 60_000).toISOString()}`;
    const api = await records(BIG, q);
    expect(api).toHaveLength(6900);
    const { res, file } = await exported(BIG, 'parquet', q);
    expect(file.rows).toEqual(api);
    expect(res.headers.get('content-disposition')).toBe(
      'attachment; filename="spot-ETHUSDT-klines_1m-20240101T014000Z-20240105T204000Z.parquet"',
    );
  });

  it('a range without data: the header alone, a Parquet file with the schema and no rows', async () => {
    const q = '&from=2000-01-01&to=2000-01-02';
    const csv = await exported(BIG, 'csv', q);
    expect(csv.bytes.toString('utf8')).toBe(
      `${exportColumns('kline')
        .map((c) => c.name)
        .join(',')}\r\n`,
    );
    expect(csv.file.rows).toEqual([]);
    const pq = await exported(SAMPLES.depth.series, 'parquet', q);
    expect(pq.file.rows).toEqual([]);
    expect(Object.keys(pq.file.schema)).toEqual(exportColumns('depth').map((c) => c.name));
  });

  it('an unknown series is 404, a bad format 400 with the zod issues, to before from 400', async () => {
    const unknown = await fetch(`${served.url}/series/spot/NOPEUSDT/klines_1m/export?format=csv`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'no stored series spot:NOPEUSDT:klines_1m' });
    const bad = await fetch(`${base(BIG)}/export?format=xlsx`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({
      error: 'invalid request query',
      issues: [
        expect.objectContaining({ path: ['format'], code: 'invalid_value', values: ['csv', 'parquet'] }),
      ],
    });
    const missing = await fetch(`${base(BIG)}/export`);
    expect(missing.status).toBe(400);
    const reversed = await fetch(`${base(BIG)}/export?format=csv&from=2024-01-02&to=2024-01-01`);
    expect(reversed.status).toBe(400);
    expect(((await reversed.json()) as { issues: { path: string[] }[] }).issues[0]?.path).toEqual(['to']);
  });

  it('the OpenAPI document has the export route with both media types', async () => {
    const doc = (await (await fetch(`${served.url}/openapi.json`)).json()) as {
      paths: Record<string, { get: { responses: Record<string, { content: Record<string, unknown> }> } }>;
    };
    const route = doc.paths['/series/{market}/{symbol}/{dataset}/export'];
    expect(Object.keys(route?.get.responses['200']?.content ?? {})).toEqual([
      'text/csv',
      'application/vnd.apache.parquet',
    ]);
  });
});

describe('export streams', () => {
  /** Large enough that the loopback socket's buffers (a few MB) hold a small part of it. */
  const HUGE_ROWS = 200_000;
  const HUGE: SeriesId = { market: 'spot', symbol: 'SOLUSDT', dataset: 'klines_1m' };
  const pages = Math.floor(HUGE_ROWS / EXPORT_PAGE_ROWS) + 1;

  beforeAll(async () => {
    for (let start = 0; start < HUGE_ROWS; start += 50_000)
      await m.store.upsertRows(canonicalCollection('kline'), {
        kind: 'kline',
        series: HUGE,
        rows: Array.from({ length: 50_000 }, (_, i) =>
          rowFromRecord('kline', { ...kline(start + i), symbol: 'SOLUSDT' }),
        ),
      });
  });

  /** Counts the store's page reads of HUGE while `fn` runs (the route reads through this store). */
  async function countingReads<T>(fn: (reads: () => number) => Promise<T>): Promise<T> {
    const store = m.store;
    const original = store.rangeQuery.bind(store);
    let n = 0;
    store.rangeQuery = (collection: string, q: RangeQuery): Promise<SeriesRecord[]> => {
      if (q.series === seriesKey(HUGE)) n += 1;
      return original(collection, q);
    };
    try {
      return await fn(() => n);
    } finally {
      store.rangeQuery = original;
    }
  }

  it('over HTTP: the first bytes arrive before most of the store has been read', async () => {
    await countingReads(async (reads) => {
      const r = await new Promise<{ atFirstByte: number; total: number; size: number }>((resolve, reject) => {
        let atFirstByte = -1;
        let size = 0;
        http
          .get(`${base(HUGE)}/export?format=csv`, (res) => {
            res.on('data', (c: Buffer) => {
              if (atFirstByte < 0) atFirstByte = reads();
              size += c.length;
            });
            res.on('end', () => resolve({ atFirstByte, total: reads(), size }));
            res.on('error', reject);
          })
          .on('error', reject);
      });
      expect(r.total).toBe(pages);
      expect(r.size).toBeGreaterThan(HUGE_ROWS * 100);
      expect(r.atFirstByte).toBeGreaterThan(0);
      expect(r.atFirstByte).toBeLessThan(pages / 2);
    });
  });

  it('a consumer that does not pull is not fed: one page per chunk read, none after a cancel', async () => {
    await countingReads(async (reads) => {
      const res = await m.manager.app.request(
        `/series/${HUGE.market}/${HUGE.symbol}/${HUGE.dataset}/export?format=csv`,
      );
      expect(res.status).toBe(200);
      const reader = res.body!.getReader();
      // The header, then one page per read (the stream buffers at most one chunk ahead).
      for (let i = 0; i < 3; i++) expect((await reader.read()).done).toBe(false);
      const afterThree = reads();
      expect(afterThree).toBeGreaterThanOrEqual(2);
      expect(afterThree).toBeLessThanOrEqual(4);
      await reader.cancel();
      // Nothing reads on behind the consumer's back: the store saw no page after the cancel.
      await new Promise((r) => setImmediate(r));
      expect(reads()).toBe(afterThree);
    });
  });
});
