/**
 * Integration over the real Kafka broker (KAFKA_BROKERS from the global setup): data batches and
 * the loader's final event published to Kafka, the connector subscribed through the Kafka bus.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { createKafkaBus } from '../../shared/bus/kafka-bus.ts';
import { Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import { KLINES, QUEUE_ID, kline, klineBatch, loaderFinal, logger, tempSqlite } from './helpers.ts';

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
  const run = randomBytes(4).toString('hex');
  const topic = `test-connector-klines-${run}`;
  let bus: EventBus;
  let store: Store;
  let cleanup: () => Promise<void>;
  let connector: Connector;

  beforeAll(async () => {
    bus = createKafkaBus({ brokers: brokers.split(','), clientId: `test-connector-${run}`, logger });
    ({ store, cleanup } = tempSqlite());
    await bus.ensureTopics([
      { topic, partitions: 2 },
      { topic: Topics.events },
      { topic: Topics.deadLetter },
    ]);
  });

  afterAll(async () => {
    await connector?.stop();
    await bus?.close();
    await cleanup?.();
  });

  it('stores every batch published to a topic, once, and completes the workflow', async () => {
    const batches = Array.from({ length: 8 }, (_, seq) => klineBatch(seq, 100, { queue_id: QUEUE_ID }));
    // At-least-once upstream: two of them twice; the final event before the last batches.
    await bus.publish(
      topic,
      batches.slice(0, 5).map((event) => ({ key: 'BTCUSDT', event })),
    );
    await bus.publish(Topics.events, [{ key: 'BTCUSDT', event: loaderFinal(batches.length) }]);
    await bus.publish(
      topic,
      [...batches.slice(5), batches[1]!, batches[3]!].map((event) => ({ key: 'BTCUSDT', event })),
    );

    connector = createConnector({
      store,
      bus,
      logger,
      subscribe: true,
      topics: [topic],
      groups: { data: `test-connector-${run}`, events: `test-connector-events-${run}` },
      progressIntervalMs: 0,
    });
    await connector.start();

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
        if (q.success && q.data.queue_id === QUEUE_ID && q.data.producer === 'arango-connector')
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
  });
});
