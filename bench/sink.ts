/**
 * Sink benchmark (issue 5 "Measure"): kline records already in a Kafka topic → all stored by the
 * arango-connector through its bus path into a fresh SQLite file; against a raw better-sqlite3
 * insert of the same rows into the same kind of table in the same run. Then duplicates: every
 * batch delivered twice → deliveries vs stored records.
 *
 *   node --import tsx bench/sink.ts [--records 1000000] [--batch 1000] [--dup-records 100000]
 *                                   [--store worker|direct]
 *
 * Kafka: KAFKA_BROKERS if set, else a broker started with scripts/kafka.mjs for this run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createKafkaBus } from '../shared/bus/kafka-bus.ts';
import type { BusEvent, EventBus } from '../shared/bus/event-bus.ts';
import {
  batchId,
  canonicalCollection,
  EventTypes,
  sourceOf,
  type DataBatch,
} from '../shared/contracts/events.ts';
import { identify, type Kline } from '../shared/contracts/records.ts';
import { createLogger } from '../shared/runtime/logger.ts';
import { MINUTE, syntheticKline, T0 } from './synthetic.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { createSqliteWorkerStore } from '../shared/store/sqlite-worker-store.ts';
import type { Store } from '../shared/store/store.ts';
import { startKafka, type RunningKafka } from '../scripts/kafka.mjs';
import { createConnector } from '../functions/arango-connector/app.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    'dup-records': { type: 'string', default: '100000' },
    // The platform's default (SQLITE_WORKER=false) is the direct adapter.
    store: { type: 'string', default: 'direct' },
  },
});
const RECORDS = Number(args.records);
const BATCH = Number(args.batch);
const DUP_RECORDS = Number(args['dup-records']);
const openStore = (file: string): Store =>
  args.store === 'worker' ? createSqliteWorkerStore({ path: file }) : createSqliteStore({ path: file });
const COLLECTION = canonicalCollection('kline');
const SERIES = 'spot:BTCUSDT:klines_1m';
const QUEUE_ID = 'wf-btcusdt-api_candles_1m-20230101-0b0b0b';
const logger = createLogger('bench-sink', process.env['LOG_LEVEL'] ?? 'warn');
const run = Date.now().toString(36);

function klines(seq: number): Kline[] {
  return Array.from({ length: BATCH }, (_, j) => syntheticKline(seq * BATCH + j));
}

function batchEvent(seq: number): BusEvent<DataBatch> {
  const records = klines(seq);
  const covers = { from: T0 + seq * BATCH * MINUTE, to: T0 + (seq + 1) * BATCH * MINUTE };
  const at = { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m', covers };
  const data: DataBatch = {
    queue_id: QUEUE_ID,
    attempt: 1,
    kind: 'kline',
    market: 'spot',
    symbol: 'BTCUSDT',
    dataset: 'klines_1m',
    collection: COLLECTION,
    seq,
    covers,
    gaps: [],
    records,
  };
  return {
    specversion: '1.0',
    id: batchId('kline', at, records),
    source: sourceOf('loader-api'),
    type: EventTypes.data('kline'),
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  };
}

async function publishAll(bus: EventBus, topic: string, seqs: number[]): Promise<number> {
  const started = performance.now();
  const GROUP = 8;
  for (let i = 0; i < seqs.length; i += GROUP) {
    const events = seqs.slice(i, i + GROUP).map((seq) => ({ key: 'BTCUSDT', event: batchEvent(seq) }));
    await bus.publish(topic, events);
  }
  return (performance.now() - started) / 1000;
}

/** A store that counts UPSERT calls and records handed to it. */
function counting(inner: Store): { store: Store; calls: () => number; records: () => number } {
  let calls = 0;
  let records = 0;
  const store = new Proxy(inner, {
    get(target, prop: keyof Store) {
      const fn = (target[prop] as (...a: unknown[]) => unknown).bind(target);
      if (prop !== 'upsertRecords') return fn;
      return async (collection: string, rows: unknown[]) => {
        const r = await target.upsertRecords(collection, rows as never);
        calls += 1;
        records += rows.length;
        return r;
      };
    },
  });
  return { store, calls: () => calls, records: () => records };
}

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The connector consumes `topic` from the beginning until `done()`; returns seconds. */
async function sink(bus: EventBus, topic: string, file: string, deliveries: number) {
  const c = counting(openStore(file));
  const connector = createConnector({
    store: c.store,
    bus,
    logger,
    subscribe: true,
    topics: [topic],
    groups: { data: `bench-sink-${topic}`, events: `bench-sink-events-${topic}` },
  });
  const started = performance.now();
  await connector.start();
  await until(() => c.calls() >= 1, 600_000);
  const firstAt = performance.now();
  await until(() => c.calls() >= deliveries, 3_600_000);
  const seconds = (performance.now() - started) / 1000;
  const steady = (performance.now() - firstAt) / 1000;
  const hist = await connector.functionApp.registry
    .getSingleMetric('connector_batch_duration_seconds')
    ?.get();
  const values = (hist?.values ?? []) as { metricName?: string; value: number }[];
  const busy = values.find((v) => v.metricName === 'connector_batch_duration_seconds_sum')?.value ?? 0;
  await connector.stop();
  const stored = await c.store.count(COLLECTION);
  await c.store.close();
  return { seconds, steady, busy, stored, deliveredRecords: c.records(), deliveries: c.calls() };
}

