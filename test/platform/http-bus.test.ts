/**
 * The HTTP bus bridge: a child process's EventBus (http-bus.ts) over the parent's in-process bus
 * (http-bridge.ts), on a real loopback socket. The shared EventBus contract runs through it, plus
 * the cases only a bridge has: both directions, auth, a child that vanishes, a bridge that drops
 * its subscriptions.
 */
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { BusEvent, EventBus, IncomingMessage } from '../../shared/bus/event-bus.ts';
import { createBusBridge, type BusBridge } from '../../shared/bus/http-bridge.ts';
import { createHttpBus } from '../../shared/bus/http-bus.ts';
import { encodeEvent } from '../../shared/bus/kafka-binding.ts';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { busContract } from '../bus/contract.ts';

const logger = pino({ level: 'silent' });

interface Rig {
  parent: EventBus;
  child: EventBus;
  bridge: BusBridge;
  url: string;
  close(): Promise<void>;
}

async function rig(opts: { token?: string; leaseMs?: number } = {}): Promise<Rig> {
  const parent = createMemoryBus({ retryBackoffMs: 10 });
  const bridge = createBusBridge({ bus: parent, logger, ...opts });
  const served = await serve(bridge.app, {
    port: 0,
    host: '127.0.0.1',
    logger,
    handleSignals: false,
    graceMs: 200,
  });
  const url =
    opts.token === undefined ? `${served.url}/bus` : `http://bus:${opts.token}@127.0.0.1:${served.port}/bus`;
  const child = createHttpBus({ url, logger, pollWaitMs: 2000 });
  return {
    parent,
    child,
    bridge,
    url: `${served.url}/bus`,
    async close() {
      await child.close();
      await bridge.close();
      await served.close();
      await parent.close();
    },
  };
}

busContract(
  'http bridge over the memory bus',
  async () => {
    const r = await rig();
    return { ...r.child, close: () => r.close() };
  },
  { waitMs: 5_000 },
);

const uid = (): string => randomUUID().slice(0, 8);
const ev = (id: string, data: unknown): BusEvent => ({
  specversion: '1.0',
  id,
  source: '/test',
  type: 'test',
  data,
});

