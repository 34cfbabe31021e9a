/**
 * Integration over the real Kafka broker (KAFKA_BROKERS from the global setup): data batches and
 * the loader's final event published to Kafka, delivered to the connector by the local runner
 * with the connector's own KafkaSource (kafka-sources/arango-connector.yaml) as the platform does
 * on one machine; its topics and consumer group renamed for this run only.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { createKafkaBus } from '../../shared/bus/kafka-bus.ts';
import { Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import type { Store } from '../../shared/store/store.ts';
import { loadTopology } from '../../shared/topology/load.ts';
import type { KafkaSource } from '../../shared/topology/schema.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import { createLocalRunner, type LocalRunner } from '../../functions/local-runner/runner.ts';
import { KLINES, kline, klineBatch, loaderFinal, logger, tempSqlite } from './helpers.ts';

const brokers = process.env['KAFKA_BROKERS'] ?? '';

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe.skipIf(brokers === '')('connector on the real Kafka broker', () => {
  const run = randomBytes(3).toString('hex');
  // A workflow of this run only: the broker's queue-events is shared with other test files.
  const queueId = `wf-btcusdt-api_candles_1m-20240101-${run}`;
  const topic = `test-connector-klines-${run}`;
  const eventsTopic = `test-connector-events-${run}`;
  let bus: EventBus;
  let store: Store;
  let cleanup: () => Promise<void>;
  let connector: Connector | undefined;
  let runner: LocalRunner | undefined;

  beforeAll(async () => {
    bus = createKafkaBus({ brokers: brokers.split(','), clientId: `test-connector-${run}`, logger });
    ({ store, cleanup } = tempSqlite());
    await bus.ensureTopics([
      { topic, partitions: 2 },
      { topic: eventsTopic },
      { topic: Topics.events },
      { topic: Topics.deadLetter },
    ]);
  });

  afterAll(async () => {
    await runner?.stop();
    await connector?.stop();
    await bus?.close();
    await cleanup?.();
  });

  it('stores every batch published to a topic, once, and completes the workflow', async () => {
    const topology = await loadTopology(path.resolve(import.meta.dirname, '../../kafka-sources'));
    const declared = topology.sources.find((s) => s.source.metadata.name === 'arango-connector')?.source;
    expect(declared).toBeDefined();
    const source: KafkaSource = {
      ...declared!,
      spec: { ...declared!.spec, topics: [topic, eventsTopic], consumerGroup: `test-connector-${run}` },
    };

    const batches = Array.from({ length: 8 }, (_, seq) => klineBatch(seq, 100, { queue_id: queueId }));
    const final = loaderFinal(batches.length);
    final.data = { ...final.data, queue_id: queueId };
    // At-least-once upstream: two of them twice; the final event before the last batches.
    await bus.publish(
      topic,
      batches.slice(0, 5).map((event) => ({ key: 'BTCUSDT', event })),
    );
    await bus.publish(eventsTopic, [{ key: 'BTCUSDT', event: final }]);
    await bus.publish(
      topic,
      [...batches.slice(5), batches[1]!, batches[3]!].map((event) => ({ key: 'BTCUSDT', event })),
    );

    const c = createConnector({ store, bus, logger, progressIntervalMs: 0 });
    connector = c;
    await c.start();
    runner = createLocalRunner({
      bus,
      sources: [source],
      resolveService: (name) => (name === 'arango-connector' ? 'http://127.0.0.1:9' : undefined),
      direct: (name) => (name === 'arango-connector' ? c.functionApp.deliver : undefined),
      deadLetterTopic: Topics.deadLetter,
      logger,
    });
    await runner.start();

    await until('all records stored', async () => (await store.count(KLINES)) === 800);
    const rows = await store.rangeQuery(KLINES, { series: 'spot:BTCUSDT:klines_1m', limit: 1000 });
    expect(rows.map((r) => r.doc)).toEqual(Array.from({ length: 800 }, (_, i) => kline(i)));

    // The completion goes out on queue-events through Kafka as well.
    const seen: QueueEvent[] = [];
    const sub = await bus.subscribe({
      groupId: `test-observer-${run}`,
      topics: [Topics.events],
      handler: (msg) => {
        const q = QueueEvent.safeParse(msg.event.data);
        if (q.success && q.data.queue_id === queueId && q.data.producer === 'arango-connector')
          seen.push(q.data);
        return Promise.resolve();
      },
    });
    try {
      await until('completed event', () => Promise.resolve(seen.some((q) => q.status === 'completed')));
    } finally {
      await sub.close();
    }
    expect(seen.filter((q) => q.status === 'completed')).toHaveLength(1);
    expect(seen.find((q) => q.status === 'completed')?.records_written).toBe(800);
    // Every record, the duplicates too, was delivered; none given up on.
    const r = runner;
    await until('every record delivered', () => Promise.resolve(r.stats().delivered === 11));
    expect(r.stats()).toMatchObject({ delivered: 11, deadLettered: 0, dropped: 0 });
  });
});
