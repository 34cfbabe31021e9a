import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { toHttpBatch } from '../../shared/runtime/cloudevents.ts';
import { EventTypes, Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnector, type Connector } from '../../functions/arango-connector/app.ts';
import { DeadLetter } from '../../functions/arango-connector/schema.ts';
import {
  KLINES,
  QUEUE_ID,
  RecordingBus,
  deliver,
  kline,
  klineBatch,
  klineRow,
  logger,
  sampleValue,
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

async function allStored(): Promise<unknown[]> {
  const rows = await store.rangeQuery(KLINES, { series: 'spot:BTCUSDT:klines_1m', limit: 100_000 });
  return rows.map((r) => r.doc);
}

async function metric(name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const res = await connector.app.request('/metrics');
  return sampleValue(await res.text(), name, labels);
}

describe('write path', () => {
  it('stores every record exactly once when each batch is delivered twice in shuffled order', async () => {
    const batches = Array.from({ length: 6 }, (_, seq) => klineBatch(seq, 50, { queue_id: QUEUE_ID }));
    for (const event of shuffle([...batches, ...batches], 7)) {
      const res = await deliver(connector.app, event);
      expect(res.status).toBe(202);
    }
    const expected = Array.from({ length: 300 }, (_, i) => kline(i));
    expect(await store.count(KLINES)).toBe(300);
    expect(await allStored()).toEqual(expected);

    // records_written counts each batch once, not each delivery.
    await connector.stop();
    const progress = bus
      .events(Topics.events)
      .map((e) => QueueEvent.parse(e.data))
      .filter((q) => q.producer === 'arango-connector');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.at(-1)?.records_written).toBe(300);
    expect(Math.max(...progress.map((q) => q.records_written))).toBe(300);
  });

  it('changes nothing when an identical record is written again', async () => {
    const event = klineBatch(0, 20);
    expect((await deliver(connector.app, event)).status).toBe(202);
    const first = await connector.handler.handleDataEvent(event);
    expect(first).toMatchObject({ inserted: 0, updated: 0, unchanged: 20 });
    expect(await metric('streamforge_records_stored_total', { result: 'inserted' })).toBe(20);
    expect(await metric('streamforge_records_stored_total', { result: 'unchanged' })).toBe(20);

    // A corrected record (same natural key, other values) is an update, not a duplicate.
    const fixed = klineBatch(0, 20, {
      rows: Array.from({ length: 20 }, (_, i) => klineRow(i, i === 3 ? { close: '1.00000000' } : {})),
    });
    expect(await connector.handler.handleDataEvent(fixed)).toMatchObject({
      inserted: 0,
      updated: 1,
      unchanged: 19,
    });
    expect(await store.getRecord(KLINES, 'spot:BTCUSDT:1m:' + String(kline(3).open_time))).toEqual(
      kline(3, { close: '1.00000000' }),
    );
  });

  it('stores the rest of a batch and dead-letters poisoned rows with their zod issues and the original', async () => {
    const poisoned = klineRow(4);
    poisoned[1] = 42004.01; // a float where the exchange sends a decimal string
    const short = klineRow(6).slice(0, 11); // the `ignore` field missing
    const rows = Array.from({ length: 10 }, (_, i) => (i === 4 ? poisoned : i === 6 ? short : klineRow(i)));
    const res = await deliver(connector.app, klineBatch(0, 10, { queue_id: QUEUE_ID, rows }));
    expect(res.status).toBe(202);

    expect(await store.count(KLINES)).toBe(8);
    expect(await store.getRecord(KLINES, `spot:BTCUSDT:1m:${kline(4).open_time}`)).toBeNull();
    expect(await store.getRecord(KLINES, `spot:BTCUSDT:1m:${kline(6).open_time}`)).toBeNull();
    expect(await store.getRecord(KLINES, `spot:BTCUSDT:1m:${kline(5).open_time}`)).toEqual(kline(5));

    const dead = bus.events(Topics.deadLetter);
    expect(dead.map((e) => e.type)).toEqual([EventTypes.deadLetter, EventTypes.deadLetter]);
    const [bad, cut] = dead.map((e) => DeadLetter.parse(e.data));
    expect(bad).toMatchObject({
      reason: 'invalid_record',
      index: 4,
      record: poisoned, // the row exactly as it arrived
      batch: { seq: 0, queue_id: QUEUE_ID, kind: 'kline', symbol: 'BTCUSDT', dataset: 'klines_1m' },
    });
    // zod's issue names the column: index 1 of the row is `open`.
    expect(bad?.issues).toEqual([expect.objectContaining({ code: 'invalid_type', path: [1] })]);
    expect(cut).toMatchObject({ reason: 'invalid_record', index: 6, record: short });
    expect(cut?.issues).toEqual([expect.objectContaining({ code: 'too_small', path: [] })]);

    expect(await metric('streamforge_dead_letters_total', { reason: 'invalid_record' })).toBe(2);
    const notes = bus.events(Topics.events).map((e) => QueueEvent.parse(e.data).message);
    expect(notes).toContain('2 records dead-lettered (batch 0)');

    // The same batch again is a redelivery: stored state unchanged, no second dead letters.
    expect((await deliver(connector.app, klineBatch(0, 10, { queue_id: QUEUE_ID, rows }))).status).toBe(202);
    expect(await store.count(KLINES)).toBe(8);
    expect(bus.events(Topics.deadLetter)).toHaveLength(2);
  });

  it('answers 400 for an event that can never succeed, stores nothing, and fails its workflow', async () => {
    const good = klineBatch(0, 5, { queue_id: QUEUE_ID });
    const cases = [
      { ...good, type: 'io.streamforge.data.candles' },
      { ...good, type: 'com.example.unrelated' },
      { ...good, type: EventTypes.data('trade') }, // payload says kline
      { ...good, data: { ...good.data, symbol: undefined } },
      { ...good, data: { ...good.data, rows: 'not a list' } },
      // A producer still sending records: no rows at all.
      { ...good, data: { ...good.data, rows: undefined, records: [kline(0)] } },
      { ...good, data: { ...good.data, collection: 'bad name!' } },
      { ...good, data: { ...good.data, collection: 'workflows' } }, // a documents collection
      { ...good, data: { ...good.data, dataset: 'trades' } },
    ];
    for (const event of cases) {
      const res = await deliver(connector.app, event);
      expect(res.status, JSON.stringify(event.type)).toBe(400);
      const body = (await res.json()) as { error: string; issues?: unknown[] };
      expect(body.error).toMatch(/unknown event type|invalid data batch/);
      expect(body.issues?.length).toBeGreaterThan(0);
    }
    expect(await store.count(KLINES)).toBe(0);
    // Each rejected data batch whose workflow can be told (all but the unknown types and the one
    // without a symbol) ends that workflow in error with the reason, instead of a silent stall.
    const errors = bus.events(Topics.events).map((e) => QueueEvent.parse(e.data));
    expect(errors).toHaveLength(6);
    for (const e of errors)
      expect(e).toMatchObject({
        queue_id: QUEUE_ID,
        producer: 'arango-connector',
        status: 'error',
        finished: true,
        error: { code: 'BATCH_REJECTED', source: 'arango-connector' },
      });
    expect(errors.map((e) => e.error?.message).join('\n')).toMatch(/collection: not a safe collection name/);
    expect(bus.events(Topics.deadLetter)).toHaveLength(0);
  });

  it('accepts a batch without a workflow (live data) and a batch whose records are all invalid', async () => {
    expect((await deliver(connector.app, klineBatch(0, 3))).status).toBe(202);
    const junk = klineBatch(1, 2, { rows: [{}, null] });
    expect((await deliver(connector.app, junk)).status).toBe(202);
    expect(await store.count(KLINES)).toBe(3);
    expect(bus.events(Topics.deadLetter)).toHaveLength(2);
  });
});

describe('a batched request is all or nothing', () => {
  it('one invalid element: 400 naming its index, nothing stored; the same batch made valid stores both', async () => {
    const good = klineBatch(0, 3);
    const bad = klineBatch(1, 3);
    (bad.data as unknown as Record<string, unknown>)['collection'] = '../escape';
    const send = (events: (typeof good)[]) => {
      const msg = toHttpBatch(events);
      return connector.app.request('/', { method: 'POST', headers: msg.headers, body: msg.body });
    };
    const res = await send([good, bad]);
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: string; issues: { path: unknown[] }[] };
    expect(body.error).toBe('invalid CloudEvents batch: 1 of 2 events rejected, none handled');
    expect(body.issues.every((i) => i.path[0] === 1)).toBe(true);
    expect(await store.count(KLINES)).toBe(0);

    expect((await send([good, klineBatch(1, 3)])).status).toBe(202);
    expect(await store.count(KLINES)).toBe(6);
  });
});