describe('http bridge', () => {
  const rigs: Rig[] = [];
  afterEach(async () => {
    await Promise.all(rigs.splice(0).map((r) => r.close()));
  });
  const make = async (o?: { token?: string; leaseMs?: number }) => {
    const r = await rig(o);
    rigs.push(r);
    return r;
  };

  it('carries a child publish to a parent subscriber and a parent publish to a child subscriber', async () => {
    const { parent, child } = await make();
    const up: IncomingMessage[] = [];
    const down: IncomingMessage[] = [];
    const s1 = await parent.subscribe({
      groupId: 'parent',
      topics: ['up'],
      handler: (m) => Promise.resolve(void up.push(m)),
    });
    const s2 = await child.subscribe({
      groupId: 'child',
      topics: ['down'],
      handler: (m) => Promise.resolve(void down.push(m)),
    });
    await child.publish('up', [{ key: 'BTCUSDT', event: ev('u1', { from: 'child' }) }]);
    await parent.publish('down', [{ key: 'ETHUSDT', event: ev('d1', { from: 'parent' }) }]);
    await vi.waitFor(() => expect([up.length, down.length]).toEqual([1, 1]), { timeout: 3000 });
    expect(up[0]).toMatchObject({
      topic: 'up',
      key: 'BTCUSDT',
      event: { id: 'u1', data: { from: 'child' } },
    });
    expect(down[0]).toMatchObject({
      topic: 'down',
      key: 'ETHUSDT',
      event: { id: 'd1', data: { from: 'parent' } },
    });
    await Promise.all([s1.close(), s2.close()]);
  });

  it('commits in the parent only after the child handler succeeded', async () => {
    const { parent, child } = await make();
    const topic = `commit-${uid()}`;
    await parent.publish(topic, [{ key: 'K', event: ev('only', 1) }]);
    const tries: number[] = [];
    const sub = await child.subscribe({
      groupId: 'g',
      topics: [topic],
      handler: (m) => {
        tries.push(m.redeliveries);
        return m.redeliveries < 2 ? Promise.reject(new Error('not yet')) : Promise.resolve();
      },
    });
    await vi.waitFor(() => expect(tries).toEqual([0, 1, 2]), { timeout: 3000 });
    await sub.close();
    // Committed: the same group sees nothing again.
    const again: string[] = [];
    const s2 = await parent.subscribe({
      groupId: 'g',
      topics: [topic],
      handler: (m) => Promise.resolve(void again.push(m.event.id)),
    });
    await parent.publish(topic, [{ key: 'K', event: ev('next', 2) }]);
    await vi.waitFor(() => expect(again).toEqual(['next']), { timeout: 3000 });
    await s2.close();
  });

  it('redelivers what a vanished child held once its lease runs out', async () => {
    const { parent, url } = await make({ leaseMs: 200 });
    const topic = `lease-${uid()}`;
    await parent.publish(topic, [{ key: 'K', event: ev('held', 1) }]);
    // A "child" that takes a message and dies without acknowledging it.
    const created = (await (
      await fetch(`${url}/subscriptions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ groupId: 'g', topics: [topic] }),
      })
    ).json()) as { id: string };
    const polled = (await (await fetch(`${url}/subscriptions/${created.id}/poll?waitMs=2000`)).json()) as {
      deliveries: { message: IncomingMessage }[];
    };
    expect(polled.deliveries.map((d) => d.message.event.id)).toEqual(['held']);
    const got: IncomingMessage[] = [];
    const sub = await parent.subscribe({
      groupId: 'g',
      topics: [topic],
      handler: (m) => Promise.resolve(void got.push(m)),
    });
    await vi.waitFor(() => expect(got.map((m) => m.event.id)).toEqual(['held']), { timeout: 10_000 });
    await sub.close();
    expect((await fetch(`${url}/subscriptions/${created.id}/poll?waitMs=0`)).status).toBe(404);
  });

  it('subscribes again when the parent dropped its subscriptions', async () => {
    const { parent, child, bridge } = await make();
    const topic = `rejoin-${uid()}`;
    const got: string[] = [];
    const sub = await child.subscribe({
      groupId: 'g',
      topics: [topic],
      handler: (m) => Promise.resolve(void got.push(m.event.id)),
    });
    await parent.publish(topic, [{ key: 'K', event: ev('before', 1) }]);
    await vi.waitFor(() => expect(got).toEqual(['before']), { timeout: 3000 });
    await bridge.close();
    await parent.publish(topic, [{ key: 'K', event: ev('after', 2) }]);
    await vi.waitFor(() => expect(got).toEqual(['before', 'after']), { timeout: 5000 });
    await sub.close();
  });

  it('needs the bearer token when one is set, taken from the URL', async () => {
    const { child, url } = await make({ token: 's3cret' });
    await child.publish('t', [{ key: null, event: ev('ok', 1) }]);
    await child.ping();
    expect((await fetch(`${url}/ping`)).status).toBe(401);
    const wrong = createHttpBus({ url: url.replace('http://', 'http://bus:nope@'), logger });
    await expect(wrong.publish('t', [{ key: null, event: ev('no', 1) }])).rejects.toThrow(/bearer token/);
  });

  it('appends wire records unparsed and still takes events, both ending as the same delivery', async () => {
    const { parent, url } = await make();
    const got: IncomingMessage[] = [];
    const sub = await parent.subscribe({
      groupId: 'p',
      topics: ['w'],
      handler: (m) => Promise.resolve(void got.push(m)),
    });
    const post = (body: unknown) =>
      fetch(`${url}/publish`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const wire = encodeEvent({ key: 'BTCUSDT', event: ev('w1', { rows: [1, 2] }) });
    expect((await post({ topic: 'w', records: [wire] })).status).toBe(204);
    expect(
      (await post({ topic: 'w', messages: [{ key: 'BTCUSDT', event: ev('w2', { rows: [3] }) }] })).status,
    ).toBe(204);
    const bad = await post({ topic: 'w', records: [{ ...wire, headers: { ce_id: 'x' } }] });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
    await vi.waitFor(() => expect(got.map((m) => m.event.id)).toEqual(['w1', 'w2']), { timeout: 3000 });
    expect(got[0]?.event).toEqual({ ...ev('w1', { rows: [1, 2] }), datacontenttype: 'application/json' });
    await sub.close();
  });

  it('answers 400 with the issues for a malformed call, and the child sees InvalidInputError', async () => {
    const { url, child } = await make();
    const res = await fetch(`${url}/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic: 't', messages: [{ key: 1, event: {} }] }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
    await expect(
      child.publish('t', [{ key: null, event: { ...ev('x', 1), specversion: '0.3' as '1.0' } }]),
    ).rejects.toMatchObject({
      status: 400,
    });
  });
});
