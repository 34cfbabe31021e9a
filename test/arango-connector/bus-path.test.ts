/**
 * The local modes' intake: the connector consumes the data topics and queue-events through the
 * bus (here the in-process bus; kafka.test.ts does the same over the real broker).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../shared/bus/event-bus.ts';
import { createMemoryBus, type MemoryBus } from '../../shared/bus/memory-bus.ts';
import { Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import {
  KLINES,
  QUEUE_ID,
  flakyStore,
  kline,
  klineBatch,
  loaderFinal,
  logger,
  tempSqlite,
} from './helpers.ts';

const TOPIC = Topics.data('kline');

let sqlite: Store;
let cleanup: () => Promise<void>;
let bus: MemoryBus;
let connector: Connector | undefined;

beforeEach(() => {
  ({ store: sqlite, cleanup } = tempSqlite());
  bus = createMemoryBus({ retryBackoffMs: 5 });
});

afterEach(async () => {
  await connector?.stop();
  await bus.close();
  await cleanup();
});

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** What is published on a topic, read by a fresh consumer group until `enough` says so. */
async function readTopic(
  topic: string,
  group: string,
  enough: (seen: BusEvent[]) => boolean,
): Promise<BusEvent[]> {
  const seen: BusEvent[] = [];
  const sub = await bus.subscribe({
    groupId: group,
    topics: [topic],
    handler: (msg) => {
      seen.push(msg.event);
      return Promise.resolve();
    },
  });
  await until(`events on ${topic}`, () => Promise.resolve(enough(seen)));
  await sub.close();
  return seen;
}

describe('bus path', () => {
  it('stores what the data topic carries, dead-letters a hopeless event and moves on, completes', async () => {
    const flaky = flakyStore(sqlite);
    connector = createConnector({ store: flaky.store, bus, logger, subscribe: true, progressIntervalMs: 0 });
    await connector.start();
    flaky.state.down = true; // the first deliveries fail and are redelivered by the bus
    const batches = Array.from({ length: 4 }, (_, seq) => klineBatch(seq, 25, { queue_id: QUEUE_ID }));
    const unknown = { ...klineBatch(9, 1), id: 'not-a-batch', type: 'io.streamforge.data.candles' };
    await bus.publish(TOPIC, [
      { key: 'BTCUSDT', event: batches[0]! },
      { key: 'BTCUSDT', event: unknown },
      ...batches.slice(1).map((event) => ({ key: 'BTCUSDT', event })),
      { key: 'BTCUSDT', event: batches[2]! },
    ]);
    await bus.publish(Topics.events, [{ key: 'BTCUSDT', event: loaderFinal(4) }]);
    await new Promise((r) => setTimeout(r, 50));
    expect(await sqlite.count(KLINES)).toBe(0);
    flaky.state.down = false;

    await until('all records', async () => (await sqlite.count(KLINES)) === 100);
    const rows = await sqlite.rangeQuery(KLINES, { series: 'spot:BTCUSDT:klines_1m', limit: 1000 });
    expect(rows.map((r) => r.doc)).toEqual(Array.from({ length: 100 }, (_, i) => kline(i)));

    const [dead] = await readTopic(Topics.deadLetter, 'test-dead', (seen) => seen.length >= 1);
    expect(dead).toMatchObject({ id: 'not-a-batch', extensions: { knativeerrorcode: '400' } });

    const completed = (e: BusEvent): boolean => QueueEvent.parse(e.data).status === 'completed';
    const events = await readTopic(Topics.events, 'test-events', (seen) => seen.some(completed));
    await connector.stop();
    const done = events.filter(completed).map((e) => QueueEvent.parse(e.data));
    expect(done).toEqual([expect.objectContaining({ producer: 'arango-connector', records_written: 100 })]);
  });
});