/** Raw better-sqlite3: the same table shape, WAL, one transaction per batch of the same rows. */
function raw(file: string): { seconds: number; insertOnly: number } {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(
    `CREATE TABLE t (_key TEXT PRIMARY KEY, series TEXT NOT NULL, time INTEGER NOT NULL, doc TEXT NOT NULL);` +
      `CREATE INDEX t_series_time ON t (series, time, _key);`,
  );
  const insert = db.prepare('INSERT INTO t (_key, series, time, doc) VALUES (?, ?, ?, ?)');
  const write = db.transaction((rows: [string, string, number, string][]) => {
    for (const r of rows) insert.run(...r);
  });
  let seconds = 0;
  let insertOnly = 0;
  for (let seq = 0; seq < RECORDS / BATCH; seq++) {
    const records = klines(seq); // generating the records is not timed
    const t0 = performance.now();
    const rows = records.map((k): [string, string, number, string] => {
      const id = identify('kline', k);
      return [id.key, SERIES, id.time, JSON.stringify(k)];
    });
    const t1 = performance.now();
    write(rows);
    const t2 = performance.now();
    seconds += (t2 - t0) / 1000;
    insertOnly += (t2 - t1) / 1000;
  }
  const count = db.prepare('SELECT count(*) FROM t').pluck().get() as number;
  db.close();
  if (count !== RECORDS) throw new Error(`raw insert stored ${count}`);
  return { seconds, insertOnly };
}

/** The Store port alone (no Kafka, no validation): the same rows through upsertRecords. */
async function storePort(file: string): Promise<number> {
  const store = openStore(file);
  await store.ensureCollection(COLLECTION, 'series');
  let seconds = 0;
  for (let seq = 0; seq < RECORDS / BATCH; seq++) {
    const records = klines(seq);
    const t0 = performance.now();
    const rows = records.map((k) => {
      const id = identify('kline', k);
      return { key: id.key, series: SERIES, time: id.time, doc: k };
    });
    await store.upsertRecords(COLLECTION, rows);
    seconds += (performance.now() - t0) / 1000;
  }
  await store.close();
  return seconds;
}

async function main(): Promise<void> {
  let kafka: RunningKafka | undefined;
  let brokers = process.env['KAFKA_BROKERS'] ?? '';
  if (brokers === '') {
    kafka = await startKafka({ heapMb: 512 });
    brokers = kafka.brokers;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-bench-sink-'));
  const bus = createKafkaBus({ brokers: brokers.split(','), clientId: 'bench-sink', logger });
  try {
    const batches = RECORDS / BATCH;
    const topic = `bench-sink-${run}`;
    await bus.ensureTopics([{ topic, partitions: 3 }]);
    console.log(
      `publishing ${RECORDS} klines (${batches} batches of ${BATCH}) to ${topic} on ${brokers} ...`,
    );
    const pub = await publishAll(
      bus,
      topic,
      Array.from({ length: batches }, (_, s) => s),
    );
    console.log(`  published in ${pub.toFixed(1)} s (${Math.round(RECORDS / pub)} records/s)`);

    const s = await sink(bus, topic, path.join(dir, 'sink.sqlite'), batches);
    if (s.stored !== RECORDS) throw new Error(`connector stored ${s.stored}, expected ${RECORDS}`);
    const r = raw(path.join(dir, 'raw.sqlite'));
    const port = await storePort(path.join(dir, 'port.sqlite'));
    const sinkRate = RECORDS / s.seconds;
    const rawRate = RECORDS / r.seconds;
    const insertRate = RECORDS / r.insertOnly;

    const dupBatches = DUP_RECORDS / BATCH;
    const dupTopic = `bench-sink-dup-${run}`;
    await bus.ensureTopics([{ topic: dupTopic, partitions: 3 }]);
    const once = Array.from({ length: dupBatches }, (_, i) => i);
    await publishAll(bus, dupTopic, [...once, ...once]);
    const d = await sink(bus, dupTopic, path.join(dir, 'dup.sqlite'), 2 * dupBatches);

    console.log(`\nsink (Kafka topic → connector bus path → SQLite, ${args.store} store), same run:`);
    console.log(
      `  connector:  ${RECORDS} records in ${s.seconds.toFixed(1)} s = ${Math.round(sinkRate)} records/s`,
    );
    console.log(
      `              (first batch after ${(s.seconds - s.steady).toFixed(1)} s of group join; from then ${Math.round(RECORDS / s.steady)} records/s; handler busy ${s.busy.toFixed(1)} s)`,
    );
    console.log(
      `  raw sqlite: ${RECORDS} records in ${r.seconds.toFixed(1)} s = ${Math.round(rawRate)} records/s (JSON + insert)`,
    );
    console.log(
      `              insert alone ${r.insertOnly.toFixed(1)} s = ${Math.round(insertRate)} records/s`,
    );
    console.log(
      `  Store port alone (upsertRecords of the same rows): ${port.toFixed(1)} s = ${Math.round(RECORDS / port)} records/s`,
    );
    console.log(
      `  ratio connector/raw: ${(sinkRate / rawRate).toFixed(2)} (vs insert alone: ${(sinkRate / insertRate).toFixed(2)}; aim ≥ 0.6)`,
    );
    console.log('duplicates (every batch delivered twice):');
    console.log(`  deliveries: ${d.deliveries} batches, ${d.deliveredRecords} records`);
    console.log(
      `  stored:     ${d.stored} records (unique ${DUP_RECORDS}; duplicates stored ${d.stored - DUP_RECORDS})`,
    );
    console.log(`peak RSS of this process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
  } finally {
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
    await kafka?.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
