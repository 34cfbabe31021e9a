import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import {
  KLINES,
  QUEUE_ID,
  RecordingBus,
  deliver,
  flakyStore,
  kline,
  klineBatch,
  klineRow,
  logger,
  tempSqlite,
} from './helpers.ts';

let sqlite: Store;
let file: string;
let cleanup: () => Promise<void>;
let bus: RecordingBus;
let flaky: ReturnType<typeof flakyStore>;
let connector: Connector;

beforeEach(() => {
  ({ store: sqlite, file, cleanup } = tempSqlite());
  bus = new RecordingBus();
  flaky = flakyStore(sqlite);
  connector = createConnector({ store: flaky.store, bus, logger, progressIntervalMs: 0 });
});

afterEach(async () => {
  await connector.stop();
  await flaky.state.inner.close();
  await cleanup();
});

const records = (): Promise<unknown[]> =>
  sqlite
    .rangeQuery(KLINES, { series: 'spot:BTCUSDT:klines_1m', limit: 10_000 })
    .then((rows) => rows.map((r) => r.doc));

describe('store outage', () => {
  it('answers 503 while the store is down and stores the batch on the retry', async () => {
    expect((await deliver(connector.app, klineBatch(0, 10, { queue_id: QUEUE_ID }))).status).toBe(202);
    flaky.state.down = true;
    const event = klineBatch(1, 10, { queue_id: QUEUE_ID });
    for (let i = 0; i < 3; i++) {
      const res = await deliver(connector.app, event);
      expect(res.status).toBe(503);
      expect(((await res.json()) as { error: string }).error).toMatch(/store/);
    }
    expect(await sqlite.count(KLINES)).toBe(10);
    flaky.state.down = false;
    expect((await deliver(connector.app, event)).status).toBe(202);
    expect(await records()).toEqual(Array.from({ length: 20 }, (_, i) => kline(i)));
  });

  it('converges when the store fails after the records and before the ledger and progress', async () => {
    const event = klineBatch(0, 25, { queue_id: QUEUE_ID });
    flaky.state.failing.add('mergeRanges');
    expect((await deliver(connector.app, event)).status).toBe(503);
    // The batch is one transaction: all of it or nothing, never a half.
    expect([0, 25]).toContain(await sqlite.count(KLINES));
    flaky.state.failing.clear();
    expect((await deliver(connector.app, event)).status).toBe(202);
    expect(await records()).toEqual(Array.from({ length: 25 }, (_, i) => kline(i)));
    await connector.stop();
    const written = bus
      .events(Topics.events)
      .map((e) => QueueEvent.parse(e.data).records_written)
      .at(-1);
    expect(written).toBe(25); // counted once despite two deliveries
  });

  it('answers 503 when the SQLite database is closed, and recovers on a reopened one', async () => {
    await sqlite.close();
    const event = klineBatch(0, 10);
    expect((await deliver(connector.app, event)).status).toBe(503);
    flaky.state.inner = createSqliteStore({ path: file });
    sqlite = flaky.state.inner;
    expect((await deliver(connector.app, event)).status).toBe(202);
    expect(await sqlite.count(KLINES)).toBe(10);
  });

  it('answers 503 when the dead-letter topic is unreachable, and dead-letters on the retry', async () => {
    const event = klineBatch(0, 5, { rows: [klineRow(0), klineRow(1).slice(0, 11), klineRow(2)] });
    bus.down = true;
    expect((await deliver(connector.app, event)).status).toBe(503);
    bus.down = false;
    expect((await deliver(connector.app, event)).status).toBe(202);
    expect(await sqlite.count(KLINES)).toBe(2);
    expect(bus.events(Topics.deadLetter)).toHaveLength(1);
  });

  it('answers 429 when too many batches are in flight', async () => {
    await connector.stop();
    let release!: () => void;
    let reached!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const atGate = new Promise<void>((r) => (reached = r));
    const slow: Store = new Proxy(sqlite, {
      get(target, prop: keyof Store) {
        const fn = (target[prop] as (...a: unknown[]) => Promise<unknown>).bind(target);
        return prop === 'upsertRows'
          ? async (...a: unknown[]) => {
              reached();
              await gate;
              return fn(...a);
            }
          : fn;
      },
    });
    connector = createConnector({ store: slow, bus, logger, maxInFlight: 1 });
    const first = deliver(connector.app, klineBatch(0, 5));
    await atGate;
    expect((await deliver(connector.app, klineBatch(1, 5))).status).toBe(429);
    release();
    expect((await first).status).toBe(202);
    expect((await deliver(connector.app, klineBatch(1, 5))).status).toBe(202);
    expect(await sqlite.count(KLINES)).toBe(10);
  });
});
