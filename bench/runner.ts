/**
 * Local runner (functions/local-runner) against a direct bus subscription, on the real broker:
 * how many events per second it delivers to an HTTP sink, and how much latency the KafkaSource
 * -style HTTP hop adds per event.
 *
 *   npx tsx bench/runner.ts [--events N] [--rate R] [--seconds S] [--no-memory]
 *
 * Kafka: KAFKA_BROKERS, else a private broker from scripts/kafka.mjs. Each case uses a fresh
 * topic (6 partitions, 12 keys) and a fresh consumer group.
 * - drain: N events are published first; then the consumer starts and the rate is measured from
 *   its first delivery to its last (the group join is not counted);
 * - latency: one event per publish() call, paced at R events/s for S seconds, with the consumer
 *   already running; latency = arrival at the handler (direct) or at the HTTP sink (runner)
 *   minus the moment publish() was called, so both include the producer's acknowledgement.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { pino } from 'pino';
import type { BusEvent, EventBus } from '../shared/bus/event-bus.ts';
import { createKafkaBus } from '../shared/bus/kafka-bus.ts';
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import { makeEvent } from '../shared/runtime/cloudevents.ts';
import { KafkaSource } from '../shared/topology/schema.ts';
import { createLocalRunner } from '../functions/local-runner/runner.ts';
import { startKafka, type RunningKafka } from '../scripts/kafka.mjs';

const flag = (name: string, def: number): number => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const EVENTS = flag('--events', 20_000);
const RATE = flag('--rate', 200);
const SECONDS = flag('--seconds', 10);
const PARTITIONS = 6;
const KEYS = Array.from({ length: 12 }, (_, i) => `SYM${i}USDT`);
const logger = pino({ level: 'warn' });

/** Where each event arrived: event id → performance.now(). */
type Arrivals = Map<string, number>;

interface Consumer {
  stop(): Promise<void>;
}

/** The HTTP sink a KafkaSource would POST to: 202 for everything, arrival time per ce-id. */
async function startSink(arrivals: Arrivals): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      arrivals.set(String(req.headers['ce-id']), performance.now());
      res.writeHead(202).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

async function consumer(
  bus: EventBus,
  path: 'direct' | 'runner',
  topic: string,
  arrivals: Arrivals,
): Promise<Consumer> {
  const group = `bench-${path}-${randomUUID().slice(0, 8)}`;
  if (path === 'direct') {
    const sub = await bus.subscribe({
      groupId: group,
      topics: [topic],
      from: 'earliest',
      partitionsConsumedConcurrently: 64,
      handler: (m) => {
        arrivals.set(m.event.id, performance.now());
        return Promise.resolve();
      },
    });
    return { stop: () => sub.close() };
  }
  const sink = await startSink(arrivals);
  const source = KafkaSource.parse({
    apiVersion: 'sources.knative.dev/v1',
    kind: 'KafkaSource',
    metadata: { name: 'bench' },
    spec: {
      bootstrapServers: ['unused:9092'],
      topics: [topic],
      consumerGroup: group,
      initialOffset: 'earliest',
      ordering: 'ordered',
      delivery: { retry: 3, backoffDelay: 'PT0.1S' },
      sink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'sink' } },
    },
  });
  const runner = createLocalRunner({ bus, sources: [source], resolveService: () => sink.url, logger });
  await runner.start();
  return {
    async stop() {
      await runner.stop();
      await sink.close();
    },
  };
}

function event(seq: number): BusEvent {
  return makeEvent({
    type: 'io.streamforge.bench',
    source: '/streamforge/bench',
    data: { seq, pad: 'x'.repeat(200) },
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('bench: timed out waiting for deliveries');
    await sleep(5);
  }
}

async function drain(bus: EventBus, path: 'direct' | 'runner'): Promise<number> {
  const topic = `bench-drain-${randomUUID().slice(0, 8)}`;
  await bus.ensureTopics([{ topic, partitions: PARTITIONS }]);
  for (let i = 0; i < EVENTS; i += 500) {
    const batch = Array.from({ length: Math.min(500, EVENTS - i) }, (_, j) => event(i + j));
    await bus.publish(
      topic,
      batch.map((e, j) => ({ key: KEYS[(i + j) % KEYS.length]!, event: e })),
    );
  }
  const arrivals: Arrivals = new Map();
  const c = await consumer(bus, path, topic, arrivals);
  await waitFor(() => arrivals.size >= EVENTS, 300_000);
  await c.stop();
  const times = [...arrivals.values()];
  return EVENTS / ((Math.max(...times) - Math.min(...times)) / 1000);
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function latency(
  bus: EventBus,
  path: 'direct' | 'runner',
): Promise<{ p50: number; p99: number; max: number }> {
  const topic = `bench-latency-${randomUUID().slice(0, 8)}`;
  await bus.ensureTopics([{ topic, partitions: PARTITIONS }]);
  const arrivals: Arrivals = new Map();
  const c = await consumer(bus, path, topic, arrivals);
  // A first event proves the consumer is fetching before the clock starts.
  const warm = event(-1);
  await bus.publish(topic, [{ key: 'WARM', event: warm }]);
  await waitFor(() => arrivals.has(warm.id), 60_000);
  const sent = new Map<string, number>();
  const n = RATE * SECONDS;
  const t0 = performance.now();
  for (let i = 0; i < n; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const e = event(i);
    sent.set(e.id, performance.now());
    await bus.publish(topic, [{ key: KEYS[i % KEYS.length]!, event: e }]);
  }
  await waitFor(() => [...sent.keys()].every((id) => arrivals.has(id)), 60_000);
  await c.stop();
  const lat = [...sent].map(([id, t]) => arrivals.get(id)! - t).sort((a, b) => a - b);
  return { p50: pct(lat, 50), p99: pct(lat, 99), max: lat[lat.length - 1]! };
}

async function measure(name: string, bus: EventBus): Promise<void> {
  const rows: Record<string, { drain: number; p50: number; p99: number; max: number }> = {};
  for (const path of ['direct', 'runner'] as const) {
    const d = await drain(bus, path);
    const l = await latency(bus, path);
    rows[path] = { drain: d, ...l };
    console.log(
      `${name.padEnd(7)} ${path.padEnd(7)} drain ${d.toFixed(0).padStart(7)} events/s   latency p50 ${l.p50.toFixed(2).padStart(7)} ms  p99 ${l.p99.toFixed(2).padStart(7)} ms  max ${l.max.toFixed(1).padStart(7)} ms`,
    );
  }
  const [dr, rr] = [rows['direct']!, rows['runner']!];
  console.log(
    `${name.padEnd(7)} runner adds p50 +${(rr.p50 - dr.p50).toFixed(2)} ms, p99 +${(rr.p99 - dr.p99).toFixed(2)} ms per event; delivers ${((100 * rr.drain) / dr.drain).toFixed(0)}% of the direct drain rate`,
  );
}

console.log(
  `local runner bench: ${EVENTS} events drained; latency at ${RATE}/s for ${SECONDS}s; ${PARTITIONS} partitions, ${KEYS.length} keys, ordered delivery`,
);
if (!process.argv.includes('--no-memory')) {
  const mem = createMemoryBus({ partitions: PARTITIONS });
  await measure('memory', mem);
  await mem.close();
}
let kafka: RunningKafka | undefined;
const brokers = process.env['KAFKA_BROKERS'] ?? (kafka = await startKafka()).brokers;
const bus = createKafkaBus({ brokers: brokers.split(','), clientId: 'bench-runner', logger });
try {
  await measure('kafka', bus);
} finally {
  await bus.close();
  await kafka?.stop();
}
