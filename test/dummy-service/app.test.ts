import { afterEach, describe, expect, it } from 'vitest';
import type { EventBus, IncomingMessage } from '../../shared/bus/event-bus.ts';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import { makeEvent, toHttpBinary, toHttpStructured } from '../../shared/runtime/cloudevents.ts';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createDummyApp } from '../../functions/dummy-service/app.ts';
import { LOAD_TYPE } from '../../functions/dummy-service/handler.ts';
import type { CheckResult, EventTallySnapshot, LoadResult } from '../../functions/dummy-service/schema.ts';
import { sampleValue } from '../runtime/prom-text.ts';

const logger = createLogger('test', 'silent');
const buses: EventBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

function setup(bus: EventBus = createMemoryBus({ partitions: 2 }), checkTimeoutMs = 2000) {
  buses.push(bus);
  return { bus, ...createDummyApp({ bus, logger, checkTopic: 'check-test', checkTimeoutMs }) };
}

/** Everything on `topic`, read by a fresh group until `count` messages arrived. */
async function drain(bus: EventBus, topic: string, count: number): Promise<IncomingMessage[]> {
  const got: IncomingMessage[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => (done = r));
  if (count === 0) done();
  const sub = await bus.subscribe({
    groupId: `reader-${Math.random()}`,
    topics: [topic],
    from: 'earliest',
    handler: (m) => {
      got.push(m);
      if (got.length === count) done();
      return Promise.resolve();
    },
  });
  await all;
  await sub.close();
  return got;
}

const postJson = (app: ReturnType<typeof setup>['app'], path: string, body: unknown) =>
  app.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });

describe('GET /check', () => {
  it('200 with latency when the probe comes back', async () => {
    const { app } = setup();
    const res = await app.request('/check');
    expect(res.status).toBe(200);
    const body = (await res.json()) as CheckResult;
    expect(body).toMatchObject({ ok: true, topic: 'check-test' });
    expect(body.latency_ms).toBeGreaterThanOrEqual(0);
    expect(body.ping_ms).toBeGreaterThanOrEqual(0);
  });

  it('503 naming the stage when the bus is down', async () => {
    const bus = createMemoryBus();
    const broken: EventBus = {
      ...bus,
      ping: () => Promise.reject(new DependencyError('broker unreachable')),
    };
    const { app } = setup(broken);
    buses.push(bus);
    const res = await app.request('/check');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({
      ok: false,
      topic: 'check-test',
      stage: 'ping',
      error: 'broker unreachable',
    });
    expect((await app.request('/readyz')).status).toBe(503);
  });

  it('503 at the consume stage when published events never come back', async () => {
    const bus = createMemoryBus();
    // A bus that accepts the probe but loses it: the round trip is what catches this.
    const lossy: EventBus = { ...bus, publish: () => Promise.resolve() };
    const { app } = setup(lossy, 100);
    buses.push(bus);
    const res = await app.request('/check');
    expect(res.status).toBe(503);
    expect(await res.json()).toMatchObject({
      ok: false,
      stage: 'consume',
      error: expect.stringMatching(/not consumed/) as string,
    });
  });
});

describe('POST /load', () => {
  it('publishes on schedule and reports what it sent', async () => {
    const { app, bus, registry } = setup();
    const res = await postJson(app, '/load', {
      topic: 'load-test',
      rate: 400,
      duration_s: 0.25,
      record_size: 300,
      key: 'BTCUSDT',
    });
    expect(res.status).toBe(200);
    const result = (await res.json()) as LoadResult;
    expect(result.errors).toBe(0);
    expect(result.sent).toBeGreaterThan(0);
    // Paced: never ahead of rate × duration.
    expect(result.sent).toBeLessThanOrEqual(100);
    expect(result.achieved_rate).toBeCloseTo(result.sent / (result.duration_ms / 1000), 1);

    const msgs = await drain(bus, 'load-test', result.sent);
    expect(msgs).toHaveLength(result.sent);
    expect(new Set(msgs.map((m) => m.event.id)).size).toBe(result.sent);
    for (const m of msgs) {
      expect(m.key).toBe('BTCUSDT');
      expect(m.event.type).toBe(LOAD_TYPE);
      expect(JSON.stringify(m.event.data)).toHaveLength(300);
    }
    // One key → one partition → publish order.
    expect(msgs.map((m) => (m.event.data as { seq: number }).seq)).toEqual([...Array(result.sent).keys()]);
    expect(sampleValue(await registry.metrics(), 'dummy_load_events_total', { result: 'sent' })).toBe(
      result.sent,
    );
  });

  it('counts failed publishes as errors instead of failing the run', async () => {
    const bus = createMemoryBus();
    const failing: EventBus = { ...bus, publish: () => Promise.reject(new Error('not enough replicas')) };
    const { app } = setup(failing);
    buses.push(bus);
    const res = await postJson(app, '/load', { topic: 'load-test', rate: 200, duration_s: 0.1 });
    const result = (await res.json()) as LoadResult;
    expect(result.sent).toBe(0);
    expect(result.errors).toBeGreaterThan(0);
    expect(result.first_error).toBe('not enough replicas');
  });

  it('one run at a time: a second concurrent run gets 429', async () => {
    const { app } = setup();
    const first = postJson(app, '/load', { topic: 'load-test', rate: 100, duration_s: 0.5 });
    await new Promise((r) => setTimeout(r, 50));
    const second = await postJson(app, '/load', { topic: 'load-test', rate: 100, duration_s: 0.1 });
    expect(second.status).toBe(429);
    expect((await first).status).toBe(200);
  });

  const invalid: [string, unknown, PropertyKey[][]][] = [
    ['a rate over the limit', { topic: 't', rate: 50_001, duration_s: 1 }, [['rate']]],
    ['a duration over a minute', { topic: 't', rate: 10, duration_s: 61 }, [['duration_s']]],
    [
      'a negative record size and a bad topic',
      { topic: 'no spaces', rate: 10, duration_s: 1, record_size: -5 },
      [['topic'], ['record_size']],
    ],
    ['missing fields', { topic: 't' }, [['rate'], ['duration_s']]],
    ['an unknown field (typo)', { topic: 't', rate: 10, duration: 1 }, [['duration_s'], []]],
  ];
  it('400 when a run would exceed the budget (events, then bytes)', async () => {
    const { app } = setup();
    const res = await postJson(app, '/load', { topic: 't', rate: 50_000, duration_s: 60, record_size: 1024 });
    expect(res.status).toBe(400);
    const b = (await res.json()) as { error: string; issues: { path: string[]; message: string }[] };
    expect(b.error).toBe('load run over budget');
    expect(b.issues.map((i) => i.path)).toEqual([['rate'], ['record_size']]);
    expect(b.issues[0]?.message).toMatch(/3000000 events; at most 1000000/);
  });

  for (const [name, body, paths] of invalid) {
    it(`400 with zod issues for ${name}`, async () => {
      const { app } = setup();
      const res = await postJson(app, '/load', body);
      expect(res.status).toBe(400);
      const b = (await res.json()) as { error: string; issues: { path: PropertyKey[] }[] };
      expect(b.issues.map((i) => i.path)).toEqual(paths);
    });
  }
});

