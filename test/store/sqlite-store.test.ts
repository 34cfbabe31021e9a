import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecordOfKind, SeriesId } from '../../shared/contracts/records.ts';
import { rowFromRecord } from '../../shared/contracts/rows.ts';
import { DependencyError, InvalidInputError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { createSqliteStore, type SqliteStoreOptions } from '../../shared/store/sqlite-store.ts';
import type { RowBatch, SeriesRecord, Store } from '../../shared/store/store.ts';
import { freshName, kline, klineRow, storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'sf-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const series = 'spot:BTCUSDT:klines_1m';
const T0 = 1_700_000_040_000;

const open = (opts: SqliteStoreOptions): Store => createSqliteStore(opts);

// Every store the contract opens shares one real file, as functions in one process would.
storeContract('sqlite (file)', () => open({ path: join(dir, 'contract.sqlite') }));

describe('sqlite store', () => {
  it('keeps records, documents and ranges across close and reopen', async () => {
    const path = join(dir, 'durable', 'nested', 'store.sqlite'); // parent dirs are created
    const first = open({ path });
    const records = [0, 1, 2].map((i) => kline(series, T0 + i * 60_000));
    await first.upsertRecords('klines', records);
    await first.putDoc('workflows', 'wf-1', { status: 'started' });
    await first.mergeRanges('coverage', series, [{ from: 0, to: 10 }]);
    await first.close();

    const second = open({ path });
    expect(await second.rangeQuery('klines', { series, limit: 10 })).toEqual(records);
    expect(await second.getDoc('workflows', 'wf-1')).toEqual({ doc: { status: 'started' }, rev: 1 });
    expect(await second.getRanges('coverage', series)).toEqual([{ from: 0, to: 10 }]);
    expect(await second.upsertRecords('klines', records)).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 3,
    });
    await second.close();
  });

  it('counts large batches exactly: new, changed, identical and repeated keys mixed', async () => {
    // Past the adapter's multi-row statements (64 rows), with a remainder, and mixed inside them.
    const store = open({ path: join(dir, 'large.sqlite') });
    const c = freshName();
    const at = (i: number, close = '1.00000000'): SeriesRecord => kline(series, T0 + i * 60_000, close);
    const first = Array.from({ length: 150 }, (_, i) => at(i));
    expect(await store.upsertRecords(c, first)).toEqual({ inserted: 150, updated: 0, unchanged: 0 });
    expect(await store.upsertRecords(c, structuredClone(first))).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 150,
    });
    // Every third existing record changed, 100 new ones interleaved, and 7 keys given twice
    // (the last copy wins; the first counts as unchanged).
    const mixed: SeriesRecord[] = [];
    for (let i = 0; i < 250; i++) mixed.push(at(i, i % 3 === 0 ? '2.00000000' : '1.00000000'));
    for (let i = 0; i < 7; i++) mixed.splice(i * 30, 0, at(200 + i, '9.00000000'));
    const changed = first.filter((_, i) => i % 3 === 0).length;
    expect(await store.upsertRecords(c, mixed)).toEqual({
      inserted: 100,
      updated: changed,
      unchanged: mixed.length - 100 - changed,
    });
    expect(await store.count(c)).toBe(250);
    expect((await store.getRecord(c, at(3).key))?.['close']).toBe('2.00000000');
    expect((await store.getRecord(c, at(4).key))?.['close']).toBe('1.00000000');
    expect((await store.getRecord(c, at(203).key))?.['close']).toBe('1.00000000'); // later copy won
    const page = await store.rangeQuery(c, { series, from: T0 + 60 * 60_000, limit: 70 });
    expect(page.map((r) => r.time)).toEqual(Array.from({ length: 70 }, (_, i) => T0 + (60 + i) * 60_000));
    await store.close();
  });

  it('answers DependencyError while another connection holds the write lock, and recovers', async () => {
    const path = join(dir, 'locked.sqlite');
    const store = open({ path, busyTimeoutMs: 50 });
    const c = freshName();
    await store.upsertRecords(c, [kline(series, 0)]);
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(store.upsertRecords(c, [kline(series, 60_000)])).rejects.toBeInstanceOf(DependencyError);
      await expect(store.mergeRanges('coverage', series, [{ from: 0, to: 1 }])).rejects.toBeInstanceOf(
        DependencyError,
      );
      expect(await store.count(c)).toBe(1); // WAL: readers are not blocked by the writer
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.upsertRecords(c, [kline(series, 60_000)])).toEqual({
      inserted: 1,
      updated: 0,
      unchanged: 0,
    });
    await store.close();
  });

  it('throws DependencyError when the file cannot be opened', () => {
    expect(() => open({ path: dir })).toThrow(DependencyError); // a directory
  });

  it('keeps a collection to one kind, also across connections', async () => {
    const path = join(dir, 'kinds.sqlite');
    const a = open({ path });
    await a.upsertRecords('klines', [kline(series, 0)]);
    await expect(a.putDoc('klines', 'k', {})).rejects.toBeInstanceOf(InvalidInputError);
    await a.ensureCollection('workflows', 'documents');
    await a.close();
    // The table's shape tells its kind to another connection.
    const b = open({ path });
    await expect(b.upsertRecords('workflows', [kline(series, 0)])).rejects.toBeInstanceOf(InvalidInputError);
    await b.close();
  });
});

