/**
 * CPU of the arango-connector's handler per data batch (issue 5 "Measure"; no Kafka, no HTTP):
 * createConnectorHandler over a real SQLite file in a temp dir and the in-process bus, fed N
 * kline batches of 1000 records of one workflow, then the loader's final event (completion).
 *
 *   node --import tsx bench/connector-handler.ts [--batches 300] [--batch 1000] [--rounds 5]
 *                                                [--poison 0] [--dup] [--handler <module>]
 *
 * --poison k puts k invalid records in every batch (dead-lettered); --dup delivers every batch
 * twice (the second time a redelivery); --handler loads createConnectorHandler, parseBatch and
 * validateRecords from another module (a copy of an older handler, for a before/after run in the
 * same conditions). Each batch is decoded afresh from its JSON text before
 * it is handed over (as the bus and the HTTP path do); decoding is not timed.
 *
 * The time split: `store` is the time inside Store calls (better-sqlite3 is synchronous, so the
 * call returns when SQLite is done; it includes the store's own JSON.stringify of each record);
 * `handler own` is the rest of the handler (validation, identify, dead letters, progress logic,
 * bus publishes); `validation` is the CPU time of parseBatch + validateRecords alone, in a second
 * pass over the same events. Round 0 warms up the JIT and is not counted; figures are medians of rounds.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { BusEvent } from '../shared/bus/event-bus.ts';
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import {
  batchId,
  canonicalCollection,
  EventTypes,
  sourceOf,
  type DataBatch,
} from '../shared/contracts/events.ts';
import type { Kline } from '../shared/contracts/records.ts';
import { createLogger } from '../shared/runtime/logger.ts';
import { MINUTE, syntheticKline, T0 } from './synthetic.ts';
import { createRegistry } from '../shared/runtime/metrics.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import type { Store } from '../shared/store/store.ts';
import * as current from '../functions/arango-connector/handler.ts';
import { PROGRESS_COLLECTION } from '../functions/arango-connector/schema.ts';

const { values: args } = parseArgs({
  options: {
    batches: { type: 'string', default: '300' },
    batch: { type: 'string', default: '1000' },
    rounds: { type: 'string', default: '5' },
    poison: { type: 'string', default: '0' },
    dup: { type: 'boolean', default: false },
    handler: { type: 'string' },
  },
});
const BATCHES = Number(args.batches);
const BATCH = Number(args.batch);
const ROUNDS = Number(args.rounds);
const POISON = Number(args.poison);
const DUP = args.dup;
const COLLECTION = canonicalCollection('kline');
const QUEUE_ID = 'wf-btcusdt-api_candles_1m-20230101-0c0c0c';
const { createConnectorHandler, parseBatch, validateRecords } = (
  args.handler === undefined ? current : await import(path.resolve(args.handler))
) as typeof current;
const logger = createLogger('bench-connector-handler', process.env['LOG_LEVEL'] ?? 'error');

/** One batch as JSON text: the event with its data, as it would arrive over the wire. */
function batchText(seq: number): string {
  const records: unknown[] = Array.from({ length: BATCH }, (_, j) => syntheticKline(seq * BATCH + j));
  for (let k = 0; k < POISON; k++) {
    const at = Math.floor(((k + 1) * BATCH) / (POISON + 1));
    records[at] = { ...(records[at] as Kline), close: 'NaN' };
  }
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
  const event: BusEvent<DataBatch> = {
    specversion: '1.0',
    id: batchId('kline', at, records as Kline[]),
    source: sourceOf('loader-api'),
    type: EventTypes.data('kline'),
    time: new Date(covers.from).toISOString(),
    datacontenttype: 'application/json',
    data,
    extensions: { queueid: QUEUE_ID },
  };
  return JSON.stringify(event);
}

/** A store that adds the wall and CPU time spent inside each of its calls to `spent`. */
function timed(inner: Store): { store: Store; spent: Map<string, { wall: number; cpu: number }> } {
  const spent = new Map<string, { wall: number; cpu: number }>();
  const store = new Proxy(inner, {
    get(target, prop: keyof Store) {
      const fn = (target[prop] as (...a: unknown[]) => Promise<unknown>).bind(target);
      return (...a: unknown[]) => {
        const cpu0 = process.cpuUsage();
        const t0 = performance.now();
        const p = fn(...a);
        const wall = performance.now() - t0;
        const cpu = process.cpuUsage(cpu0);
        const s = spent.get(prop) ?? { wall: 0, cpu: 0 };
        spent.set(prop, { wall: s.wall + wall, cpu: s.cpu + (cpu.user + cpu.system) / 1000 });
        return p;
      };
    },
  });
  return { store, spent };
}

interface Round {
  wallMs: number;
  cpuMs: number;
  storeMs: number;
  storeCpuMs: number;
  validationMs: number;
  spent: Map<string, { wall: number; cpu: number }>;
}

