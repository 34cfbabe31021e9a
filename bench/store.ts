/**
 * UPSERT throughput of the SQLite store adapter against a raw better-sqlite3 insert loop of the
 * same rows (same JSON text, same table, same pragmas, one transaction per batch), each into a
 * fresh file, alternating runs so both see the same machine load. Also the replay rate (every
 * record identical: nothing written) and the rewrite rate (every record changed).
 *
 *   npx tsx bench/store.ts            BENCH_RECORDS=200000 BENCH_BATCH=1000 BENCH_ROUNDS=3
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import type { SeriesRecord, UpsertResult } from '../shared/store/store.ts';

const N = Number(process.env['BENCH_RECORDS'] ?? 200_000);
const BATCH = Number(process.env['BENCH_BATCH'] ?? 1000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const dir = mkdtempSync(join(tmpdir(), 'sf-bench-store-'));

/** Klines of four symbols, minute by minute, as the connector would store them. */
function klines(close: string): SeriesRecord[] {
  const symbols = ['BTCUSDT', 'ETHUSDT', 'BNBUSDT', 'SOLUSDT'];
  return Array.from({ length: N }, (_, i) => {
    const symbol = symbols[i % symbols.length]!;
    const t = 1_600_000_000_000 + Math.floor(i / symbols.length) * 60_000;
    return {
      key: `spot:${symbol}:1m:${t}`,
      series: `spot:${symbol}:klines_1m`,
      time: t,
      doc: {
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
      },
    };
  });
}

const batches = <T>(xs: T[]): T[][] =>
  Array.from({ length: Math.ceil(xs.length / BATCH) }, (_, i) => xs.slice(i * BATCH, (i + 1) * BATCH));

/**
 * Wall time, and the CPU time this process spent (user + system). Other work on a shared
 * machine stretches wall time unevenly; CPU time compares the two loops' own cost.
 */
interface Sample {
  wall: number;
  cpu: number;
}
function measure<T>(fn: () => T): [T, Sample] {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return [out, { wall, cpu: (c.user + c.system) / 1000 }];
}
async function measureAsync<T>(fn: () => Promise<T>): Promise<[T, Sample]> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const out = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return [out, { wall, cpu: (c.user + c.system) / 1000 }];
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Records per second from the median of the samples, by wall and by CPU time. */
const rates = (xs: Sample[]) => ({
  wall: Math.round((N / median(xs.map((x) => x.wall))) * 1000),
  cpu: Math.round((N / median(xs.map((x) => x.cpu))) * 1000),
});
let fileNo = 0;
const freshPath = (): string => join(dir, `bench-${++fileNo}.sqlite`);

/** The baseline: what a hand-written loop over the same objects costs. */
function rawInsert(rows: SeriesRecord[][], preSerialised?: string[][]): Sample {
  const db = new Database(freshPath(), { timeout: 5000 });
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    'CREATE TABLE klines (_key TEXT PRIMARY KEY, series TEXT NOT NULL, time INTEGER NOT NULL, doc TEXT NOT NULL);' +
      'CREATE INDEX klines_series_time ON klines (series, time, _key);',
  );
  const insert = db.prepare('INSERT INTO klines (_key, series, time, doc) VALUES (?, ?, ?, ?)');
  const write = db.transaction((batch: SeriesRecord[], json?: string[]) => {
    for (let i = 0; i < batch.length; i++) {
      const r = batch[i]!;
      insert.run(r.key, r.series, r.time, json ? json[i] : JSON.stringify(r.doc));
    }
  });
  const [, sample] = measure(() => rows.forEach((b, i) => write(b, preSerialised?.[i])));
  db.close();
  return sample;
}

async function timed(fn: () => Promise<UpsertResult[]>, expect: keyof UpsertResult): Promise<Sample> {
  const [results, sample] = await measureAsync(fn);
  const total = results.reduce((s, r) => s + r[expect], 0);
  if (total !== N) throw new Error(`expected ${N} ${expect}, got ${total}`);
  return sample;
}

async function main(): Promise<void> {
  const rows = batches(klines('42050.55000000'));
  const changed = batches(klines('42050.56000000'));
  const json = rows.map((b) => b.map((r) => JSON.stringify(r.doc)));
  const raw: Sample[] = [];
  const rawPre: Sample[] = [];
  const adapter: Sample[] = [];
  const replay: Sample[] = [];
  const rewrite: Sample[] = [];
  // Warm-up (JIT, page cache) on a slice of the data, not counted.
  rawInsert(rows.slice(0, 20));
  const warm = createSqliteStore({ path: freshPath() });
  for (const b of rows.slice(0, 20)) await warm.upsertRecords('klines', b);
  await warm.close();
  for (let round = 0; round < ROUNDS; round++) {
    raw.push(rawInsert(rows));
    const store = createSqliteStore({ path: freshPath() });
    const upsertAll = (data: SeriesRecord[][]) => async () => {
      const out: UpsertResult[] = [];
      for (const b of data) out.push(await store.upsertRecords('klines', b));
      return out;
    };
    adapter.push(await timed(upsertAll(rows), 'inserted'));
    replay.push(await timed(upsertAll(rows), 'unchanged'));
    rewrite.push(await timed(upsertAll(changed), 'updated'));
    await store.close();
    rawPre.push(rawInsert(rows, json));
  }
  const r = rates(raw);
  const a = rates(adapter);
  const p = rates(rawPre);
  const line = (label: string, x: { wall: number; cpu: number }): void =>
    console.log(
      `${label.padEnd(52)} ${String(x.wall).padStart(8)} rec/s wall ${String(x.cpu).padStart(8)} rec/s cpu`,
    );
  console.log(
    `${N} kline records in batches of ${BATCH}, median of ${ROUNDS} rounds, fresh files, WAL + NORMAL`,
  );
  line('raw better-sqlite3 INSERT loop (stringify in loop)', r);
  line('SqliteStore.upsertRecords, new records', a);
  line('raw loop, JSON serialised beforehand (stricter)', p);
  line('SqliteStore.upsertRecords, replay (all unchanged)', rates(replay));
  line('SqliteStore.upsertRecords, rewrite (all changed)', rates(rewrite));
  const ratio = (x: number, y: number): string => (x / y).toFixed(2);
  console.log(`ratio adapter / raw:            wall ${ratio(a.wall, r.wall)}  cpu ${ratio(a.cpu, r.cpu)}`);
  console.log(`ratio adapter / raw (stricter): wall ${ratio(a.wall, p.wall)}  cpu ${ratio(a.cpu, p.cpu)}`);
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
