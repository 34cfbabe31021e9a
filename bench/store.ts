/**
 * UPSERT throughput of the SQLite store adapter, generic records (`upsertRecords` into a
 * `_key, series, time, doc` table) against typed rows (`upsertRows` into a typed table:
 * sqlite-typed.ts), each against a raw better-sqlite3 insert loop into the same table layout
 * (one statement per row, one transaction per batch), each into a fresh file, alternating runs
 * so all see the same machine load. Also the replay rate (every record identical: nothing
 * written), the rewrite rate (every record changed), the rate at which a file of the generic
 * layout is migrated to the typed one, and the file size per record of each layout (after the
 * new, replay and rewrite runs).
 *
 * Batches are 1000-kline pages of one series (a REST page), four symbols in turn. Rates are
 * records per second of wall time and of process CPU time (user + system, all threads: SQLite
 * works on this thread, so wall and CPU differ by I/O waits and machine load).
 *
 *   npx tsx bench/store.ts            BENCH_RECORDS=200000 BENCH_BATCH=1000 BENCH_ROUNDS=3
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Kline, SeriesId } from '../shared/contracts/records.ts';
import { rowFromRecord, type Row } from '../shared/contracts/rows.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { createTypedSql } from '../shared/store/sqlite-typed.ts';
import type { RowBatch, SeriesRecord, Store, UpsertResult } from '../shared/store/store.ts';

const N = Number(process.env['BENCH_RECORDS'] ?? 200_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 1000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'sf-bench-store-'));
const SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT'];

/** One batch: klines of one symbol, minute by minute, as records and as rows. */
interface Page {
  records: SeriesRecord[];
  rows: RowBatch;
}

/** N klines in pages of BATCH, the symbols taking turns, as the connector would store them. */
function pages(close: string): Page[] {
  const out: Page[] = [];
  const perSymbol = new Map<string, number>();
  for (let done = 0; done < N; done += BATCH) {
    const symbol = SYMBOLS[out.length % SYMBOLS.length]!;
    const start = perSymbol.get(symbol) ?? 0;
    const n = Math.min(BATCH, N - done);
    perSymbol.set(symbol, start + n);
    const series: SeriesId = { market: 'spot', symbol, dataset: 'klines_1m' };
    const records = Array.from({ length: n }, (_, j): SeriesRecord => {
      const i = start + j;
      const t = 1_600_000_000_000 + i * 60_000;
      const doc: Kline = {
        market: 'spot',
        symbol,
        interval: '1m',
        open_time: t,
        open: '42000.01000000',
        high: '42100.00000000',
        low: '41950.12000000',
        close,
        volume: '12.34567000',
        close_time: t + 59_999,
        quote_volume: '518000.12345678',
        trades: 345 + (i % 100),
        taker_buy_base: '6.12345000',
        taker_buy_quote: '257000.00000000',
        ignore: '0',
      };
      return {
        key: `spot:${symbol}:1m:${t}`,
        series: `spot:${symbol}:klines_1m`,
        time: t,
        doc: doc,
      };
    });
    const rows: Row[] = records.map((r) => rowFromRecord('kline', r.doc as unknown as Kline));
    out.push({ records, rows: { kind: 'kline', series, rows } });
  }
  return out;
}

/** Wall time and the CPU time this process spent (user + system, all threads), in ms. */
interface Sample {
  wall: number;
  cpu: number;
}
async function measure<T>(fn: () => T | Promise<T>): Promise<[T, Sample]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return [out, { wall, cpu: (c.user + c.system) / 1000 }];
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const rate = (ms: number): number => (ms > 0 ? Math.round((N / ms) * 1000) : Infinity);
const rates = (xs: Sample[]): Sample => ({
  wall: rate(median(xs.map((x) => x.wall))),
  cpu: rate(median(xs.map((x) => x.cpu))),
});
let fileNo = 0;
const freshPath = (): string => join(dir, `bench-${++fileNo}.sqlite`);
/** Bytes per record of the file at `path` (closed, so its WAL is checkpointed into it). */
const sizes = new Map<string, number>();
const bytesPerRecord = (path: string): number => Math.round(statSync(path).size / N);

