/**
 * The connector's one intake on one machine, as the platform wires it (functions/platform): the
 * local runner reads the connector's KafkaSource from kafka-sources/arango-connector.yaml and
 * hands every record of its topics to `connector.functionApp.deliver` in-process, with the
 * source's retries and the dead-letter topic (here over the in-process bus; kafka.test.ts does
 * the same over the real broker). The sink's URL is unreachable: nothing goes over HTTP.
 */
import path from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../shared/bus/event-bus.ts';
import { createMemoryBus, type MemoryBus } from '../../shared/bus/memory-bus.ts';
import { EventTypes, Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import type { Store } from '../../shared/store/store.ts';
import { deliveryPolicy } from '../../shared/topology/delivery.ts';
import { loadTopology, type Topology } from '../../shared/topology/load.ts';
import type { KafkaSource } from '../../shared/topology/schema.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import { DeadLetter } from '../../functions/arango-connector/schema.ts';
import type { DispatchResult } from '../../functions/local-runner/dispatcher.ts';
import { createLocalRunner, type LocalRunner } from '../../functions/local-runner/runner.ts';
import {
  KLINES,
  QUEUE_ID,
  flakyStore,
  kline,
  klineBatch,
  klineRow,
  loaderFinal,
  logger,
  tempSqlite,
} from './helpers.ts';

const TOPIC = Topics.data('kline');
const SERIES = 'spot:BTCUSDT:klines_1m';
/** Where the Service would be; a POST there fails (connection refused), so a delivery over HTTP shows. */
const UNREACHABLE = 'http://127.0.0.1:9';

let topology: Topology;
let source: KafkaSource;
let sqlite: Store;
let cleanup: () => Promise<void>;
let bus: MemoryBus;
let connector: Connector | undefined;
let runner: LocalRunner | undefined;
let retries: { n: number; waitMs: number; status: number | null }[];
let results: { topic: string; eventId: string; outcome: DispatchResult }[];

beforeAll(async () => {
  topology = await loadTopology(path.resolve(import.meta.dirname, '../../kafka-sources'));
  const found = topology.sources.find((s) => s.source.metadata.name === 'arango-connector');
  if (found === undefined) throw new Error('kafka-sources has no arango-connector KafkaSource');
  source = found.source;
});

beforeEach(async () => {
  ({ store: sqlite, cleanup } = tempSqlite());
  bus = createMemoryBus({ retryBackoffMs: 5 });
  await bus.ensureTopics(topology.topics);
  retries = [];
  results = [];
});

afterEach(async () => {
  await runner?.stop();
  runner = undefined;
  await connector?.stop();
  connector = undefined;
  await bus.close();
  await cleanup();
});

/** The connector behind the local runner, as `npm start` runs them (RUNNER_DELIVERY=direct). */
async function startIntake(store: Store): Promise<Connector> {
  const c = createConnector({ store, bus, logger, progressIntervalMs: 0 });
  connector = c;
  await c.start();
  runner = createLocalRunner({
    bus,
    sources: [source],
    resolveService: (name) => (name === 'arango-connector' ? UNREACHABLE : undefined),
    direct: (name) => (name === 'arango-connector' ? c.functionApp.deliver : undefined),
    deadLetterTopic: Topics.deadLetter,
    logger,
    onRetry: (r) => retries.push(r),
    onResult: (r) => results.push(r),
  });
  await runner.start();
  return c;
}

async function until(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const outcomeOf = (id: string): DispatchResult | undefined => results.find((r) => r.eventId === id)?.outcome;

/** What is published on a topic, read by a fresh consumer group until `enough` says so. */
async function readTopic(topic: string, enough: (seen: BusEvent[]) => boolean): Promise<BusEvent[]> {
  const seen: BusEvent[] = [];
  const sub = await bus.subscribe({
    groupId: `test-reader-${Math.random()}`,
    topics: [topic],
    from: 'earliest',
    handler: (msg) => {
      seen.push(msg.event);
      return Promise.resolve();
    },
  });
  try {
    await until(`events on ${topic}`, () => enough(seen));
  } finally {
    await sub.close();
  }
  return seen;
}

const stored = async (): Promise<unknown[]> =>
  (await sqlite.rangeQuery(KLINES, { series: SERIES, limit: 10_000 })).map((r) => r.doc);

describe('the connector behind the local runner', () => {
  it('reads every data topic and queue-events, with retries and a dead-letter sink', () => {
    expect(source.spec.topics).toEqual(expect.arrayContaining([TOPIC, Topics.events]));
    expect(source.spec.sink.ref).toMatchObject({ kind: 'Service', name: 'arango-connector' });
    expect(source.spec.ordering).toBe('ordered');
    expect(source.spec.delivery?.retry).toBeGreaterThan(0);
    expect(source.spec.delivery?.deadLetterSink).toBeDefined();
  });

  it('stores the rest of a batch and dead-letters a poisoned row with its zod issues', async () => {
    await startIntake(sqlite);
    const poisoned = klineRow(3);
    poisoned[4] = 42003.1; // close as a float, not the exchange's decimal string
    const rows = Array.from({ length: 10 }, (_, i) => (i === 3 ? poisoned : klineRow(i)));
    const batch = klineBatch(0, 10, { queue_id: QUEUE_ID, rows });
    await bus.publish(TOPIC, [{ key: 'BTCUSDT', event: batch }]);

    await until('the batch delivered', () => outcomeOf(batch.id) !== undefined);
    // The batch itself succeeded (2xx): only its bad row is a dead letter, the connector's own.
    expect(outcomeOf(batch.id)).toBe('delivered');
    expect(await stored()).toEqual([0, 1, 2, 4, 5, 6, 7, 8, 9].map((i) => kline(i)));

    const [letter] = await readTopic(Topics.deadLetter, (seen) => seen.length >= 1);
    expect(letter?.type).toBe(EventTypes.deadLetter);
    const dead = DeadLetter.parse(letter?.data);
    expect(dead).toMatchObject({
      reason: 'invalid_record',
      index: 3,
      record: poisoned,
      batch: { event_id: batch.id, seq: 0, queue_id: QUEUE_ID, collection: KLINES },
    });
    expect(dead.issues).toEqual([
      expect.objectContaining({ code: 'invalid_type', expected: 'string', path: [4] }),
    ]);
    expect(retries).toEqual([]);
    expect(runner!.stats()).toMatchObject({ deadLettered: 0, dropped: 0 });
  });

  it('retries a batch answered 503 (store down) on the source’s schedule, then stores it and completes', async () => {
    const flaky = flakyStore(sqlite);
    await startIntake(flaky.store);
    flaky.state.down = true;
    const batches = Array.from({ length: 4 }, (_, seq) => klineBatch(seq, 25, { queue_id: QUEUE_ID }));
    // At-least-once upstream: one batch twice; the loader's final event on queue-events.
    await bus.publish(
      TOPIC,
      [...batches, batches[2]!].map((event) => ({ key: 'BTCUSDT', event })),
    );
    await bus.publish(Topics.events, [{ key: 'BTCUSDT', event: loaderFinal(4) }]);

    await until('a retry', () => retries.length > 0);
    expect(await sqlite.count(KLINES)).toBe(0);
    // The wait is the one the topology declares (PT0.5S exponential: 1 s before the first retry).
    expect(retries[0]).toMatchObject({ n: 1, status: 503 });
    expect(retries[0]?.waitMs).toBe(deliveryPolicy(source.spec.delivery).backoffMs(1));
    flaky.state.down = false;

    await until('all records', async () => (await sqlite.count(KLINES)) === 100);
    expect(await stored()).toEqual(Array.from({ length: 100 }, (_, i) => kline(i)));

    const completed = (e: BusEvent): boolean => {
      const q = QueueEvent.parse(e.data);
      return q.producer === 'arango-connector' && q.status === 'completed';
    };
    const events = await readTopic(Topics.events, (seen) => seen.some(completed));
    expect(events.filter(completed).map((e) => QueueEvent.parse(e.data))).toEqual([
      expect.objectContaining({ queue_id: QUEUE_ID, records_written: 100, finished: true }),
    ]);
    // Every failure was the connector's 503 (never a network error: nothing went over HTTP).
    expect(retries.every((r) => r.status === 503)).toBe(true);
    // Nothing was given up on: every batch, the duplicate and the final event were delivered.
    for (const e of [...batches, loaderFinal(4)]) expect(outcomeOf(e.id)).toBe('delivered');
    expect(results.every((r) => r.outcome === 'delivered')).toBe(true);
    expect(runner!.stats()).toMatchObject({ deadLettered: 0, dropped: 0 });
  });

  it('sends an event that can never succeed (400) to streamforge-dead-letter at once and moves on', async () => {
    await startIntake(sqlite);
    const good = klineBatch(1, 5);
    const badName = klineBatch(0, 5);
    badName.data = { ...badName.data, collection: 'not a collection!' };
    badName.id = 'bad-collection';
    const unknownType = { ...klineBatch(2, 5), id: 'not-a-batch', type: 'io.streamforge.data.candles' };
    await bus.publish(
      TOPIC,
      [badName, unknownType, good].map((event) => ({ key: 'BTCUSDT', event })),
    );

    await until('all three handled', () => [badName, unknownType, good].every((e) => outcomeOf(e.id)));
    expect([badName, unknownType, good].map((e) => outcomeOf(e.id))).toEqual([
      'dead-lettered',
      'dead-lettered',
      'delivered',
    ]);
    expect(retries).toEqual([]); // a 400 is final: no retry
    // The partition moved on: the batch behind the hopeless ones is stored.
    expect(await stored()).toEqual([5, 6, 7, 8, 9].map((i) => kline(i)));

    const letters = await readTopic(Topics.deadLetter, (seen) => seen.length >= 2);
    expect(letters.map((e) => e.id)).toEqual(['bad-collection', 'not-a-batch']);
    const [first, second] = letters;
    // The original event, untouched, plus why it failed.
    expect(first).toMatchObject({ type: badName.type, data: badName.data });
    expect(first?.extensions).toMatchObject({ knativeerrorcode: '400', knativeerrordest: UNREACHABLE });
    const body = JSON.parse(Buffer.from(first!.extensions!['knativeerrordata']!, 'base64').toString()) as {
      error: string;
      issues: { path: string[] }[];
    };
    expect(body.error).toBe('invalid data batch');
    expect(body.issues.map((i) => i.path)).toContainEqual(['collection']);
    expect(second).toMatchObject({
      type: 'io.streamforge.data.candles',
      extensions: { knativeerrorcode: '400' },
    });
    expect(runner!.stats()).toMatchObject({ deadLettered: 2, dropped: 0 });
  });
});
