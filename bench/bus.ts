/**
 * EventBus throughput with realistic data batches: 1,000 spot 1m klines per CloudEvent (one
 * exchange page), published one batch per publish() call, as a loader does, while one consumer
 * group handles them.
 *
 *   npx tsx bench/bus.ts [--batches N]      (Kafka: KAFKA_BROKERS, else a broker from scripts/kafka.mjs)
 *
 * Also times the CloudEvents Kafka binding on one batch: ours (kafka-binding.ts) against the
 * cloudevents SDK's `Kafka.binary` / `Kafka.toEvent`.
 */
import { performance } from 'node:perf_hooks';
import { CloudEvent, Kafka as CeKafka, type KafkaMessage as CeKafkaMessage } from 'cloudevents';
import { pino } from 'pino';
import type { BusEvent, EventBus } from '../shared/bus/event-bus.ts';
import { decodeEvent, encodeEvent, wireSize } from '../shared/bus/kafka-binding.ts';
import { createKafkaBus } from '../shared/bus/kafka-bus.ts';
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import { batchId, EventTypes, sourceOf, type DataBatch } from '../shared/contracts/events.ts';
import type { Kline } from '../shared/contracts/records.ts';
import { rowFromRecord } from '../shared/contracts/rows.ts';
import { startKafka, type RunningKafka } from '../scripts/kafka.mjs';

const PER_BATCH = 1000;
const arg = process.argv.indexOf('--batches');
const BATCHES = arg > 0 ? Number(process.argv[arg + 1]) : 200;
const logger = pino({ level: 'warn' });

/** 1,000 consecutive 1m klines with Binance-shaped decimal strings. */
function klines(startMs: number): Kline[] {
  const out: Kline[] = [];
  let price = 65_000 + Math.random() * 1000;
  for (let i = 0; i < PER_BATCH; i++) {
    const open = price;
    price += (Math.random() - 0.5) * 40;
    const t = startMs + i * 60_000;
    const volume = Math.random() * 50;
    out.push({
      market: 'spot',
      symbol: 'BTCUSDT',
      interval: '1m',
      open_time: t,
      open: open.toFixed(8),
      high: (Math.max(open, price) + Math.random() * 10).toFixed(8),
      low: (Math.min(open, price) - Math.random() * 10).toFixed(8),
      close: price.toFixed(8),
      volume: volume.toFixed(8),
      close_time: t + 59_999,
      quote_volume: (volume * price).toFixed(8),
      trades: Math.floor(Math.random() * 2000),
      taker_buy_base: (volume / 2).toFixed(8),
      taker_buy_quote: ((volume / 2) * price).toFixed(8),
      ignore: '0',
    });
  }
  return out;
}

function batchEvent(seq: number): BusEvent<DataBatch> {
  const covers = { from: Date.UTC(2023, 0, 1) + seq * PER_BATCH * 60_000, to: 0 };
  covers.to = covers.from + PER_BATCH * 60_000;
  const rows = klines(covers.from).map((k) => rowFromRecord('kline', k));
  const at = { market: 'spot' as const, symbol: 'BTCUSDT', dataset: 'klines_1m' as const, covers };
  return {
    specversion: '1.0',
    id: batchId(at, rows),
    source: sourceOf('loader-api'),
    type: EventTypes.data('kline'),
    time: new Date().toISOString(),
    subject: 'BTCUSDT',
    extensions: { queueid: 'wf-btcusdt-api_candles_1m-20230101-a1b2c3' },
    data: { ...at, kind: 'kline', collection: 'market_klines', seq, gaps: [], rows },
  };
}

interface Row {
  bus: string;
  batches: number;
  seconds: number;
  publishSeconds: number;
}

