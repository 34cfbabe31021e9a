/**
 * Sink benchmark (issue "Measure": "the sink alone from a Kafka topic: at least 0.8× a raw insert
 * of the same rows into the same table").
 *
 *   node --import tsx bench/sink.ts [--records 1000000] [--batch 1000] [--symbols 1] [--rounds 2]
 *                                   [--dup-records 100000] [--raw-chunk 1000]
 *
 * Kafka: KAFKA_BROKERS if set, else a broker started with scripts/kafka.mjs for this run.
 *
 * What is measured, all in one run:
 * - A fresh 6-partition topic is filled with `--records` klines as data batches of `--batch`
 *   compact rows (seq 0.., one workflow queue_id per symbol), keyed by symbol as a backfill
 *   publishes them: one symbol (the default) is one partition; `--symbols N` spreads them.
 * - sink: the arango-connector's KafkaSource (kafka-sources/arango-connector.yaml, with this
 *   topic and a fresh consumer group) run by the local runner with in-process delivery
 *   (`direct`, as the platform does) into the connector, on a fresh SQLite file. Timed from
 *   runner start (group join included) until the runner has delivered every batch; also from
 *   the first delivery. CPU seconds of this process per million records (the broker is another
 *   process), and the wall time it spent off CPU. Where the time goes: inside the handler
 *   (upsertRows, other store calls, the rest) and outside it (runner, kafkajs fetch, decode,
 *   commit), with the gaps between deliveries by length (short: the next record of a fetched
 *   batch; long: waiting for a fetch or a commit).
 * - raw: the same rows, decoded with JSON.parse from the same JSON text the topic carries (a
 *   batch's Kafka value), inserted with plain better-sqlite3 into the table the store creates
 *   (`ensureCollection(collection, 'series', 'kline')` on a fresh file, the store's pragmas),
 *   one prepared multi-row INSERT of `--raw-chunk` rows, one transaction per batch.
 * - raw and sink alternate `--rounds` times (raw, sink, raw, sink); ratio sink/raw per round, from
 *   runner start and from the first delivery, and by CPU seconds of this process (steadier than
 *   wall time on a busy machine; it leaves out the broker's work and all waiting).
 * - handler alone (no Kafka, no runner): the same values through the bus's decode and the
 *   connector's deliver, with parse + validate timed apart: the handler's own share.
 * - duplicates: every batch of `--dup-records` published twice → deliveries vs stored records,
 *   with the store's inserted/updated/unchanged counts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import { createConnector } from '../functions/arango-connector/app.ts';
import { parseBatch, validateRows } from '../functions/arango-connector/handler.ts';
import type { DirectDelivery } from '../functions/local-runner/dispatcher.ts';
import { createLocalRunner } from '../functions/local-runner/runner.ts';
import type { BusEvent, EventBus, OutgoingMessage } from '../shared/bus/event-bus.ts';
import { decodeEvent, encodeEvent, type WireRecord } from '../shared/bus/kafka-binding.ts';
import { createKafkaBus } from '../shared/bus/kafka-bus.ts';
import {
  batchId,
  canonicalCollection,
  EventTypes,
  sourceOf,
  Topics,
  type DataBatch,
} from '../shared/contracts/events.ts';
import { seriesKey } from '../shared/contracts/records.ts';
import { rowFromRecord, type Row } from '../shared/contracts/rows.ts';
import { createLogger } from '../shared/runtime/logger.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import type { Store, UpsertResult } from '../shared/store/store.ts';
import { loadTopology } from '../shared/topology/load.ts';
import type { KafkaSource } from '../shared/topology/schema.ts';
import { startKafka, type RunningKafka } from '../scripts/kafka.mjs';
import { MINUTE, syntheticKline, T0 } from './synthetic.ts';

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '1000' },
    symbols: { type: 'string', default: '1' },
    rounds: { type: 'string', default: '2' },
    'dup-records': { type: 'string', default: '100000' },
    'raw-chunk': { type: 'string', default: '1000' },
  },
});
const RECORDS = Number(args.records);
const BATCH = Number(args.batch);
const SYMBOLS = Number(args.symbols);
const ROUNDS = Number(args.rounds);
const DUP_RECORDS = Number(args['dup-records']);
const RAW_CHUNK = Number(args['raw-chunk']);
for (const [name, n] of Object.entries({ RECORDS, BATCH, SYMBOLS, ROUNDS, DUP_RECORDS, RAW_CHUNK })) {
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer`);
}
if (RECORDS % BATCH !== 0 || DUP_RECORDS % BATCH !== 0)
  throw new Error('--records and --dup-records must be multiples of --batch');

const COLLECTION = canonicalCollection('kline');
const PARTITIONS = 6; // as the real data topics (kafka-sources/topics.yaml)
const logger = createLogger('bench-sink', process.env['LOG_LEVEL'] ?? 'warn');
const run = Date.now().toString(36);
const ROOT = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
/** The store's pragmas (shared/store/sqlite-db.ts), so the raw insert runs on equal terms. */
const PRAGMAS = [
  'journal_mode = WAL',
  'synchronous = NORMAL',
  'cache_size = -65536',
  'wal_autocheckpoint = 10000',
  'temp_store = MEMORY',
];