describe('POST / (CloudEvents) and GET /events', () => {
  it('accepts any CloudEvent, counts it and shows the latest first', async () => {
    const { app, registry } = setup();
    const a = makeEvent({
      type: 'io.streamforge.data.kline',
      source: '/x',
      data: { queue_id: 'wf-btcusdt-api_candles_1m-20240801-a1b2c3' },
    });
    const b = makeEvent({ type: 'dev.knative.kafka.event', source: '/y', data: 'raw' });
    for (const msg of [toHttpBinary(a), toHttpStructured(b), toHttpBinary(a)]) {
      const res = await app.request('/', { method: 'POST', headers: msg.headers, body: msg.body });
      expect(res.status).toBe(202);
    }
    const tally = (await (await app.request('/events')).json()) as EventTallySnapshot;
    expect(tally.received).toBe(3);
    expect(tally.by_type).toEqual({ 'io.streamforge.data.kline': 2, 'dev.knative.kafka.event': 1 });
    expect(tally.recent[0]).toMatchObject({
      id: a.id,
      queue_id: 'wf-btcusdt-api_candles_1m-20240801-a1b2c3',
    });
    expect(tally.recent[1]).toMatchObject({ id: b.id, source: '/y' });
    expect(
      sampleValue(await registry.metrics(), 'streamforge_cloudevents_received_total', {
        type: 'io.streamforge.data.kline',
      }),
    ).toBe(2);
  });

  it('as the dead-letter sink: keeps a letter on the dead-letter topic and fails the workflow of an undelivered batch', async () => {
    const { app, bus } = setup();
    const queue_id = 'wf-btcusdt-api_candles_1m-20240801-a1b2c3';
    const batch = makeEvent({
      type: 'io.streamforge.data.kline',
      source: '/streamforge/loader-api',
      subject: 'spot:BTCUSDT:klines_1m',
      data: { queue_id, attempt: 2, symbol: 'BTCUSDT', seq: 7, rows: [] },
      extensions: { queueid: queue_id },
    });
    // What a KafkaSource (or the local runner) sends after its last retry (knative.md §3).
    const letter = {
      ...batch,
      extensions: {
        ...batch.extensions,
        knativeerrordest: 'http://arango-connector.streamforge.svc.cluster.local',
        knativeerrorcode: '503',
        knativeerrordata: Buffer.from('{"error":"store unavailable"}').toString('base64'),
        knativekafkapartition: '2',
        knativekafkaoffset: '41',
      },
    };
    // A record the connector dead-lettered itself carries no knativeerror*: only counted.
    const row = makeEvent({ type: 'io.streamforge.deadletter', source: '/x', data: { queue_id } });
    for (const msg of [toHttpBinary(letter), toHttpBinary(row)]) {
      const res = await app.request('/', { method: 'POST', headers: msg.headers, body: msg.body });
      expect(res.status).toBe(202);
    }
    const [kept] = await drain(bus, 'streamforge-dead-letter', 1);
    expect(kept?.event).toMatchObject({ id: batch.id, extensions: { knativeerrorcode: '503' } });
    expect(kept?.event.extensions).not.toHaveProperty('knativekafkapartition');
    const [failed] = await drain(bus, 'queue-events', 1);
    expect(failed?.event.data).toMatchObject({
      queue_id,
      attempt: 2,
      type: 'api_candles_1m',
      status: 'error',
      finished: true,
      error: { code: 'DELIVERY_FAILED', source: 'dead-letter-sink' },
    });
    expect((failed?.event.data as { message: string }).message).toMatch(
      /batch 7 could not be delivered .*HTTP 503.*store unavailable/,
    );
  });

  it('a request that is not a CloudEvent is a 400 and not counted', async () => {
    const { app } = setup();
    const res = await postJson(app, '/', { hello: 'world' });
    expect(res.status).toBe(400);
    const tally = (await (await app.request('/events')).json()) as EventTallySnapshot;
    expect(tally.received).toBe(0);
  });

  it('serves its OpenAPI document', async () => {
    const { app } = setup();
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths).sort()).toEqual(['/check', '/events', '/load']);
  });
});