async function run(name: string, bus: EventBus, events: BusEvent[]): Promise<Row> {
  const topic = `bench-${name}-${Date.now()}`;
  await bus.ensureTopics([{ topic, partitions: 3 }]);
  let handled = 0;
  let records = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => (done = r));
  const sub = await bus.subscribe({
    groupId: `bench-${topic}`,
    topics: [topic],
    handler: (m) => {
      records += (m.event.data as DataBatch).rows.length;
      if (++handled === events.length) done();
      return Promise.resolve();
    },
  });
  const t0 = performance.now();
  for (const event of events) await bus.publish(topic, [{ key: 'BTCUSDT', event }]);
  const published = performance.now();
  await finished;
  const t1 = performance.now();
  await sub.close();
  if (records !== events.length * PER_BATCH) throw new Error(`${name}: ${records} records arrived`);
  return {
    bus: name,
    batches: events.length,
    seconds: (t1 - t0) / 1000,
    publishSeconds: (published - t0) / 1000,
  };
}

/**
 * Per-call time of each case: rounds interleave the cases (so load from other processes hits
 * all alike), the first two rounds warm up the JIT, and the median of the rest is reported.
 */
function timeEach(
  cases: [string, () => unknown][],
  perRound = 10,
  rounds = 9,
): { what: string; 'per batch': string }[] {
  const samples = cases.map((): number[] => []);
  for (let r = 0; r < rounds; r++) {
    cases.forEach(([, fn], c) => {
      const t0 = performance.now();
      for (let i = 0; i < perRound; i++) fn();
      if (r >= 2) samples[c]!.push((performance.now() - t0) / perRound);
    });
  }
  return cases.map(([what], c) => {
    const sorted = samples[c]!.sort((a, b) => a - b);
    return { what, 'per batch': `${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} ms` };
  });
}

async function main(): Promise<void> {
  const events = Array.from({ length: BATCHES }, (_, i) => batchEvent(i));
  const one = events[0]!;
  const wire = encodeEvent({ key: 'BTCUSDT', event: one });
  console.log(
    `batch: ${PER_BATCH} klines, ${(wireSize(wire) / 1024).toFixed(0)} KiB on the wire; ${BATCHES} batches per run\n`,
  );

  const { extensions, ...attributes } = one;
  const binding = timeEach([
    ['encode (kafka-binding.ts)', () => encodeEvent({ key: 'BTCUSDT', event: one })],
    [
      'encode (SDK: new CloudEvent + Kafka.binary + JSON.stringify)',
      () =>
        JSON.stringify(
          CeKafka.binary(new CloudEvent({ ...extensions, ...attributes, partitionkey: 'BTCUSDT' })).value,
        ),
    ],
    ['decode (kafka-binding.ts)', () => decodeEvent(wire.headers, wire.value)],
    [
      'decode (SDK: Kafka.toEvent)',
      () =>
        CeKafka.toEvent({
          headers: wire.headers,
          key: 'BTCUSDT',
          value: wire.value,
          body: wire.value,
        } as CeKafkaMessage),
    ],
    ['JSON.stringify(data) alone', () => JSON.stringify(one.data)],
  ]);
  console.table(binding);

  const rows: Row[] = [];
  const memory = createMemoryBus({ logger, retention: 'consumed' });
  rows.push(await run('memory', memory, events));
  await memory.close();

  let broker: RunningKafka | undefined;
  let brokers = process.env['KAFKA_BROKERS'] ?? '';
  if (brokers === '') {
    console.log('starting a Kafka broker (scripts/kafka.mjs) ...');
    broker = await startKafka();
    brokers = broker.brokers;
  }
  try {
    const kafka = createKafkaBus({
      brokers: brokers.split(','),
      clientId: 'bench',
      logger,
      heartbeatIntervalMs: 500,
    });
    await run('kafka', kafka, events.slice(0, 10)); // warm-up: connections, JIT, group coordinator
    rows.push(await run('kafka', kafka, events));
    await kafka.close();
  } finally {
    await broker?.stop();
  }

  console.table(
    rows.map((r) => ({
      bus: r.bus,
      batches: r.batches,
      'seconds (publish → last handled)': r.seconds.toFixed(2),
      'batches/s': (r.batches / r.seconds).toFixed(0),
      'records/s': Math.round((r.batches * PER_BATCH) / r.seconds).toLocaleString('en'),
      'MiB/s': ((r.batches * wireSize(wire)) / r.seconds / 2 ** 20).toFixed(1),
      'publish-only batches/s': (r.batches / r.publishSeconds).toFixed(0),
    })),
  );
}

await main();
