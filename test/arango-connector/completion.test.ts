import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import { ConnectorProgress, PROGRESS_COLLECTION } from '../../functions/arango-connector/schema.ts';
import {
  QUEUE_ID,
  RecordingBus,
  deliver,
  klineBatch,
  loaderFinal,
  logger,
  shuffle,
  tempSqlite,
} from './helpers.ts';

let store: Store;
let cleanup: () => Promise<void>;
let bus: RecordingBus;
let connector: Connector;

beforeEach(() => {
  ({ store, cleanup } = tempSqlite());
  bus = new RecordingBus();
  connector = createConnector({ store, bus, logger, progressIntervalMs: 0 });
});

afterEach(async () => {
  await connector.stop();
  await cleanup();
});

/** The connector's own queue-events, in publish order. */
function connectorEvents(): QueueEvent[] {
  return bus
    .events(Topics.events)
    .map((e) => QueueEvent.parse(e.data))
    .filter((q) => q.producer === 'arango-connector');
}
const completions = (): QueueEvent[] => connectorEvents().filter((q) => q.status === 'completed');

const N = 5;
const SIZE = 20;
const batches = (attempt?: number) =>
  Array.from({ length: N }, (_, seq) =>
    klineBatch(seq, SIZE, { queue_id: QUEUE_ID, ...(attempt ? { attempt } : {}) }),
  );

