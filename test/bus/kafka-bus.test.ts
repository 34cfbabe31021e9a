/**
 * The EventBus contract against the real broker started by test/setup/kafka-global.ts, plus
 * the wire format as other Kafka clients see it. Skipped when no broker is configured
 * (SKIP_KAFKA_SETUP=1).
 */
import { randomUUID } from 'node:crypto';
import { Kafka as CeKafka, type CloudEvent, type KafkaMessage as CeKafkaMessage } from 'cloudevents';
import { Kafka, logLevel, type KafkaMessage } from 'kafkajs';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { BusEvent, EventBus } from '../../shared/bus/event-bus.ts';
import { createKafkaBus } from '../../shared/bus/kafka-bus.ts';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { freePort } from '../../scripts/kafka.mjs';
import { busContract } from './contract.ts';

const brokers = (process.env['KAFKA_BROKERS'] ?? '').split(',').filter((b) => b.length > 0);
const logger = pino({ level: process.env['LOG_LEVEL'] ?? 'silent' });

/** Test tuning: short heartbeats so joins and rebalances take about a second. */
const makeBus = (): EventBus =>
  createKafkaBus({
    brokers,
    clientId: 'streamforge-test',
    logger,
    retryBackoffMs: 50,
    sessionTimeoutMs: 6_000,
    heartbeatIntervalMs: 300,
    maxWaitTimeMs: 200,
  });

describe('kafka bus without a broker', () => {
  it('fails ping with a DependencyError (503), so /readyz reports the bus as down', async () => {
    const port = await freePort(); // nothing listens there
    const bus = createKafkaBus({ brokers: [`127.0.0.1:${port}`], clientId: 't', logger, pingTimeoutMs: 500 });
    const err: unknown = await bus.ping().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as DependencyError).status).toBe(503);
    await bus.close();
  });

  it('refuses a topic name Kafka would reject, before any connection', async () => {
    const bus = createKafkaBus({ brokers: ['127.0.0.1:1'], clientId: 't', logger });
    await expect(bus.publish('no spaces allowed', [])).rejects.toMatchObject({ status: 400 });
    await bus.close();
  });
});

describe.skipIf(brokers.length === 0)('kafka bus', () => {
  busContract('kafka', makeBus, { waitMs: 30_000 });

  describe('wire format', () => {
    let bus: EventBus;
    let kafka: Kafka;
    beforeAll(() => {
      bus = makeBus();
      kafka = new Kafka({ clientId: 'raw-reader', brokers, logLevel: logLevel.NOTHING });
    });
    afterAll(async () => {
      await bus.close();
    });

    /** Reads the first `n` records of a topic with a plain kafkajs consumer. */
    async function readRaw(topic: string, n: number): Promise<KafkaMessage[]> {
      const consumer = kafka.consumer({
        groupId: `raw-${randomUUID()}`,
        heartbeatInterval: 300,
        maxWaitTimeInMs: 200,
      });
      const got: KafkaMessage[] = [];
      await consumer.connect();
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      await consumer.run({ eachMessage: ({ message }) => Promise.resolve(void got.push(message)) });
      await vi.waitFor(() => expect(got.length).toBeGreaterThanOrEqual(n), { timeout: 30_000, interval: 50 });
      await consumer.disconnect();
      return got;
    }

    it('writes binary-mode CloudEvents that the cloudevents SDK reads back unchanged', async () => {
      const topic = `wire-${randomUUID().slice(0, 8)}`;
      const sent: BusEvent = {
        specversion: '1.0',
        id: `spot.BTCUSDT.klines_1m.${Date.now()}`,
        source: '/streamforge/loader-api',
        type: 'io.streamforge.data.kline',
        time: '2024-08-01T00:00:00.000Z',
        subject: 'BTCUSDT',
        extensions: { queueid: 'wf-btcusdt-api_candles_1m-20240801-a1b2c3' },
        data: { kind: 'kline', records: [{ open: '65000.01000000', trades: 12 }] },
      };
      await bus.publish(topic, [{ key: 'BTCUSDT', event: sent }]);
      const [raw] = await readRaw(topic, 1);
      const headers = Object.fromEntries(Object.entries(raw!.headers ?? {}).map(([k, v]) => [k, String(v)]));
      expect(headers).toEqual({
        ce_specversion: '1.0',
        ce_id: sent.id,
        ce_source: sent.source,
        ce_type: sent.type,
        ce_time: sent.time,
        ce_subject: 'BTCUSDT',
        ce_queueid: 'wf-btcusdt-api_candles_1m-20240801-a1b2c3',
        'content-type': 'application/json',
      });
      expect(raw!.key?.toString()).toBe('BTCUSDT');

      // Exactly what a KafkaSource or any other CloudEvents consumer receives.
      const ceMessage: CeKafkaMessage = {
        headers,
        key: raw!.key?.toString() ?? '',
        value: raw!.value?.toString() ?? '',
        body: raw!.value?.toString(),
      };
      expect(CeKafka.isEvent(ceMessage)).toBe(true);
      const ce = CeKafka.toEvent(ceMessage) as CloudEvent;
      expect(ce.validate()).toBe(true);
      expect({
        id: ce.id,
        source: ce.source,
        type: ce.type,
        specversion: ce.specversion,
        time: ce.time,
        subject: ce.subject,
        datacontenttype: ce.datacontenttype,
        queueid: ce['queueid'],
        partitionkey: ce['partitionkey'],
        data: ce.data,
      }).toEqual({
        id: sent.id,
        source: sent.source,
        type: sent.type,
        specversion: '1.0',
        time: sent.time,
        subject: 'BTCUSDT',
        datacontenttype: 'application/json',
        queueid: 'wf-btcusdt-api_candles_1m-20240801-a1b2c3',
        partitionkey: 'BTCUSDT',
        data: sent.data,
      });
    });

    it('splits a large publish into several produce requests, in order', async () => {
      const topic = `big-${randomUUID().slice(0, 8)}`;
      const filler = 'x'.repeat(200_000);
      const events = Array.from({ length: 8 }, (_, n) => ({
        key: 'ETHUSDT',
        event: { specversion: '1.0' as const, id: `big-${n}`, source: '/t', type: 't', data: { n, filler } },
      }));
      // 8 × 200 kB to one partition exceeds the broker's 1 MiB record-batch limit in one request.
      await bus.publish(topic, events);
      const raw = await readRaw(topic, 8);
      expect(raw.map((m) => (JSON.parse(m.value!.toString()) as { n: number }).n)).toEqual([
        0, 1, 2, 3, 4, 5, 6, 7,
      ]);
    });
  });
});
