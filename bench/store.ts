/**
 * UPSERT throughput of the SQLite store adapters (direct, and with the connection on a worker
 * thread) against a raw better-sqlite3 insert loop of the same rows (same JSON text, same table,
 * one transaction per batch), each into a fresh file, alternating runs so all see the same
 * machine load. Also the replay rate (every record identical: nothing written), the rewrite rate
 * (every record changed), and the worker adapter with several upserts in flight (what the
 * connector does with several partitions). "decode + upsert" adds the caller's own work per
 * record (JSON.parse of the record's message, as the connector decodes Kafka values), which the
 * worker adapter overlaps with SQLite.
 *
 * Figures: records per second of wall time, of process CPU time (all threads), and of the main
 * thread's CPU time (what the caller's thread spends; Linux, from /proc; elsewhere its busy
 * time), and of the other threads' CPU time (the worker, and V8's and SQLite's helpers). With
 * a core free for each, the worker adapter with calls in flight approaches the lower of its
 * main-thread and other-thread rates; on a busy machine it cannot.
 *
 *   npx tsx bench/store.ts            BENCH_RECORDS=200000 BENCH_BATCH=1000 BENCH_ROUNDS=3
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { createSqliteWorkerStore } from '../shared/store/sqlite-worker-store.ts';
import type { SeriesRecord, Store, UpsertResult } from '../shared/store/store.ts';

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
 * CPU time of the main thread in ms, from /proc/self/task/<pid>/stat (utime + stime, in clock
 * ticks of 10 ms); undefined where there is no /proc.
 */
function mainThreadCpu(): number | undefined {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return undefined;
  }
}

/**
 * Wall time, the CPU time this process spent (user + system, all threads), and the main
 * thread's CPU time (else its busy time). Other work on a shared machine stretches wall time
 * unevenly; CPU time compares the loops' own cost.
 */
interface Sample {
  wall: number;
  cpu: number;
  main: number;
}
async function measure<T>(fn: () => T | Promise<T>): Promise<[T, Sample]> {
  const c0 = process.cpuUsage();
  const m0 = mainThreadCpu();
  const e0 = performance.eventLoopUtilization();
  const t0 = performance.now();
  const out = await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const m1 = mainThreadCpu();
  const main = m0 !== undefined && m1 !== undefined ? m1 - m0 : performance.eventLoopUtilization(e0).active;
  return [out, { wall, cpu: (c.user + c.system) / 1000, main }];
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** Records per second from the median of the samples, by wall, CPU and main-thread CPU time. */
interface Rates {
  wall: number;
  cpu: number;
  main: number;
  other: number;
}
const rate = (ms: number): number => (ms > 0 ? Math.round((N / ms) * 1000) : Infinity);
const rates = (xs: Sample[]): Rates => ({
  wall: rate(median(xs.map((x) => x.wall))),
  cpu: rate(median(xs.map((x) => x.cpu))),
  main: rate(median(xs.map((x) => x.main))),
  // Under 5% of the CPU time off the main thread is V8's helpers, not worth a rate.
  other: rate(median(xs.map((x) => (x.cpu - x.main > 0.05 * x.cpu ? x.cpu - x.main : 0)))),
});
let fileNo = 0;
const freshPath = (): string => join(dir, `bench-${++fileNo}.sqlite`);

/** The baseline: what a hand-written loop over the same objects costs. */
async function rawInsert(rows: SeriesRecord[][], preSerialised?: string[][]): Promise<Sample> {
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
  const [, sample] = await measure(() => rows.forEach((b, i) => write(b, preSerialised?.[i])));
  db.close();
  return sample;
}

async function timed(fn: () => Promise<UpsertResult[]>, expect: keyof UpsertResult): Promise<Sample> {
  const [results, sample] = await measure(fn);
  const total = results.reduce((sum, r) => sum + r[expect], 0);
  if (total !== N) throw new Error(`expected ${N} ${expect}, got ${total}`);
  return sample;
}

/** Upserts every batch, keeping `depth` calls in flight. */
async function upsertAll(store: Store, data: SeriesRecord[][], depth = 1): Promise<UpsertResult[]> {
  const out: UpsertResult[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < data.length) out.push(await store.upsertRecords('klines', data[next++]!));
  };
  await Promise.all(Array.from({ length: depth }, lane));
  return out;
}