describe('completion', () => {
  it('waits for the last batch when the loader reports its count first', async () => {
    expect((await deliver(connector.app, loaderFinal(N))).status).toBe(202);
    const order = shuffle([...batches(), ...batches().slice(0, 2)], 3);
    const lastNew = Math.max(...[0, 1, 2, 3, 4].map((seq) => order.findIndex((e) => e.data.seq === seq)));
    for (const [i, event] of order.entries()) {
      expect((await deliver(connector.app, event)).status).toBe(202);
      expect(completions()).toHaveLength(i >= lastNew ? 1 : 0);
    }
    expect(completions()[0]).toMatchObject({
      queue_id: QUEUE_ID,
      type: 'api_candles_1m',
      symbol: 'BTCUSDT',
      finished: true,
      records_written: N * SIZE,
      attempt: 1,
    });
    const doc = await store.getDoc<unknown>(PROGRESS_COLLECTION, `${QUEUE_ID}:1`);
    expect(ConnectorProgress.parse(doc?.doc)).toMatchObject({
      completion: 'published',
      stored: [{ from: 0, to: N }],
    });
  });

  it('completes on the loader event when every batch is already stored, exactly once', async () => {
    for (const event of shuffle(batches(), 11))
      expect((await deliver(connector.app, event)).status).toBe(202);
    expect(completions()).toHaveLength(0);
    expect((await deliver(connector.app, loaderFinal(N))).status).toBe(202);
    expect(completions()).toHaveLength(1);
    // Redelivered final event and batches after completion change nothing.
    expect((await deliver(connector.app, loaderFinal(N))).status).toBe(202);
    expect((await deliver(connector.app, batches()[2]!)).status).toBe(202);
    await connector.stop();
    expect(completions()).toHaveLength(1);
    expect(completions()[0]?.records_written).toBe(N * SIZE);
    // No `loading` event follows the completion.
    expect(connectorEvents().at(-1)?.status).toBe('completed');
  });

  it('does not complete while a batch in the middle is missing', async () => {
    expect((await deliver(connector.app, loaderFinal(N))).status).toBe(202);
    for (const event of batches().filter((e) => e.data.seq !== 2)) await deliver(connector.app, event);
    expect(completions()).toHaveLength(0);
    await deliver(connector.app, batches()[2]!);
    expect(completions()).toHaveLength(1);
  });

  it('keeps attempts apart: a retry completes on its own batches', async () => {
    for (const event of batches(1).slice(0, 3)) await deliver(connector.app, event);
    await deliver(connector.app, loaderFinal(N, 2));
    expect(completions()).toHaveLength(0);
    for (const event of batches(2)) await deliver(connector.app, event);
    expect(completions()).toEqual([expect.objectContaining({ attempt: 2, records_written: N * SIZE })]);
  });

  it('completes exactly once when two replicas share the store and race', async () => {
    const other = createConnector({ store, bus, logger, progressIntervalMs: 0 });
    const replicas = [connector, other];
    const deliveries = shuffle([...batches(), ...batches(), loaderFinal(N), loaderFinal(N)], 5);
    const answers = await Promise.all(deliveries.map((e, i) => deliver(replicas[i % 2]!.app, e)));
    expect(answers.map((r) => r.status)).toEqual(deliveries.map(() => 202));
    await other.stop();
    expect(completions()).toEqual([expect.objectContaining({ records_written: N * SIZE })]);
    const doc = await store.getDoc<unknown>(PROGRESS_COLLECTION, `${QUEUE_ID}:1`);
    expect(ConnectorProgress.parse(doc?.doc)).toMatchObject({
      completion: 'published',
      records_written: N * SIZE,
    });
  });

  it('a replica whose remembered progress is stale re-reads it: batches count once, no event after completion', async () => {
    const a = connector;
    const b = createConnector({ store, bus, logger, progressIntervalMs: 0 });
    const [b0, b1, b2, b3, b4] = batches();
    // Each replica writes on top of the progress it last wrote; the other one moved it on since.
    for (const [replica, event] of [
      [a, b0],
      [a, b1],
      [b, b2],
      [a, b3],
      [b, loaderFinal(N)],
      [b, b4],
    ] as const)
      expect((await deliver(replica.app, event!)).status).toBe(202);
    expect(completions()).toEqual([expect.objectContaining({ records_written: N * SIZE })]);
    // A redelivery to the replica that still remembers the workflow unfinished changes nothing
    // and reports nothing after the completion.
    expect((await deliver(a.app, b1!)).status).toBe(202);
    await b.stop();
    await a.stop();
    expect(completions()).toHaveLength(1);
    expect(connectorEvents().at(-1)?.status).toBe('completed');
    const doc = await store.getDoc<unknown>(PROGRESS_COLLECTION, `${QUEUE_ID}:1`);
    expect(ConnectorProgress.parse(doc?.doc)).toMatchObject({
      completion: 'published',
      records_written: N * SIZE,
      stored: [{ from: 0, to: N }],
    });
  });

  it('writes progress without reading it again for every batch', async () => {
    let progressReads = 0;
    const counting = new Proxy(store, {
      get(target, prop: keyof Store) {
        const fn = (target[prop] as (...a: unknown[]) => unknown).bind(target);
        if (prop !== 'getDoc') return fn;
        return (collection: string, key: string) => {
          if (collection === PROGRESS_COLLECTION) progressReads++;
          return fn(collection, key);
        };
      },
    });
    const c = createConnector({ store: counting, bus, logger, progressIntervalMs: 0 });
    for (const event of batches()) expect((await deliver(c.app, event)).status).toBe(202);
    await c.stop();
    expect(progressReads).toBe(1);
    const doc = await store.getDoc<unknown>(PROGRESS_COLLECTION, `${QUEUE_ID}:1`);
    expect(ConnectorProgress.parse(doc?.doc)).toMatchObject({ records_written: N * SIZE });
  });

  it('completes at once when the loader published nothing (all of it was already stored)', async () => {
    expect((await deliver(connector.app, loaderFinal(0))).status).toBe(202);
    expect(completions()).toEqual([expect.objectContaining({ records_written: 0 })]);
  });

  it('resends a completion a crash left claimed but unpublished', async () => {
    for (const event of batches()) await deliver(connector.app, event);
    bus.down = true;
    expect((await deliver(connector.app, loaderFinal(N))).status).toBe(503);
    bus.down = false;
    // A crash between claim and publish leaves the claim; a restarted connector finishes it.
    const key = `${QUEUE_ID}:1`;
    const doc = await store.getDoc<ConnectorProgress>(PROGRESS_COLLECTION, key);
    await store.putDoc(PROGRESS_COLLECTION, key, { ...doc!.doc, completion: 'claimed' }, doc!.rev);
    const restarted = createConnector({ store, bus, logger });
    await restarted.start();
    await restarted.stop();
    expect(completions()).toHaveLength(1);
  });

  it('ignores its own events and rejects a malformed queue event with 400', async () => {
    const own = loaderFinal(N);
    own.data = { ...own.data, producer: 'arango-connector' };
    expect((await deliver(connector.app, own)).status).toBe(202);
    expect(await store.getDoc(PROGRESS_COLLECTION, `${QUEUE_ID}:1`)).toBeNull();
    const bad = loaderFinal(N);
    bad.data = { ...bad.data, status: 'finished' as 'loading' };
    expect((await deliver(connector.app, bad)).status).toBe(400);
  });
});