const symbolOf = (i: number): string => (i === 0 ? 'BTCUSDT' : `SYM${i}USDT`);

/** Batch `b` of a topic: round-robin over the symbols, each symbol's pages in time order. */
function batchMessage(b: number): OutgoingMessage {
  const symbol = symbolOf(b % SYMBOLS);
  const seq = Math.floor(b / SYMBOLS);
  const rows: Row[] = Array.from({ length: BATCH }, (_, j) =>
    rowFromRecord('kline', syntheticKline(seq * BATCH + j)),
  );
  const covers = { from: T0 + seq * BATCH * MINUTE, to: T0 + (seq + 1) * BATCH * MINUTE };
  const at = { market: 'spot', symbol, dataset: 'klines_1m', covers };
  const data: DataBatch = {
    queue_id: `wf-${symbol.toLowerCase()}-api_candles_1m-20230101-0b0b0b`,
    attempt: 1,
    kind: 'kline',
    market: 'spot',
    symbol,
    dataset: 'klines_1m',
    collection: COLLECTION,
    seq,
    covers,
    gaps: [],
    rows,
  };
  const event: BusEvent<DataBatch> = {
    specversion: '1.0',
    id: batchId(at, rows),
    source: sourceOf('loader-api'),
    type: EventTypes.data('kline'),
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data,
  };
  return { key: symbol, event };
}

/**
 * Every batch as the topic carries it, encoded once (value = the JSON text a consumer parses):
 * published as they are, and parsed from the same text by the raw reference.
 */
let wires: WireRecord[] = [];

async function publishAll(bus: EventBus, topic: string, records: WireRecord[]): Promise<number> {
  const started = performance.now();
  const GROUP = 8;
  for (let i = 0; i < records.length; i += GROUP) {
    await bus.publishWire(topic, records.slice(i, i + GROUP));
  }
  return (performance.now() - started) / 1000;
}

interface StoreTimes {
  upsertCalls: number;
  upsertRows: number;
  inserted: number;
  updated: number;
  unchanged: number;
  /** Milliseconds inside upsertRows (the SQLite adapter works synchronously in the call). */
  upsertMs: number;
  otherCalls: number;
  otherMs: number;
}

/** A store that counts and times upsertRows (and times every other call apart). */
function instrumented(inner: Store): { store: Store; t: StoreTimes } {
  const t: StoreTimes = {
    upsertCalls: 0,
    upsertRows: 0,
    inserted: 0,
    updated: 0,
    unchanged: 0,
    upsertMs: 0,
    otherCalls: 0,
    otherMs: 0,
  };
  const store = new Proxy(inner, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => unknown;
      if (prop === 'upsertRows') {
        return (...a: unknown[]) => {
          const t0 = performance.now();
          const p = fn.apply(target, a) as Promise<UpsertResult>;
          t.upsertMs += performance.now() - t0;
          return p.then((r) => {
            t.upsertCalls += 1;
            t.upsertRows += (a[1] as { rows: readonly Row[] }).rows.length;
            t.inserted += r.inserted;
            t.updated += r.updated;
            t.unchanged += r.unchanged;
            return r;
          });
        };
      }
      return (...a: unknown[]) => {
        const t0 = performance.now();
        const r = fn.apply(target, a);
        t.otherMs += performance.now() - t0;
        t.otherCalls += 1;
        return r;
      };
    },
  });
  return { store, t };
}

