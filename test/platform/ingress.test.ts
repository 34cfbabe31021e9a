/**
 * The embedded ingress (shared/bus/ingress.ts) and the children's publisher
 * (shared/bus/http-publisher.ts) on real loopback sockets: what a child POSTs is appended to the
 * parent's bus, binary data unparsed and byte for byte; bad events are refused with 400 and never
 * appended; a batch with one bad event appends nothing; the token and the size limit hold.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BusEvent } from '../../shared/bus/event-bus.ts';
import { createHttpPublisher } from '../../shared/bus/http-publisher.ts';
import { createIngress } from '../../shared/bus/ingress.ts';
import type { WireRecord } from '../../shared/bus/kafka-binding.ts';
import { createMemoryBus, type MemoryBus } from '../../shared/bus/memory-bus.ts';
import { makeEvent, toHttpBatch, toHttpBinary, toHttpStructured } from '../../shared/runtime/cloudevents.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';

const silent = pino({ level: 'silent' });
const TOKEN = 'tok-123';

/** A bus that records what is appended, in wire form, on top of the in-process bus. */
function recordingBus(): MemoryBus & { appended: { topic: string; records: WireRecord[] }[] } {
  const bus = createMemoryBus();
  const appended: { topic: string; records: WireRecord[] }[] = [];
  return {
    ...bus,
    appended,
    publishWire: async (topic, records) => {
      await bus.publishWire(topic, records);
      appended.push({ topic, records });
    },
  };
}

const ev = (data: unknown, extra: Partial<BusEvent> = {}): BusEvent => ({
  ...makeEvent({ type: 'io.streamforge.test', source: '/test', data }),
  ...extra,
});

describe('ingress', () => {
  let bus: ReturnType<typeof recordingBus>;
  let server: Server;
  let base: string;

  beforeAll(async () => {
    bus = recordingBus();
    const ingress = createIngress({ bus, logger: silent, token: TOKEN, maxBodyBytes: 64 * 1024 });
    server = createAdaptorServer({ fetch: ingress.app.fetch }) as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/streamforge`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (topic: string, msg: { headers: Record<string, string>; body: string }, token = TOKEN) =>
    fetch(`${base}/${topic}`, {
      method: 'POST',
      headers: { ...msg.headers, authorization: `Bearer ${token}` },
      body: msg.body,
    });

  it('appends a binary-mode event with its body as the record value, unparsed, keyed by partitionkey', async () => {
    const n = bus.appended.length;
    const body = '{"rows":[[1,"1.0"]],  "spacing":"kept as sent"}';
    const msg = toHttpBinary(ev(null, { extensions: { partitionkey: 'BTCUSDT', queueid: 'wf-1' } }));
    const res = await post('binance-kline', { headers: msg.headers, body });
    expect(res.status).toBe(202);
    const [rec] = bus.appended.slice(n).flatMap((a) => a.records);
    expect(bus.appended.at(-1)?.topic).toBe('binance-kline');
    expect(rec?.value).toBe(body);
    expect(rec?.key).toBe('BTCUSDT');
    expect(rec?.headers).toMatchObject({ ce_queueid: 'wf-1', ce_type: 'io.streamforge.test' });
  });

  it('takes structured and batched events, each validated before anything is appended', async () => {
    const n = bus.appended.length;
    expect((await post('queue-events', toHttpStructured(ev({ a: 1 })))).status).toBe(202);
    expect((await post('queue-events', toHttpBatch([ev({ b: 1 }), ev({ b: 2 })]))).status).toBe(202);
    expect(bus.appended.slice(n).flatMap((a) => a.records.map((r) => r.value))).toEqual([
      '{"a":1}',
      '{"b":1}',
      '{"b":2}',
    ]);
  });

  it('refuses a batch with one bad event with 400 and its issues, appending none of it', async () => {
    const n = bus.appended.length;
    const good = JSON.parse(toHttpStructured(ev({ ok: true })).body) as Record<string, unknown>;
    const bad = { ...good, id: undefined, source: '' };
    const res = await post('queue-events', {
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([good, bad]),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { issues: { path: unknown[] }[] };
    expect(body.issues.length).toBeGreaterThan(0);
    expect(body.issues.every((i) => i.path[0] === 1)).toBe(true);
    expect(bus.appended.length).toBe(n);
  });

  it('answers 400 for something that is not a CloudEvent, 401 without the token, 413 past the size limit', async () => {
    const n = bus.appended.length;
    expect((await post('t', { headers: { 'content-type': 'application/json' }, body: '{}' })).status).toBe(
      400,
    );
    expect((await post('t', toHttpBinary(ev(1)), 'wrong')).status).toBe(401);
    const big = toHttpBinary(ev('x'.repeat(100 * 1024)));
    expect((await post('t', big)).status).toBe(413);
    expect(bus.appended.length).toBe(n);
  });

  it("the children's publisher: one event in binary mode, several as one batch, keys kept; a 400 is not retried", async () => {
    const pub = createHttpPublisher({ url: base.replace('http://', `http://bus:${TOKEN}@`) });
    const got: { key: string | null; data: unknown }[] = [];
    const sub = await bus.subscribe({
      groupId: 'reader',
      topics: ['pub-test'],
      handler: (m) => {
        got.push({ key: m.key, data: m.event.data });
        return Promise.resolve();
      },
    });
    await pub.publish('pub-test', [{ key: 'ETHUSDT', event: ev({ one: 1 }) }]);
    await pub.publish('pub-test', [
      { key: 'ETHUSDT', event: ev({ two: 2 }) },
      { key: 'ETHUSDT', event: ev({ three: 3 }) },
    ]);
    await expect.poll(() => got.length).toBe(3);
    expect(got).toEqual([
      { key: 'ETHUSDT', data: { one: 1 } },
      { key: 'ETHUSDT', data: { two: 2 } },
      { key: 'ETHUSDT', data: { three: 3 } },
    ]);
    const tooBig = pub.publish('pub-test', [{ key: null, event: ev('y'.repeat(100 * 1024)) }]);
    await expect(tooBig).rejects.toBeInstanceOf(InvalidInputError);
    await sub.close();
    await pub.close();
  });
});