function rawDb(path = freshPath()): Database.Database {
  const db = new Database(path, { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  return db;
}

/** Baseline of the generic layout: a hand-written loop over the same records. */
async function rawGeneric(data: Page[]): Promise<Sample> {
  const db = rawDb();
  db.exec(
    'CREATE TABLE klines (_key TEXT PRIMARY KEY, series TEXT NOT NULL, time INTEGER NOT NULL, doc TEXT NOT NULL);' +
      'CREATE INDEX klines_series_time ON klines (series, time, _key);',
  );
  const insert = db.prepare('INSERT INTO klines (_key, series, time, doc) VALUES (?, ?, ?, ?)');
  const write = db.transaction((batch: SeriesRecord[]) => {
    for (const r of batch) insert.run(r.key, r.series, r.time, JSON.stringify(r.doc));
  });
  const [, sample] = await measure(() => data.forEach((p) => write(p.records)));
  db.close();
  return sample;
}

/** Baseline of the typed layout: a hand-written loop binding each row into the same table. */
async function rawTyped(data: Page[]): Promise<Sample> {
  const db = rawDb();
  db.exec(createTypedSql('klines', 'kline'));
  const insert = db.prepare(
    `INSERT INTO klines VALUES (${Array.from({ length: 13 }, () => '?').join(', ')})`,
  );
  const write = db.transaction((series: string, rows: readonly Row[]) => {
    for (const row of rows) insert.run(series, ...row);
  });
  const [, sample] = await measure(() =>
    data.forEach((p) => write(`spot:${p.rows.series.symbol}:klines_1m`, p.rows.rows)),
  );
  db.close();
  return sample;
}

async function timed(fn: () => Promise<UpsertResult[]>, expect: keyof UpsertResult): Promise<Sample> {
  const [results, sample] = await measure(fn);
  const total = results.reduce((sum, r) => sum + r[expect], 0);
  if (total !== N) throw new Error(`expected ${N} ${expect}, got ${total}`);
  return sample;
}

async function upsertRecords(store: Store, data: Page[]): Promise<UpsertResult[]> {
  const out: UpsertResult[] = [];
  for (const p of data) out.push(await store.upsertRecords('klines', p.records));
  return out;
}

async function upsertRows(store: Store, data: Page[]): Promise<UpsertResult[]> {
  const out: UpsertResult[] = [];
  for (const p of data) out.push(await store.upsertRows('klines', p.rows));
  return out;
}

/** A file of N records in the generic layout, then the time its migration takes. */
async function migrate(data: Page[]): Promise<Sample> {
  const path = freshPath();
  const old = createSqliteStore({ path });
  await upsertRecords(old, data);
  await old.close();
  const store = createSqliteStore({ path });
  const [, sample] = await measure(() => store.ensureCollection('klines', 'series', 'kline'));
  if ((await store.count('klines')) !== N) throw new Error('migration lost records');
  await store.close();
  return sample;
}

async function main(): Promise<void> {
  const data = pages('42050.55000000');
  const changed = pages('42050.56000000');
  const samples = new Map<string, Sample[]>();
  const add = (label: string, s: Sample): void => {
    samples.set(label, [...(samples.get(label) ?? []), s]);
  };
  // Warm-up (JIT, page cache) on a slice of the data, not counted.
  await rawGeneric(data.slice(0, 20));
  await rawTyped(data.slice(0, 20));
  const warm = createSqliteStore({ path: freshPath() });
  await upsertRecords(warm, data.slice(0, 20));
  await upsertRows(warm, data.slice(0, 20));
  await warm.close();
  for (let round = 0; round < ROUNDS; round++) {
    add('raw INSERT loop, generic table (stringify in loop)', await rawGeneric(data));
    let path = freshPath();
    let store = createSqliteStore({ path });
    add('generic: upsertRecords, new records', await timed(() => upsertRecords(store, data), 'inserted'));
    add(
      'generic: upsertRecords, replay (all unchanged)',
      await timed(() => upsertRecords(store, data), 'unchanged'),
    );
    add(
      'generic: upsertRecords, rewrite (all changed)',
      await timed(() => upsertRecords(store, changed), 'updated'),
    );
    await store.close();
    sizes.set('generic table', bytesPerRecord(path));
    add('raw INSERT loop, typed table (row values bound)', await rawTyped(data));
    path = freshPath();
    store = createSqliteStore({ path });
    add('typed: upsertRows, new rows', await timed(() => upsertRows(store, data), 'inserted'));
    add('typed: upsertRows, replay (all unchanged)', await timed(() => upsertRows(store, data), 'unchanged'));
    add('typed: upsertRows, rewrite (all changed)', await timed(() => upsertRows(store, changed), 'updated'));
    await store.close();
    sizes.set('typed table', bytesPerRecord(path));
    store = createSqliteStore({ path: freshPath() });
    add('typed: upsertRecords, new records', await timed(() => upsertRecords(store, data), 'inserted'));
    await store.close();
    add('migration of a generic file to typed', await migrate(data));
  }
  const r = Object.fromEntries([...samples].map(([label, xs]) => [label, rates(xs)]));
  const num = (x: number): string => (Number.isFinite(x) ? String(x) : '-').padStart(9);
  console.log(
    `${N} kline records in batches of ${BATCH}, median of ${ROUNDS} rounds, fresh files, WAL + NORMAL`,
  );
  console.log(`${'records/s by'.padEnd(52)} ${'wall'.padStart(9)} ${'cpu'.padStart(9)}`);
  for (const [label, x] of Object.entries(r)) console.log(`${label.padEnd(52)} ${num(x.wall)} ${num(x.cpu)}`);
  console.log(`file size: ${[...sizes].map(([layout, b]) => `${layout} ${b} bytes/record`).join(', ')}`);
  const ratio = (a: string, b: string): string => {
    const [x, y] = [r[a]!, r[b]!];
    return `wall ${(x.wall / y.wall).toFixed(2)}  cpu ${(x.cpu / y.cpu).toFixed(2)}`;
  };
  for (const [a, b] of [
    ['typed: upsertRows, new rows', 'generic: upsertRecords, new records'],
    ['typed: upsertRows, replay (all unchanged)', 'generic: upsertRecords, replay (all unchanged)'],
    ['typed: upsertRows, rewrite (all changed)', 'generic: upsertRecords, rewrite (all changed)'],
    ['generic: upsertRecords, new records', 'raw INSERT loop, generic table (stringify in loop)'],
    ['typed: upsertRows, new rows', 'raw INSERT loop, typed table (row values bound)'],
  ] as const)
    console.log(`${`${a} / ${b}:`.padEnd(100)} ${ratio(a, b)}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