const cpuSeconds = (since: NodeJS.CpuUsage): number => {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1e6;
};

interface RawResult {
  seconds: number;
  parse: number;
  insert: number;
  cpu: number;
}

/** Raw better-sqlite3 into the store's own table layout; see the file comment. */
async function raw(file: string, batches: number): Promise<RawResult> {
  const creator = createSqliteStore({ path: file });
  await creator.ensureCollection(COLLECTION, 'series', 'kline');
  await creator.close();
  const db = new Database(file);
  for (const p of PRAGMAS) db.pragma(p);
  const columns = (db.prepare(`PRAGMA table_info("${COLLECTION}")`).all() as { name: string }[]).map(
    (c) => c.name,
  );
  const width = columns.length;
  const tuple = `(${columns.map(() => '?').join(', ')})`;
  const sql = (n: number): string =>
    `INSERT INTO "${COLLECTION}" (${columns.map((c) => `"${c}"`).join(', ')}) VALUES ` +
    Array.from({ length: n }, () => tuple).join(', ');
  const statements = new Map<number, Database.Statement>();
  const statement = (n: number): Database.Statement => {
    let s = statements.get(n);
    if (!s) statements.set(n, (s = db.prepare(sql(n))));
    return s;
  };
  const write = db.transaction((series: string, rows: readonly Row[]) => {
    for (let i = 0; i < rows.length; i += RAW_CHUNK) {
      const m = Math.min(RAW_CHUNK, rows.length - i);
      const values = new Array<unknown>(m * width);
      let k = 0;
      for (let j = i; j < i + m; j++) {
        const row = rows[j]!;
        values[k++] = series;
        for (let x = 0; x < row.length; x++) values[k++] = row[x];
      }
      statement(m).run(values);
    }
  });
  let parse = 0;
  let insert = 0;
  const c0 = process.cpuUsage();
  for (let b = 0; b < batches; b++) {
    const t0 = performance.now();
    const data = JSON.parse(wires[b]!.value) as DataBatch;
    const t1 = performance.now();
    write(seriesKey(data), data.rows as Row[]);
    const t2 = performance.now();
    parse += (t1 - t0) / 1000;
    insert += (t2 - t1) / 1000;
  }
  const cpu = cpuSeconds(c0);
  const count = db.prepare(`SELECT count(*) FROM "${COLLECTION}"`).pluck().get() as number;
  db.close();
  if (count !== batches * BATCH) throw new Error(`raw insert stored ${count}`);
  return { seconds: parse + insert, parse, insert, cpu };
}

/** Upper limits (ms, exclusive) of the buckets of gaps between deliveries. */
const GAP_BUCKETS = [2, 5, 20, Infinity];

interface SinkResult {
  seconds: number;
  /** From the first delivery to the last. */
  steady: number;
  joinSeconds: number;
  cpu: number;
  handlerSeconds: number;
  deliveries: number;
  stored: number;
  t: StoreTimes;
  /** Gaps between deliveries, per GAP_BUCKETS entry. */
  gaps: { n: number; ms: number }[];
  batchesByOutcome: Record<string, number>;
  recordsByResult: Record<string, number>;
}

/** Values of a labelled counter of the connector's registry, by label. */
async function counterBy(connector: ReturnType<typeof createConnector>, name: string, label: string) {
  const metric = await connector.functionApp.registry.getSingleMetric(name)?.get();
  const out: Record<string, number> = {};
  for (const v of metric?.values ?? []) {
    const k = String(v.labels[label]);
    out[k] = (out[k] ?? 0) + v.value;
  }
  return out;
}

/**
 * The runner (direct delivery) + the connector consume `topic` from the earliest offset with a
 * fresh group until `deliveries` records were delivered.
 */