describe('sqlite store in memory', () => {
  it('keeps a collection to one kind', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    await store.upsertRecords('klines', [kline(series, 0)]);
    await expect(store.putDoc('klines', 'k', {})).rejects.toBeInstanceOf(InvalidInputError);
    await store.close();
  });
});

describe('sqlite typed series tables', () => {
  const BTC_1M: SeriesId = { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' };
  const klineBatch = (recs: SeriesRecord[]): RowBatch => ({
    kind: 'kline',
    series: BTC_1M,
    rows: recs.map(klineRow),
  });
  const trade = (id: number, time: number, best?: boolean): RecordOfKind['trade'] => ({
    market: 'spot',
    symbol: 'BTCUSDT',
    id,
    price: '42000.10000000',
    qty: '0.00100000',
    quote_qty: '42.00010000',
    time,
    is_buyer_maker: id % 2 === 0,
    ...(best === undefined ? {} : { is_best_match: best }),
  });
  /** A pino logger whose lines are kept. */
  const capture = (): { logger: Logger; lines: { msg?: string }[] } => {
    const lines: { msg?: string }[] = [];
    const logger = pino(
      { level: 'info' },
      { write: (l: string) => lines.push(JSON.parse(l) as { msg?: string }) },
    );
    return { logger, lines };
  };
  /** A file with a series table in the generic layout of earlier versions, holding `records`. */
  const oldFile = (file: string, table: string, records: SeriesRecord[]): string => {
    const path = join(dir, file);
    const db = new Database(path);
    db.exec(
      `CREATE TABLE "${table}" (_key TEXT PRIMARY KEY, series TEXT NOT NULL, time INTEGER NOT NULL, doc TEXT NOT NULL);` +
        `CREATE INDEX "${table}_series_time" ON "${table}" (series, time, _key);`,
    );
    const insert = db.prepare(`INSERT INTO "${table}" VALUES (?, ?, ?, ?)`);
    for (const r of records) insert.run(r.key, r.series, r.time, JSON.stringify(r.doc));
    db.close();
    return path;
  };
  const schemaOf = (path: string, table: string) => {
    const db = new Database(path, { readonly: true });
    try {
      return {
        columns: db.prepare(`PRAGMA table_info("${table}")`).all() as {
          name: string;
          type: string;
          notnull: number;
          pk: number;
        }[],
        sql: db.prepare('SELECT sql FROM sqlite_schema WHERE name = ?').pluck().get(table) as
          string | undefined,
        indexes: (db.prepare(`PRAGMA index_list("${table}")`).all() as { name: string; origin: string }[])
          .filter((i) => i.origin === 'c')
          .map((i) => i.name),
        tables: db
          .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
          .pluck()
          .all() as string[],
      };
    } finally {
      db.close();
    }
  };

  it('keeps rows in typed columns: integers, exact decimal text, 0/1 booleans, JSON arrays', async () => {
    const path = join(dir, 'typed.sqlite');
    const store = createSqliteStore({ path });
    const recs = [0, 1].map((i) => kline(series, T0 + i * 60_000, '42000.10000000'));
    await store.upsertRows('market_klines', klineBatch(recs));
    await store.upsertRows('market_trades', {
      kind: 'trade',
      series: { ...BTC_1M, dataset: 'trades' },
      rows: [rowFromRecord('trade', trade(7, T0, true))],
    });
    await store.ensureCollection('market_depths', 'series', 'depth');
    await store.upsertRows('market_depths', {
      kind: 'depth',
      series: { ...BTC_1M, dataset: 'depth' },
      rows: [[5, T0, 3, null, [['1.10', '2.000']], []]],
    });
    await store.close();

    const k = schemaOf(path, 'market_klines');
    expect(k.columns.map((c) => [c.name, c.type, c.notnull, c.pk])).toEqual([
      ['series', 'TEXT', 1, 1],
      ['open_time', 'INTEGER', 1, 2],
      ['open', 'TEXT', 1, 0],
      ['high', 'TEXT', 1, 0],
      ['low', 'TEXT', 1, 0],
      ['close', 'TEXT', 1, 0],
      ['volume', 'TEXT', 1, 0],
      ['close_time', 'INTEGER', 1, 0],
      ['quote_volume', 'TEXT', 1, 0],
      ['trades', 'INTEGER', 1, 0],
      ['taker_buy_base', 'TEXT', 1, 0],
      ['taker_buy_quote', 'TEXT', 1, 0],
      ['ignore', 'TEXT', 1, 0],
    ]);
    expect(k.sql).toMatch(/WITHOUT ROWID/);
    expect(k.sql).toMatch(/STRICT/);
    expect(k.indexes).toEqual([]); // klines: time is the id, the primary key serves range reads
    const t = schemaOf(path, 'market_trades');
    expect(t.columns.map((c) => [c.name, c.type, c.notnull])).toEqual([
      ['series', 'TEXT', 1],
      ['id', 'INTEGER', 1],
      ['price', 'TEXT', 1],
      ['qty', 'TEXT', 1],
      ['quote_qty', 'TEXT', 1],
      ['time', 'INTEGER', 1],
      ['is_buyer_maker', 'INTEGER', 1],
      ['is_best_match', 'INTEGER', 0],
    ]);
    expect(t.indexes).toEqual(['market_trades_series_time']);
    expect(schemaOf(path, 'market_depths').columns.map((c) => c.type)).toEqual([
      'TEXT',
      'INTEGER',
      'INTEGER',
      'INTEGER',
      'INTEGER',
      'TEXT',
      'TEXT',
    ]);

    const db = new Database(path, { readonly: true });
    expect(
      db
        .prepare(
          'SELECT series, typeof(open_time), open_time, typeof(close), close, typeof(trades) FROM market_klines LIMIT 1',
        )
        .raw()
        .get(),
    ).toEqual([series, 'integer', T0, 'text', '42000.10000000', 'integer']);
    expect(db.prepare('SELECT is_buyer_maker, is_best_match FROM market_trades').raw().get()).toEqual([0, 1]);
    expect(db.prepare('SELECT prev_final_update_id, bids, asks FROM market_depths').raw().get()).toEqual([
      null,
      '[["1.10","2.000"]]',
      '[]',
    ]);
    db.close();
  });

  it('migrates a file of the generic layout, keeping every record, once', async () => {
    const recs = [
      ...Array.from({ length: 150 }, (_, i) => kline(series, T0 + i * 60_000, `${i}.00000000`)),
      ...[0, 1, 2].map((i) => kline('spot:ETHUSDT:klines_1m', T0 + i * 60_000)),
    ];
    const hourly = kline(series, T0, '7.0');
    hourly.key = `spot:BTCUSDT:1h:${T0}`;
    hourly.series = 'spot:BTCUSDT:klines_1h';
    hourly.doc['interval'] = '1h';
    recs.push(hourly);
    const path = oldFile('old-klines.sqlite', 'market_klines', recs);
    const { logger, lines } = capture();
    const store = createSqliteStore({ path, logger });
    // Read as it is before anything asks for the typed layout.
    expect(await store.count('market_klines')).toBe(recs.length);
    expect(await store.upsertRows('market_klines', klineBatch(recs.slice(0, 100)))).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 100,
    });
    expect(lines.map((l) => l.msg)).toContain(
      `migrated ${recs.length} records of market_klines in ${path} to the typed layout`,
    );
    expect(await store.count('market_klines')).toBe(recs.length);
    expect(await store.rangeQuery('market_klines', { series, limit: 1000 })).toEqual(recs.slice(0, 150));
    expect(await store.seriesStats('market_klines')).toEqual([
      { series: 'spot:BTCUSDT:klines_1h', count: 1, first: T0, last: T0 },
      { series, count: 150, first: T0, last: T0 + 149 * 60_000 },
      { series: 'spot:ETHUSDT:klines_1m', count: 3, first: T0, last: T0 + 2 * 60_000 },
    ]);
    expect(await store.getRecord('market_klines', hourly.key)).toEqual(hourly.doc);
    await store.close();
    const after = schemaOf(path, 'market_klines');
    expect(after.sql).toMatch(/WITHOUT ROWID/);
    expect(after.indexes).toEqual([]); // the generic index went with its table
    expect(after.tables).toEqual(['market_klines']); // no temporary table left

    // A second open finds the typed table: nothing to do.
    const again = capture();
    const second = createSqliteStore({ path, logger: again.logger });
    await second.ensureCollection('market_klines', 'series', 'kline');
    expect(await second.upsertRecords('market_klines', recs)).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: recs.length,
    });
    expect(again.lines.filter((l) => l.msg?.includes('migrated'))).toEqual([]);
    await second.close();
  });

  it('migrates trades, booleans and absent optional fields included', async () => {
    const trades = [trade(1, T0), trade(2, T0, true), trade(3, T0 + 1, false)];
    const recs: SeriesRecord[] = trades.map((t) => ({
      key: `spot:BTCUSDT:t:${t.id}`,
      series: 'spot:BTCUSDT:trades',
      time: t.time,
      doc: t,
    }));
    const path = oldFile('old-trades.sqlite', 'market_trades', recs);
    const store = createSqliteStore({ path });
    await store.ensureCollection('market_trades', 'series', 'trade');
    const got = await store.rangeQuery('market_trades', { series: 'spot:BTCUSDT:trades', limit: 10 });
    expect(got).toEqual(recs);
    expect(got[0]!.doc).not.toHaveProperty('is_best_match');
    expect(got.map((r) => r.doc['is_best_match'])).toEqual([undefined, true, false]);
    expect(schemaOf(path, 'market_trades').indexes).toEqual(['market_trades_series_time']);
    await store.close();
  });

  it('refuses a generic table holding other documents, naming the file, and changes nothing', async () => {
    const docs: SeriesRecord[] = [
      kline(series, T0),
      {
        key: 'spot:BTCUSDT:t:1',
        series: 'spot:BTCUSDT:trades',
        time: T0,
        doc: { id: 1, price: '1.0', qty: '2.0' },
      },
      { ...kline(series, T0 + 60_000), doc: { ...kline(series, T0 + 60_000).doc, extra: 'kept nowhere' } },
    ];
    const path = oldFile('old-mixed.sqlite', 'market_klines', docs);
    const store = createSqliteStore({ path });
    const err = await store
      .upsertRows('market_klines', klineBatch([kline(series, T0 + 120_000)]))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    const message = (err as Error).message;
    expect(message).toContain(path);
    expect(message).toContain('market_klines');
    expect(message).toMatch(/2 of them cannot become kline records/);
    expect(message).toMatch(/Move the file aside/);
    await expect(store.ensureCollection('market_klines', 'series', 'kline')).rejects.toBeInstanceOf(
      DependencyError,
    );
    // Untouched, and still readable in its old layout.
    expect(await store.count('market_klines')).toBe(3);
    expect(await store.getRecord('market_klines', 'spot:BTCUSDT:t:1')).toEqual(docs[1]!.doc);
    await store.close();
    const schema = schemaOf(path, 'market_klines');
    expect(schema.columns.map((c) => c.name)).toEqual(['_key', 'series', 'time', 'doc']);
    expect(schema.tables).toEqual(['market_klines']);
  });

  it('replaces an empty generic table', async () => {
    const path = oldFile('old-empty.sqlite', 'market_klines', []);
    const store = createSqliteStore({ path });
    expect(await store.upsertRows('market_klines', klineBatch([kline(series, T0)]))).toEqual({
      inserted: 1,
      updated: 0,
      unchanged: 0,
    });
    await store.close();
    expect(schemaOf(path, 'market_klines').columns[1]!.name).toBe('open_time');
  });

  it('takes into a typed table only records of its kind, with their own key, series and time', async () => {
    const store = createSqliteStore({ path: join(dir, 'typed-records.sqlite') });
    const c = freshName();
    const existing = kline(series, T0);
    await store.upsertRows(c, klineBatch([existing]));
    const fresh = kline(series, T0 + 60_000);
    const base = kline(series, T0 + 120_000);
    const bad: SeriesRecord[] = [
      { ...base, doc: { ...base.doc, close: 42000.1 } }, // a number, not a decimal string
      { ...base, doc: { ...base.doc, extra: 1 } }, // a field the table has no column for
      { ...base, doc: { id: 1, price: '1.0' } }, // not a kline
      { ...base, key: `spot:BTCUSDT:1m:${T0 + 180_000}` }, // not its natural key
      { ...base, series: 'spot:ETHUSDT:klines_1m' },
      { ...base, time: T0 },
      {
        ...base,
        doc: (() => {
          const d = { ...base.doc };
          delete d['ignore'];
          return d;
        })(),
      },
    ];
    for (const b of bad) {
      await expect(
        store.upsertRecords(c, [{ ...existing, doc: { ...existing.doc, close: '1.0' } }, fresh, b]),
      ).rejects.toBeInstanceOf(InvalidInputError);
    }
    expect(await store.count(c)).toBe(1);
    expect(await store.getRecord(c, existing.key)).toEqual(existing.doc);
    expect(await store.getRecord(c, fresh.key)).toBeNull();
    // Another kind into it, or documents: refused.
    await expect(
      store.upsertRows(c, {
        kind: 'trade',
        series: { ...BTC_1M, dataset: 'trades' },
        rows: [rowFromRecord('trade', trade(1, T0))],
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    await expect(store.ensureCollection(c, 'series', 'trade')).rejects.toBeInstanceOf(InvalidInputError);
    await expect(store.putDoc(c, 'k', {})).rejects.toBeInstanceOf(InvalidInputError);
    await store.ensureCollection(c, 'series'); // a series collection it is
    await store.close();
  });

  it('counts large row batches exactly: new, changed, identical and repeated keys mixed', async () => {
    // Past the multi-row statements (64 rows), with a remainder, through both write paths
    // (insert first, and look first after a chunk met stored rows).
    const store = createSqliteStore({ path: join(dir, 'typed-large.sqlite') });
    const c = freshName();
    const at = (i: number, close = '1.00000000'): SeriesRecord => kline(series, T0 + i * 60_000, close);
    const batch = (recs: SeriesRecord[]): RowBatch => klineBatch(recs);
    const first = Array.from({ length: 150 }, (_, i) => at(i));
    expect(await store.upsertRows(c, batch(first))).toEqual({ inserted: 150, updated: 0, unchanged: 0 });
    expect(await store.upsertRows(c, batch(structuredClone(first)))).toEqual({
      inserted: 0,
      updated: 0,
      unchanged: 150,
    });
    const mixed: SeriesRecord[] = [];
    for (let i = 0; i < 250; i++) mixed.push(at(i, i % 3 === 0 ? '2.00000000' : '1.00000000'));
    for (let i = 0; i < 7; i++) mixed.splice(i * 30, 0, at(200 + i, '9.00000000'));
    const changed = first.filter((_, i) => i % 3 === 0).length;
    expect(await store.upsertRows(c, batch(mixed))).toEqual({
      inserted: 100,
      updated: changed,
      unchanged: mixed.length - 100 - changed,
    });
    expect(await store.getRecord(c, at(3).key)).toEqual(at(3, '2.00000000').doc);
    expect(await store.getRecord(c, at(203).key)).toEqual(at(203).doc); // the later copy won
    // New rows first (insert first), then stored ones, every fifth changed.
    const tail = [
      ...Array.from({ length: 100 }, (_, i) => at(250 + i)),
      ...Array.from({ length: 100 }, (_, i) =>
        at(i, i % 5 === 0 ? '3.00000000' : i % 3 === 0 ? '2.00000000' : '1.00000000'),
      ),
    ];
    expect(await store.upsertRows(c, batch(tail))).toEqual({ inserted: 100, updated: 20, unchanged: 80 });
    // Records of two series in one upsertRecords: the path of several series.
    const other = (i: number): SeriesRecord => kline('spot:ETHUSDT:klines_1m', T0 + i * 60_000);
    const two = Array.from({ length: 80 }, (_, i) => other(i));
    for (let i = 0; i < 10; i++) two.splice(i * 8, 0, at(i, '4.00000000'));
    expect(await store.upsertRecords(c, two)).toEqual({ inserted: 80, updated: 10, unchanged: 0 });
    expect(await store.count(c)).toBe(430);
    expect(await store.count(c, series)).toBe(350);
    const page = await store.rangeQuery(c, { series, from: T0 + 60 * 60_000, limit: 70 });
    expect(page.map((r) => r.time)).toEqual(Array.from({ length: 70 }, (_, i) => T0 + (60 + i) * 60_000));
    expect((await store.rangeQuery(c, { series, limit: 1 }))[0]!.doc['close']).toBe('4.00000000');
    await store.close();
  });

  it('orders equal times by id as a number, and refuses a cursor that names no id', async () => {
    // Keys compare as strings elsewhere ('…:t:1000' < '…:t:999'); a typed table compares ids.
    const store = createSqliteStore({ path: join(dir, 'typed-order.sqlite') });
    const c = freshName();
    const s = { ...BTC_1M, dataset: 'trades' as const };
    await store.upsertRows(c, {
      kind: 'trade',
      series: s,
      rows: [trade(1000, T0), trade(999, T0), trade(998, T0 + 1)].map((t) => rowFromRecord('trade', t)),
    });
    const all = await store.rangeQuery(c, { series: 'spot:BTCUSDT:trades', limit: 10 });
    expect(all.map((r) => r.key)).toEqual([
      'spot:BTCUSDT:t:999',
      'spot:BTCUSDT:t:1000',
      'spot:BTCUSDT:t:998',
    ]);
    const next = await store.rangeQuery(c, {
      series: 'spot:BTCUSDT:trades',
      limit: 10,
      after: { time: T0, key: all[0]!.key },
    });
    expect(next.map((r) => r.key)).toEqual(['spot:BTCUSDT:t:1000', 'spot:BTCUSDT:t:998']);
    await expect(
      store.rangeQuery(c, {
        series: 'spot:BTCUSDT:trades',
        limit: 10,
        after: { time: T0, key: 'spot:BTCUSDT:t:x' },
      }),
    ).rejects.toBeInstanceOf(InvalidInputError);
    expect(await store.getRecord(c, 'spot:BTCUSDT:t:0999')).toBeNull(); // not a key any record has
    await store.close();
  });

  it('follows a migration made by another connection', async () => {
    const path = join(dir, 'two-connections.sqlite');
    const a = createSqliteStore({ path });
    const b = createSqliteStore({ path });
    const recs = [0, 1].map((i) => kline(series, T0 + i * 60_000));
    await a.upsertRecords('market_klines', recs); // generic, and a's statements are for that layout
    expect(await b.upsertRows('market_klines', klineBatch([kline(series, T0 + 120_000)]))).toEqual({
      inserted: 1,
      updated: 0,
      unchanged: 0,
    });
    expect(await a.count('market_klines')).toBe(3);
    expect(await a.upsertRecords('market_klines', [kline(series, T0 + 180_000)])).toEqual({
      inserted: 1,
      updated: 0,
      unchanged: 0,
    });
    expect(await a.rangeQuery('market_klines', { series, limit: 10 })).toEqual(
      [0, 1, 2, 3].map((i) => kline(series, T0 + i * 60_000)),
    );
    await Promise.all([a.close(), b.close()]);
  });
});
