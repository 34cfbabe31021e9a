/**
 * The local runner over the real broker (KAFKA_BROKERS from the test setup): the same delivery
 * semantics as over the in-process bus — order per partition, retries, the dead-letter sink and
 * unchanged forwarding.
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../shared/bus/event-bus.ts';
import { createKafkaBus } from '../../shared/bus/kafka-bus.ts';
import { makeEvent, parseHttpEvents } from '../../shared/runtime/cloudevents.ts';
import { KafkaSource } from '../../shared/topology/schema.ts';
import { createLocalRunner } from '../../functions/local-runner/runner.ts';
import { startSink, until, type TestSink } from './sink.ts';

const brokers = process.env['KAFKA_BROKERS'] ?? '';
const logger = pino({ level: 'silent' });

describe.skipIf(brokers === '')('local runner over Kafka', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  it('delivers in order per partition, retries, dead-letters a 400 and forwards events unchanged', async () => {
    const topic = `runner-${randomUUID().slice(0, 8)}`;
    const bus = createKafkaBus({
      brokers: brokers.split(','),
      clientId: 'runner-test',
      logger,
      heartbeatIntervalMs: 500,
      maxWaitTimeMs: 100,
    });
    cleanups.push(() => bus.close());
    await bus.ensureTopics([{ topic, partitions: 2 }]);

    const keys = ['BTCUSDT', 'ETHUSDT'];
    const events: BusEvent[] = Array.from({ length: 12 }, (_, i) =>
      makeEvent({
        type: 'io.streamforge.test',
        source: '/streamforge/test',
        subject: keys[i % 2],
        data: { i },
        extensions: { queueid: `wf-${i}` },
      }),
    );
    const poison = events[5]!;
    let seen = 0;
    const fn: TestSink = await startSink((r) => {
      seen += 1;
      if (r.headers['ce-id'] === poison.id) return { status: 400, body: 'bad event' };
      return { status: seen % 4 === 1 ? 503 : 202, delayMs: seen % 3 === 0 ? 10 : 0 };
    });
    const dl = await startSink();
    cleanups.push(
      () => fn.close(),
      () => dl.close(),
    );

    const source = KafkaSource.parse({
      apiVersion: 'sources.knative.dev/v1',
      kind: 'KafkaSource',
      metadata: { name: 'fn' },
      spec: {
        bootstrapServers: brokers.split(','),
        topics: [topic],
        consumerGroup: `g-${topic}`,
        initialOffset: 'earliest',
        ordering: 'ordered',
        delivery: {
          retry: 3,
          backoffPolicy: 'exponential',
          backoffDelay: 'PT0.01S',
          deadLetterSink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'dls' } },
        },
        sink: { ref: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'fn' } },
      },
    });
    const services: Record<string, string> = { fn: fn.url, dls: dl.url };
    const runner = createLocalRunner({ bus, sources: [source], resolveService: (n) => services[n], logger });
    await runner.start();
    cleanups.push(() => runner.stop());

    await bus.publish(
      topic,
      events.map((e) => ({ key: e.subject ?? null, event: e })),
    );
    await until(
      () => runner.stats().delivered + runner.stats().deadLettered === events.length,
      30_000,
      'all records',
    );

    expect(runner.stats()).toMatchObject({ delivered: events.length - 1, deadLettered: 1, dropped: 0 });
    expect(runner.stats().retries).toBeGreaterThan(0);
    for (const key of keys) {
      const ids = fn.received
        .filter((r) => r.headers['ce-subject'] === key)
        .map((r) => String(r.headers['ce-id']));
      const firsts = ids.filter((id, i) => ids.indexOf(id) === i);
      expect(firsts).toEqual(events.filter((e) => e.subject === key).map((e) => e.id));
    }
    expect(fn.maxConcurrentPerSubject()).toBe(1);

    // Unchanged forwarding: every attribute as published, plus the Kafka position.
    const delivered = fn.received.find((r) => r.headers['ce-id'] === events[0]!.id)!;
    const [got] = parseHttpEvents(new Headers(delivered.headers as Record<string, string>), delivered.body);
    const { knativekafkapartition, knativekafkaoffset, ...own } = got!.extensions ?? {};
    expect({ ...got, extensions: own }).toEqual(events[0]);
    expect(knativekafkapartition).toMatch(/^[01]$/);
    expect(knativekafkaoffset).toBe('0');

    expect(dl.received).toHaveLength(1);
    expect(dl.received[0]!.headers).toMatchObject({
      'ce-id': poison.id,
      'ce-knativeerrorcode': '400',
      'ce-knativeerrordest': fn.url,
    });
    expect(Buffer.from(String(dl.received[0]!.headers['ce-knativeerrordata']), 'base64').toString()).toBe(
      'bad event',
    );
  });
});