async function round(texts: string[], batches: number): Promise<Round> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-bench-handler-'));
  const sqlite = createSqliteStore({ path: path.join(dir, 'store.sqlite') });
  const { store, spent } = timed(sqlite);
  const bus = createMemoryBus({ logger });
  const handler = createConnectorHandler({ store, bus, logger, registry: createRegistry('bench') });
  const seqs = [...Array(batches).keys()];
  const order = DUP ? [...seqs, ...seqs] : seqs;
  let wallMs = 0;
  let cpuUs = 0;
  try {
    for (const i of order) {
      const event = JSON.parse(texts[i] as string) as BusEvent; // decoding is not timed
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await handler.handleDataEvent(event);
      wallMs += performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      cpuUs += cpu.user + cpu.system;
    }
    await handler.handleQueueEvent(loaderFinal(batches));
    await handler.flush();
    const stored = await sqlite.count(COLLECTION);
    const progress = await sqlite.getDoc<{ completion: string; records_written: number }>(
      PROGRESS_COLLECTION,
      `${QUEUE_ID}:1`,
    );
    const valid = batches * (BATCH - POISON);
    if (stored !== valid || progress?.doc.records_written !== valid)
      throw new Error(
        `stored ${stored}, records_written ${progress?.doc.records_written}; expected ${valid}`,
      );
    if (progress.doc.completion !== 'published') throw new Error(`completion ${progress.doc.completion}`);
  } finally {
    await sqlite.close();
    await bus.close();
    rmSync(dir, { recursive: true, force: true });
  }
  // Validation alone, over the same events freshly decoded.
  let validationMs = 0;
  for (const text of texts.slice(0, batches)) {
    const event = JSON.parse(text) as BusEvent;
    const cpu0 = process.cpuUsage();
    const { good, bad } = validateRecords(parseBatch(event));
    const cpu = process.cpuUsage(cpu0);
    validationMs += (cpu.user + cpu.system) / 1000;
    if (good.length + bad.length !== BATCH) throw new Error('validation lost records');
  }
  const storeMs = [...spent.values()].reduce((a, b) => a + b.wall, 0);
  const storeCpuMs = [...spent.values()].reduce((a, b) => a + b.cpu, 0);
  return { wallMs, cpuMs: cpuUs / 1000, storeMs, storeCpuMs, validationMs, spent };
}

function loaderFinal(n: number): BusEvent {
  return {
    specversion: '1.0',
    id: `${QUEUE_ID}-final`,
    source: sourceOf('loader-api'),
    type: EventTypes.queueEvent,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: {
      queue_id: QUEUE_ID,
      producer: 'loader-api',
      symbol: 'BTCUSDT',
      type: 'api_candles_1m',
      status: 'loading',
      message: 'loader finished',
      records_written: 0,
      finished: false,
      timestamp: new Date().toISOString(),
      attempt: 1,
      batches_published: n,
      gaps: [],
    },
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function main(): Promise<void> {
  const texts = Array.from({ length: BATCHES }, (_, seq) => batchText(seq));
  const deliveries = DUP ? 2 * BATCHES : BATCHES;
  console.log(
    `${args.handler ?? 'connector handler'}: ${BATCHES} batches of ${BATCH} klines (${POISON} poisoned each)` +
      `${DUP ? ', every batch delivered twice' : ''}; ${ROUNDS} rounds + 1 warm-up`,
  );
  await round(texts, Math.min(BATCHES, 50)); // warm-up
  const rounds: Round[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const x = await round(texts, BATCHES);
    rounds.push(x);
    const per = (ms: number): string => (ms / deliveries).toFixed(2);
    console.log(
      `  round ${r + 1}: ${Math.round((deliveries * 1000) / x.wallMs)} batches/s; per batch (wall/cpu ms): ` +
        `total ${per(x.wallMs)}/${per(x.cpuMs)}, store ${per(x.storeMs)}/${per(x.storeCpuMs)}, ` +
        `handler own ${per(x.wallMs - x.storeMs)}/${per(x.cpuMs - x.storeCpuMs)}, ` +
        `validation cpu ${(x.validationMs / BATCHES).toFixed(2)}`,
    );
  }
  const med = (f: (x: Round) => number): string => (median(rounds.map(f)) / deliveries).toFixed(2);
  const wall = median(rounds.map((x) => x.wallMs));
  console.log(`median of ${ROUNDS} rounds:`);
  console.log(
    `  ${((deliveries * 1000) / wall).toFixed(1)} batches/s, ${Math.round((deliveries * BATCH * 1000) / wall)} records/s (handler wall time)`,
  );
  console.log(
    `  per batch, wall ms: total ${med((x) => x.wallMs)} = store ${med((x) => x.storeMs)} + handler own ${med((x) => x.wallMs - x.storeMs)}`,
  );
  console.log(
    `  per batch, cpu ms:  total ${med((x) => x.cpuMs)} = store ${med((x) => x.storeCpuMs)} + handler own ${med((x) => x.cpuMs - x.storeCpuMs)}`,
  );
  console.log(
    `  validation alone (parseBatch + validateRecords), cpu: ${(median(rounds.map((x) => x.validationMs)) / BATCHES).toFixed(2)} ms per batch`,
  );
  const calls = new Map<string, number[]>();
  for (const x of rounds) for (const [k, v] of x.spent) calls.set(k, [...(calls.get(k) ?? []), v.wall]);
  console.log(
    '  store per batch by call (wall): ' +
      [...calls].map(([k, v]) => `${k} ${(median(v) / deliveries).toFixed(3)} ms`).join(', '),
  );
  console.log(`peak RSS: ${Math.round(process.resourceUsage().maxRSS / 1024)} MiB`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