async function sink(
  bus: EventBus,
  template: KafkaSource,
  topic: string,
  group: string,
  file: string,
  deliveries: number,
): Promise<SinkResult> {
  const { store, t } = instrumented(createSqliteStore({ path: file }));
  const connector = createConnector({ store, bus, logger });
  const source = structuredClone(template);
  source.spec.topics = [topic];
  source.spec.consumerGroup = group;
  const deliver = connector.functionApp.deliver;
  let handlerMs = 0;
  let firstAt: number | undefined;
  let lastEnd: number | undefined;
  // Time between one delivery's end and the next one's start, by length: short gaps are the
  // records of one fetched batch (decode, commit, runner), long ones a wait for the next fetch.
  const gaps = GAP_BUCKETS.map(() => ({ n: 0, ms: 0 }));
  const timed: DirectDelivery = async (event) => {
    const t0 = performance.now();
    firstAt ??= t0;
    if (lastEnd !== undefined) {
      const gap = t0 - lastEnd;
      const g = gaps[GAP_BUCKETS.findIndex((limit) => gap < limit)]!;
      g.n += 1;
      g.ms += gap;
    }
    try {
      return await deliver(event);
    } finally {
      lastEnd = performance.now();
      handlerMs += lastEnd - t0;
    }
  };
  let results = 0;
  const outcomes: Record<string, number> = {};
  let finished: (at: number) => void = () => undefined;
  const done = new Promise<number>((resolve) => (finished = resolve));
  const runner = createLocalRunner({
    bus,
    sources: [source],
    resolveService: (name) =>
      name === 'arango-connector' ? 'http://arango-connector.in-process' : undefined,
    direct: (name) => (name === 'arango-connector' ? timed : undefined),
    deadLetterTopic: Topics.deadLetter,
    logger,
    onResult: ({ outcome }) => {
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      results += 1;
      if (results === deliveries) finished(performance.now());
    },
  });
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  await connector.start();
  await runner.start();
  const end = await done;
  const cpu = cpuSeconds(cpu0);
  await runner.stop();
  await connector.stop();
  if ((outcomes['delivered'] ?? 0) !== deliveries)
    throw new Error(`runner outcomes ${JSON.stringify(outcomes)}, expected ${deliveries} delivered`);
  const stored = await store.count(COLLECTION);
  const result: SinkResult = {
    seconds: (end - started) / 1000,
    steady: (end - (firstAt ?? started)) / 1000,
    joinSeconds: ((firstAt ?? started) - started) / 1000,
    cpu,
    handlerSeconds: handlerMs / 1000,
    deliveries: results,
    stored,
    t,
    gaps,
    batchesByOutcome: await counterBy(connector, 'streamforge_connector_batches_total', 'outcome'),
    recordsByResult: await counterBy(connector, 'streamforge_records_stored_total', 'result'),
  };
  await store.close();
  return result;
}

/** The connector's deliver on the same values, without Kafka or the runner. */
async function handlerAlone(file: string, batches: number) {
  const { store, t } = instrumented(createSqliteStore({ path: file }));
  const connector = createConnector({ store, bus: noBus, logger });
  await connector.start();
  let decode = 0;
  let check = 0;
  let deliver = 0;
  for (let b = 0; b < batches; b++) {
    const wire = wires[b]!;
    const t0 = performance.now();
    const event = decodeEvent(wire.headers, wire.value);
    const t1 = performance.now();
    validateRows(parseBatch(event)); // timed apart; deliver below does it again
    const t2 = performance.now();
    const r = await connector.functionApp.deliver(event);
    const t3 = performance.now();
    if (r.status !== 202) throw new Error(`deliver answered ${r.status}: ${JSON.stringify(r.body)}`);
    decode += (t1 - t0) / 1000;
    check += (t2 - t1) / 1000;
    deliver += (t3 - t2) / 1000;
  }
  await connector.stop();
  const stored = await store.count(COLLECTION);
  await store.close();
  if (stored !== batches * BATCH) throw new Error(`handler alone stored ${stored}`);
  return { decode, check, deliver, upsert: t.upsertMs / 1000, other: t.otherMs / 1000 };
}

/** A bus that accepts what the connector publishes (progress events) and does nothing with it. */
const noBus: EventBus = {
  ensureTopics: () => Promise.resolve(),
  publish: () => Promise.resolve(),
  publishWire: () => Promise.resolve(),
  subscribe: () => Promise.reject(new Error('not in this bench')),
  ping: () => Promise.resolve(),
  close: () => Promise.resolve(),
};