/** As upsertAll, each batch first decoded from its records' message text (the caller's work). */
async function decodeAndUpsert(store: Store, messages: string[][], depth: number): Promise<UpsertResult[]> {
  const out: UpsertResult[] = [];
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < messages.length) {
      const batch = messages[next++]!.map((m) => JSON.parse(m) as SeriesRecord);
      out.push(await store.upsertRecords('klines', batch));
    }
  };
  await Promise.all(Array.from({ length: depth }, lane));
  return out;
}

const ADAPTERS = {
  direct: (path: string): Store => createSqliteStore({ path }),
  worker: (path: string): Store => createSqliteWorkerStore({ path }),
};
type Adapter = keyof typeof ADAPTERS;

/** A fresh store, started (the worker's start-up is not measured). */
async function open(adapter: Adapter): Promise<Store> {
  const store = ADAPTERS[adapter](freshPath());
  await store.ping();
  return store;
}

async function main(): Promise<void> {
  const rows = batches(klines('42050.55000000'));
  const changed = batches(klines('42050.56000000'));
  const json = rows.map((b) => b.map((r) => JSON.stringify(r.doc)));
  const messages = rows.map((b) => b.map((r) => JSON.stringify(r)));
  const samples = new Map<string, Sample[]>();
  const add = (label: string, s: Sample): void => {
    samples.set(label, [...(samples.get(label) ?? []), s]);
  };
  // Warm-up (JIT, page cache) on a slice of the data, not counted.
  await rawInsert(rows.slice(0, 20));
  for (const adapter of ['direct', 'worker'] as const) {
    const warm = await open(adapter);
    await upsertAll(warm, rows.slice(0, 20), 2);
    await warm.close();
  }
  for (let round = 0; round < ROUNDS; round++) {
    add('raw better-sqlite3 INSERT loop (stringify in loop)', await rawInsert(rows));
    for (const adapter of ['direct', 'worker'] as const) {
      let store = await open(adapter);
      add(`${adapter}: upsert, new records`, await timed(() => upsertAll(store, rows), 'inserted'));
      add(
        `${adapter}: upsert, replay (all unchanged)`,
        await timed(() => upsertAll(store, rows), 'unchanged'),
      );
      add(
        `${adapter}: upsert, rewrite (all changed)`,
        await timed(() => upsertAll(store, changed), 'updated'),
      );
      await store.close();
      // A synchronous adapter gains nothing from calls in flight: only the worker is measured.
      for (const depth of adapter === 'worker' ? [2, 4] : []) {
        store = await open(adapter);
        add(
          `${adapter}: upsert, new records, ${depth} in flight`,
          await timed(() => upsertAll(store, rows, depth), 'inserted'),
        );
        await store.close();
      }
      store = await open(adapter);
      add(
        `${adapter}: decode + upsert, new records, 4 in flight`,
        await timed(() => decodeAndUpsert(store, messages, 4), 'inserted'),
      );
      await store.close();
    }
    add('raw loop, JSON serialised beforehand (stricter)', await rawInsert(rows, json));
  }
  const r = Object.fromEntries([...samples].map(([label, xs]) => [label, rates(xs)]));
  const num = (x: number): string => (Number.isFinite(x) ? String(x) : '-').padStart(8);
  console.log(
    `${N} kline records in batches of ${BATCH}, median of ${ROUNDS} rounds, fresh files, WAL + NORMAL`,
  );
  console.log(
    `${'rec/s by'.padEnd(56)} ${'wall'.padStart(8)} ${'cpu'.padStart(8)} ${'main cpu'.padStart(9)} ${'other cpu'.padStart(9)}`,
  );
  for (const [label, x] of Object.entries(r))
    console.log(
      `${label.padEnd(56)} ${num(x.wall)} ${num(x.cpu)} ${num(x.main).padStart(9)} ${num(x.other).padStart(9)}`,
    );
  const raw = r['raw better-sqlite3 INSERT loop (stringify in loop)']!;
  const pre = r['raw loop, JSON serialised beforehand (stricter)']!;
  const ratio = (x: number, y: number): string => (x / y).toFixed(2);
  for (const label of [
    'direct: upsert, new records',
    'worker: upsert, new records',
    'worker: upsert, new records, 4 in flight',
  ]) {
    const a = r[label]!;
    console.log(
      `${`ratio ${label} / raw:`.padEnd(64)} wall ${ratio(a.wall, raw.wall)}  cpu ${ratio(a.cpu, raw.cpu)}` +
        `  (stricter: wall ${ratio(a.wall, pre.wall)}  cpu ${ratio(a.cpu, pre.cpu)})`,
    );
  }
}

main()
  .catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(() => rmSync(dir, { recursive: true, force: true }));
