/**
 * The local runner delivers like a KafkaSource (knative.md §3) to real HTTP servers on loopback,
 * over the in-process bus; kafka.test.ts repeats the core over the real broker.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { BusEvent, EventBus } from '../../shared/bus/event-bus.ts';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import { makeEvent, parseHttpEvents } from '../../shared/runtime/cloudevents.ts';
import { KafkaSource } from '../../shared/topology/schema.ts';
import {
  createLocalRunner,
  resolveDestination,
  type LocalRunner,
  type LocalRunnerOptions,
} from '../../functions/local-runner/runner.ts';
import { startSink, until, type Answer, type TestSink } from './sink.ts';

const logger = pino({ level: 'silent' });
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function source(
  delivery: Record<string, unknown> | undefined,
  extra: Record<string, unknown> = {},
): KafkaSource {
  return KafkaSource.parse({
    apiVersion: 'sources.knative.dev/v1',
    kind: 'KafkaSource',
    metadata: { name: 'fn', namespace: 'streamforge' },
    spec: {
      bootstrapServers: ['unused:9092'],
      topics: ['t'],
      consumerGroup: 'fn',
      initialOffset: 'earliest',
      ordering: 'ordered',
      ...(delivery === undefined ? {} : { delivery }),
      sink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'fn' } },
      ...extra,
    },
  });
}

const dls = { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'dls' } };

async function sink(answer?: (n: number) => Answer): Promise<TestSink> {
  const s = await startSink(answer === undefined ? undefined : (_r, n) => answer(n));
  cleanups.push(() => s.close());
  return s;
}

function memoryBus(): EventBus {
  const bus = createMemoryBus({ partitions: 3, retryBackoffMs: 10 });
  cleanups.push(() => bus.close());
  return bus;
}

async function run(
  bus: EventBus,
  src: KafkaSource,
  services: Record<string, string>,
  extra: Partial<LocalRunnerOptions> = {},
): Promise<LocalRunner> {
  const runner = createLocalRunner({
    bus,
    sources: [src],
    resolveService: (n) => services[n],
    logger,
    ...extra,
  });
  await runner.start();
  cleanups.push(() => runner.stop());
  return runner;
}

function event(i: number, key = 'BTCUSDT'): BusEvent {
  return makeEvent({
    type: 'io.streamforge.test',
    source: '/streamforge/test',
    subject: key,
    data: { i, key },
    extensions: { queueid: `wf-${i}` },
  });
}

async function publish(bus: EventBus, events: BusEvent[], key = 'BTCUSDT'): Promise<void> {
  await bus.publish(
    't',
    events.map((e) => ({ key: e.subject ?? key, event: e })),
  );
}

describe('retries', () => {
  it('retries 503, 429, 404, 408 and 409 with the declared linear backoff, then succeeds', async () => {
    const statuses = [503, 429, 404, 408, 409, 202];
    const fn = await sink((n) => ({ status: statuses[n] ?? 202 }));
    const bus = memoryBus();
    const waits: number[] = [];
    const runner = await run(
      bus,
      source({ retry: 5, backoffPolicy: 'linear', backoffDelay: 'PT0.02S' }),
      { fn: fn.url },
      {
        onRetry: (r) => waits.push(r.waitMs),
      },
    );
    const e = event(1);
    await publish(bus, [e]);
    await until(() => runner.stats().delivered === 1, 5000, 'delivery');
    expect(fn.received).toHaveLength(6);
    expect(fn.received.every((r) => r.headers['ce-id'] === e.id)).toBe(true);
    expect(waits).toEqual([20, 40, 60, 80, 100]);
    // The schedule is really waited out: each gap is at least its declared wait.
    fn.received
      .slice(1)
      .forEach((r, i) => expect(r.at - fn.received[i]!.at).toBeGreaterThanOrEqual(waits[i]! - 2));
    expect(runner.stats()).toMatchObject({ delivered: 1, retries: 5, deadLettered: 0, dropped: 0 });
  });

  it('waits delay×2ⁿ with the exponential policy and not at all without a backoffDelay', async () => {
    const fn = await sink((n) => ({ status: n < 3 ? 500 : 200 }));
    const bus = memoryBus();
    const waits: number[] = [];
    await run(
      bus,
      source({ retry: 3, backoffPolicy: 'exponential', backoffDelay: 'PT0.01S' }),
      { fn: fn.url },
      {
        onRetry: (r) => waits.push(r.waitMs),
      },
    );
    await publish(bus, [event(1)]);
    await until(() => fn.received.length === 4);
    expect(waits).toEqual([20, 40, 80]);

    const fn2 = await sink((n) => ({ status: n < 2 ? 502 : 200 }));
    const bus2 = memoryBus();
    const waits2: number[] = [];
    await run(bus2, source({ retry: 2 }), { fn: fn2.url }, { onRetry: (r) => waits2.push(r.waitMs) });
    await publish(bus2, [event(2)]);
    await until(() => fn2.received.length === 3);
    expect(waits2).toEqual([0, 0]);
  });

  it('sends a final failure after the retries to the dead-letter sink', async () => {
    const fn = await sink(() => ({ status: 500, body: 'store down' }));
    const dl = await sink();
    const bus = memoryBus();
    const runner = await run(bus, source({ retry: 2, deadLetterSink: dls }), { fn: fn.url, dls: dl.url });
    const e = event(1);
    await publish(bus, [e]);
    await until(() => dl.received.length === 1, 5000, 'dead letter');
    expect(fn.received).toHaveLength(3);
    const h = dl.received[0]!.headers;
    expect(h['ce-id']).toBe(e.id);
    expect(h['ce-knativeerrorcode']).toBe('500');
    expect(h['ce-knativeerrordest']).toBe(fn.url);
    expect(Buffer.from(String(h['ce-knativeerrordata']), 'base64').toString()).toBe('store down');
    expect(JSON.parse(dl.received[0]!.body)).toEqual(e.data);
    await until(() => runner.stats().deadLettered === 1);
  });
});

describe('non-retryable answers and network errors', () => {
  it('sends a 400 to the dead-letter sink at once, with the knativeerror* extensions', async () => {
    const big = JSON.stringify({ error: 'invalid batch', pad: 'x'.repeat(3000) });
    const fn = await sink(() => ({
      status: 400,
      body: big,
      headers: {
        'kne-reason': 'schema',
        'kne-not-valid': 'dropped: not an extension name',
        'content-type': 'application/json',
      },
    }));
    const dl = await sink();
    const bus = memoryBus();
    await run(bus, source({ retry: 5, backoffDelay: 'PT1S', deadLetterSink: dls }), {
      fn: fn.url,
      dls: dl.url,
    });
    const e = event(7);
    await publish(bus, [e]);
    await until(() => dl.received.length === 1, 3000, 'dead letter');
    expect(fn.received).toHaveLength(1);
    const [letter] = parseHttpEvents(
      new Headers(dl.received[0]!.headers as Record<string, string>),
      dl.received[0]!.body,
    );
    expect(letter).toMatchObject({
      id: e.id,
      type: e.type,
      source: e.source,
      subject: e.subject,
      data: e.data,
    });
    expect(letter!.extensions).toMatchObject({
      queueid: e.extensions?.['queueid'],
      knativeerrordest: fn.url,
      knativeerrorcode: '400',
      reason: 'schema',
    });
    expect(Object.keys(letter!.extensions ?? {}).some((k) => k.includes('valid'))).toBe(false);
    // Up to 1 KiB of the body, base64.
    const data = Buffer.from(letter!.extensions!['knativeerrordata']!, 'base64');
    expect(data).toHaveLength(1024);
    expect(data.toString()).toBe(big.slice(0, 1024));
  });

  it('dead-letters a 400 from an in-process sink to the HTTP dead-letter sink, not back to the sink', async () => {
    // Found by test/faults: the dead letter went to the in-process sink a second time, was refused
    // with the same 400, and the event was dropped.
    const seen: BusEvent[] = [];
    const direct = (e: BusEvent): Promise<{ status: number; body?: unknown }> => {
      seen.push(e);
      return Promise.resolve({ status: 400, body: { error: 'invalid data batch' } });
    };
    const dl = await sink();
    const bus = memoryBus();
    const runner = await run(
      bus,
      source({ retry: 2, deadLetterSink: dls }),
      { dls: dl.url },
      { direct: (name) => (name === 'fn' ? direct : undefined) },
    );
    const e = event(8);
    await publish(bus, [e]);
    await until(() => runner.stats().deadLettered + runner.stats().dropped === 1, 3000, 'dead letter');
    expect(runner.stats()).toMatchObject({ deadLettered: 1, dropped: 0 });
    expect(seen).toHaveLength(1);
    const [letter] = parseHttpEvents(
      new Headers(dl.received[0]!.headers as Record<string, string>),
      dl.received[0]!.body,
    );
    expect(letter).toMatchObject({ id: e.id, data: e.data });
    expect(letter!.extensions).toMatchObject({ knativeerrorcode: '400', knativeerrordest: 'inproc://fn' });
  });

  it('treats a redirect as a final failure rather than following it', async () => {
    const fn = await sink(() => ({ status: 307, headers: { location: 'http://127.0.0.1:9/' } }));
    const dl = await sink();
    const bus = memoryBus();
    await run(bus, source({ retry: 3, deadLetterSink: dls }), { fn: fn.url, dls: dl.url });
    await publish(bus, [event(1)]);
    await until(() => dl.received.length === 1);
    expect(fn.received).toHaveLength(1);
    expect(dl.received[0]!.headers['ce-knativeerrorcode']).toBe('307');
  });

  it('retries network errors, then dead-letters with the destination only', async () => {
    const gone = await sink();
    const deadUrl = gone.url;
    await gone.close();
    const dl = await sink();
    const bus = memoryBus();
    const retries: (number | null)[] = [];
    await run(
      bus,
      source({ retry: 2, deadLetterSink: dls }),
      { fn: deadUrl, dls: dl.url },
      {
        onRetry: (r) => retries.push(r.status),
      },
    );
    await publish(bus, [event(1)]);
    await until(() => dl.received.length === 1);
    expect(retries).toEqual([null, null]);
    const h = dl.received[0]!.headers;
    expect(h['ce-knativeerrordest']).toBe(deadUrl);
    expect(h['ce-knativeerrorcode']).toBeUndefined();
    expect(h['ce-knativeerrordata']).toBeUndefined();
  });

  it('drops the record without a dead-letter sink and moves on to the next one', async () => {
    const fn = await sink((n) => ({ status: n === 0 ? 422 : 202 }));
    const bus = memoryBus();
    const runner = await run(bus, source({ retry: 3 }), { fn: fn.url });
    const [a, b] = [event(1), event(2)];
    await publish(bus, [a, b]);
    await until(() => runner.stats().delivered === 1);
    expect(runner.stats()).toMatchObject({ dropped: 1, delivered: 1 });
    expect(fn.received.map((r) => r.headers['ce-id'])).toEqual([a.id, b.id]);
  });

  it('publishes dead letters to the dead-letter topic on a local run', async () => {
    const fn = await sink(() => ({ status: 400, body: 'nope' }));
    const bus = memoryBus();
    const letters: BusEvent[] = [];
    const sub = await bus.subscribe({
      groupId: 'dl-reader',
      topics: ['dead'],
      handler: (m) => Promise.resolve(void letters.push(m.event)),
    });
    cleanups.push(() => sub.close());
    await run(bus, source({ retry: 1, deadLetterSink: dls }), { fn: fn.url }, { deadLetterTopic: 'dead' });
    const e = event(3);
    await publish(bus, [e]);
    await until(() => letters.length === 1);
    expect(letters[0]).toMatchObject({ id: e.id, data: e.data });
    expect(letters[0]!.extensions).toMatchObject({
      knativeerrorcode: '400',
      knativeerrordata: Buffer.from('nope').toString('base64'),
    });
  });
});

describe('forwarding', () => {
  it('forwards the record as the same CloudEvent, in binary mode with Prefer and Kn-Namespace', async () => {
    const fn = await sink();
    const bus = memoryBus();
    await run(bus, source({ retry: 1 }, { ceOverrides: { extensions: { cluster: 'local' } } }), {
      fn: fn.url,
    });
    const e: BusEvent = {
      ...event(5),
      time: '2024-08-01T00:00:00.123456Z',
      extensions: { queueid: 'wf-x', attempt: '2' },
    };
    await publish(bus, [e]);
    await until(() => fn.received.length === 1);
    const r = fn.received[0]!;
    expect(r.headers['prefer']).toBe('reply');
    expect(r.headers['kn-namespace']).toBe('streamforge');
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['ce-specversion']).toBe('1.0');
    const [got] = parseHttpEvents(new Headers(r.headers as Record<string, string>), r.body);
    const { knativekafkapartition, knativekafkaoffset, cluster, ...own } = got!.extensions ?? {};
    // Every attribute of the published event, id and time included, unchanged…
    expect({ ...got, extensions: own }).toEqual(e);
    // …plus what the dispatcher adds: the Kafka position and the ceOverrides.
    expect(Number(knativekafkapartition)).toBeGreaterThanOrEqual(0);
    expect(knativekafkaoffset).toBe('0');
    expect(cluster).toBe('local');
  });
});

describe('ordering', () => {
  it('ordered: one event in flight per partition, each key in publish order, despite a slow and flaky sink', async () => {
    const fn = await sink((n) => ({ status: n % 7 === 3 ? 503 : 202, delayMs: n % 3 === 0 ? 15 : 0 }));
    const bus = memoryBus();
    const runner = await run(bus, source({ retry: 3, backoffDelay: 'PT0.005S' }), { fn: fn.url });
    const keys = ['BTCUSDT', 'ETHUSDT', 'SOLUSDT', 'BNBUSDT'];
    const events = Array.from({ length: 40 }, (_, i) => event(i, keys[i % keys.length]));
    await publish(bus, events);
    await until(() => runner.stats().delivered === events.length, 10_000, 'all deliveries');
    // Partition = key here; a 503 makes the same event arrive again, so compare first arrivals.
    for (const key of keys) {
      const arrived = fn.received
        .filter((r) => r.headers['ce-subject'] === key)
        .map((r) => (JSON.parse(r.body) as { i: number }).i);
      const firsts = arrived.filter((i, idx) => arrived.indexOf(i) === idx);
      expect(firsts).toEqual(events.filter((e) => e.subject === key).map((e) => (e.data as { i: number }).i));
    }
    expect(fn.maxConcurrentPerSubject()).toBe(1);
  });

  it('unordered: events of one partition go out concurrently', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((ok) => (release = ok));
    const fn = await startSink(async (_r, n) => {
      if (n === 2) release();
      await Promise.race([gate, new Promise((ok) => setTimeout(ok, 3000))]);
      return { status: 202 };
    });
    cleanups.push(() => fn.close());
    const bus = memoryBus();
    const runner = await run(bus, source({ retry: 0 }, { ordering: 'unordered' }), { fn: fn.url });
    await publish(bus, [event(1), event(2), event(3)]);
    await until(() => runner.stats().delivered === 3, 5000);
    expect(fn.maxConcurrentPerSubject()).toBe(3);
  });
});

describe('stopping', () => {
  it('leaves a record in backoff uncommitted, so the next run delivers it', async () => {
    const failing = await sink(() => ({ status: 503 }));
    const bus = memoryBus();
    const src = source({ retry: 10, backoffDelay: 'PT10S' });
    const first = createLocalRunner({ bus, sources: [src], resolveService: () => failing.url, logger });
    await first.start();
    const e = event(9);
    await publish(bus, [e]);
    await until(() => failing.received.length === 1);
    await first.stop(); // returns although the next retry is 20 s away

    const ok = await sink();
    const second = await run(bus, src, { fn: ok.url });
    await until(() => second.stats().delivered === 1);
    expect(ok.received[0]!.headers['ce-id']).toBe(e.id);
  });
});

describe('destinations', () => {
  it('resolves a ref, a ref plus a relative uri, and an absolute uri', () => {
    const services = (n: string) => (n === 'a' ? 'http://127.0.0.1:1234' : undefined);
    expect(resolveDestination({ ref: { kind: 'Service', name: 'a' } }, services)).toBe(
      'http://127.0.0.1:1234',
    );
    expect(resolveDestination({ ref: { kind: 'Service', name: 'a' }, uri: '/dead-letter' }, services)).toBe(
      'http://127.0.0.1:1234/dead-letter',
    );
    expect(resolveDestination({ uri: 'http://x:1/y' }, services)).toBe('http://x:1/y');
    expect(resolveDestination({ ref: { kind: 'Service', name: 'b' } }, services)).toBeUndefined();
  });

  it('refuses to start when a sink does not resolve', async () => {
    const bus = memoryBus();
    const runner = createLocalRunner({
      bus,
      sources: [source(undefined)],
      resolveService: () => undefined,
      logger,
    });
    await expect(runner.start()).rejects.toThrow(/sink .* does not resolve/);
  });
});