const rate = (records: number, seconds: number): string =>
  `${Math.round(records / seconds).toLocaleString('en-US')} records/s`;
const s = (seconds: number): string => `${seconds.toFixed(2)} s`;
const pct = (part: number, whole: number): string => `${((100 * part) / whole).toFixed(0)}%`;

async function main(): Promise<void> {
  const topology = await loadTopology(path.join(ROOT, 'kafka-sources'));
  const template = topology.sources.find((l) => l.source.metadata.name === 'arango-connector')?.source;
  if (!template) throw new Error('kafka-sources: no arango-connector KafkaSource');

  let kafka: RunningKafka | undefined;
  let brokers = process.env['KAFKA_BROKERS'] ?? '';
  if (brokers === '') {
    kafka = await startKafka({ heapMb: 1024 });
    brokers = kafka.brokers;
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-bench-sink-'));
  const bus = createKafkaBus({ brokers: brokers.split(','), clientId: 'bench-sink', logger });
  try {
    const batches = RECORDS / BATCH;
    const topic = `bench-sink-${run}`;
    await bus.ensureTopics([{ topic, partitions: PARTITIONS }]);
    const per = SYMBOLS === 1 ? 'one symbol (BTCUSDT), one partition' : `${SYMBOLS} symbols as keys`;
    console.log(
      `publishing ${RECORDS} klines (${batches} batches of ${BATCH} rows, ${per}) to ${topic} ` +
        `(${PARTITIONS} partitions) on ${brokers} ...`,
    );
    wires = Array.from({ length: batches }, (_, b) => encodeEvent(batchMessage(b)));
    const pub = await publishAll(bus, topic, wires);
    console.log(`  published in ${s(pub)} (${rate(RECORDS, pub)})`);
    console.log(`  one batch on the wire: ${wires[0]!.value.length.toLocaleString('en-US')} bytes of JSON`);

    const rounds: { r: RawResult; k: SinkResult }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const r = await raw(path.join(dir, `raw-${i}.sqlite`), batches);
      const k = await sink(
        bus,
        template,
        topic,
        `bench-sink-${run}-${i}`,
        path.join(dir, `sink-${i}.sqlite`),
        batches,
      );
      if (k.stored !== RECORDS) throw new Error(`connector stored ${k.stored}, expected ${RECORDS}`);
      rounds.push({ r, k });
      console.log(`\nround ${i + 1}:`);
      console.log(
        `  raw:  ${s(r.seconds)} = ${rate(RECORDS, r.seconds)}  (JSON.parse ${s(r.parse)}, ` +
          `INSERT ${s(r.insert)} = ${rate(RECORDS, r.insert)}; CPU ${(r.cpu / (RECORDS / 1e6)).toFixed(2)} s per million)`,
      );
      console.log(
        `  sink: ${s(k.seconds)} = ${rate(RECORDS, k.seconds)}  (group join + first fetch ${s(k.joinSeconds)}; ` +
          `from the first delivery ${s(k.steady)} = ${rate(RECORDS, k.steady)})`,
      );
      console.log(
        `        CPU of this process ${s(k.cpu)} = ${(k.cpu / (RECORDS / 1e6)).toFixed(2)} s per million records; ` +
          `off CPU ${s(Math.max(0, k.seconds - k.cpu))} (waiting on the broker's fetches and commits, disk, other processes)`,
      );
      const outside = k.steady - k.handlerSeconds;
      console.log(
        `        time from the first delivery: handler ${s(k.handlerSeconds)} (${pct(k.handlerSeconds, k.steady)}) = ` +
          `upsertRows ${s(k.t.upsertMs / 1000)} + other store calls ${s(k.t.otherMs / 1000)} (${k.t.otherCalls}) + ` +
          `rest ${s(k.handlerSeconds - (k.t.upsertMs + k.t.otherMs) / 1000)}; ` +
          `outside the handler (runner, kafkajs fetch, decode, commit) ${s(outside)} (${pct(outside, k.steady)})`,
      );
      const gapText = GAP_BUCKETS.map((limit, j) => {
        const from = j === 0 ? 0 : GAP_BUCKETS[j - 1]!;
        const g = k.gaps[j]!;
        return `${limit === Infinity ? `≥ ${from}` : `${from}–${limit}`} ms: ${g.n} = ${s(g.ms / 1000)}`;
      });
      console.log(`        gaps between deliveries: ${gapText.join(', ')}`);
      if (SYMBOLS > 1)
        console.log(
          '        (several partitions: deliveries overlap, so handler time and gaps above count overlapping time)',
        );
      console.log(
        `  ratio sink/raw: ${(r.seconds / k.seconds).toFixed(2)} from runner start, ` +
          `${(r.seconds / k.steady).toFixed(2)} from the first delivery; sink/INSERT alone ` +
          `${(r.insert / k.seconds).toFixed(2)}; by CPU of this process ${(r.cpu / k.cpu).toFixed(2)} (aim ≥ 0.8)`,
      );
    }
    const bestRaw = Math.min(...rounds.map((x) => x.r.seconds));
    const bestSink = Math.min(...rounds.map((x) => x.k.seconds));
    const bestSteady = Math.min(...rounds.map((x) => x.k.steady));
    const cpuRaw = Math.min(...rounds.map((x) => x.r.cpu));
    const cpuSink = Math.min(...rounds.map((x) => x.k.cpu));
    console.log(
      `\nbest of ${ROUNDS}: raw ${rate(RECORDS, bestRaw)}, sink ${rate(RECORDS, bestSink)} ` +
        `(from the first delivery ${rate(RECORDS, bestSteady)}); ratio sink/raw ${(bestRaw / bestSink).toFixed(2)} ` +
        `(${(bestRaw / bestSteady).toFixed(2)} from the first delivery)`,
    );
    console.log(
      `  CPU of this process per million records: raw ${(cpuRaw / (RECORDS / 1e6)).toFixed(2)} s, ` +
        `sink ${(cpuSink / (RECORDS / 1e6)).toFixed(2)} s; ratio ${(cpuRaw / cpuSink).toFixed(2)}`,
    );

    const h = await handlerAlone(path.join(dir, 'handler.sqlite'), batches);
    const rest = h.deliver - h.upsert - h.other - h.check;
    console.log(`\nhandler alone (same values, no Kafka, no runner), ${s(h.decode + h.deliver)}:`);
    console.log(
      `  decode (bus: headers + JSON.parse) ${s(h.decode)}, parse + validate rows ${s(h.check)} (timed apart), ` +
        `upsertRows ${s(h.upsert)}, other store calls ${s(h.other)}, rest of deliver ${s(rest)} ` +
        `→ ${rate(RECORDS, h.decode + h.deliver)}`,
    );

    const dupBatches = DUP_RECORDS / BATCH;
    const dupTopic = `bench-sink-dup-${run}`;
    await bus.ensureTopics([{ topic: dupTopic, partitions: PARTITIONS }]);
    const once = Array.from({ length: dupBatches }, (_, b) => wires[b] ?? encodeEvent(batchMessage(b)));
    await publishAll(bus, dupTopic, [...once, ...once]);
    const d = await sink(
      bus,
      template,
      dupTopic,
      `bench-sink-dup-${run}`,
      path.join(dir, 'dup.sqlite'),
      2 * dupBatches,
    );
    console.log('\nduplicates (every batch published twice):');
    console.log(`  deliveries: ${d.deliveries} batches, ${d.t.upsertRows} records handed to upsertRows`);
    console.log(
      `  store: inserted ${d.t.inserted}, updated ${d.t.updated}, unchanged ${d.t.unchanged}; ` +
        `metrics streamforge_records_stored_total ${JSON.stringify(d.recordsByResult)}, ` +
        `streamforge_connector_batches_total ${JSON.stringify(d.batchesByOutcome)}`,
    );
    console.log(
      `  stored: ${d.stored} records (unique ${DUP_RECORDS}; stored twice ${d.stored - DUP_RECORDS})`,
    );
    if (d.stored !== DUP_RECORDS) throw new Error('duplicates were stored');
    console.log(`\npeak RSS of this process: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
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
