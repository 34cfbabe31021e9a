/**
 * One contract for every EventBus adapter (DESIGN.md "Ports and adapters"). Each case uses its
 * own topics and groups, so cases never see each other's records.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type {
  BusEvent,
  EventBus,
  IncomingMessage,
  SubscribeOptions,
  Subscription,
} from '../../shared/bus/event-bus.ts';

const uid = (): string => randomUUID().slice(0, 8);

function event(id: string, data: unknown, extra: Partial<BusEvent> = {}): BusEvent {
  return { specversion: '1.0', id, source: '/streamforge/test', type: 'io.streamforge.test', data, ...extra };
}

/** Subscribes and records every delivery. */
async function collect(
  bus: EventBus,
  opts: Omit<SubscribeOptions, 'handler'> & { handler?: (m: IncomingMessage) => Promise<void> },
): Promise<{ got: IncomingMessage[]; sub: Subscription }> {
  const got: IncomingMessage[] = [];
  const sub = await bus.subscribe({
    ...opts,
    handler: async (m) => {
      await opts.handler?.(m);
      got.push(m);
    },
  });
  return { got, sub };
}

export interface ContractOptions {
  /** How long to wait for deliveries (a real broker needs longer). */
  waitMs: number;
}

export function busContract(
  name: string,
  makeBus: () => EventBus | Promise<EventBus>,
  opts: ContractOptions = { waitMs: 5_000 },
): void {
  const until = <T>(fn: () => T): Promise<T> => vi.waitFor(fn, { timeout: opts.waitMs, interval: 20 });

  describe(`EventBus contract: ${name}`, () => {
    let bus: EventBus;
    beforeAll(async () => {
      bus = await makeBus();
    });
    afterAll(async () => {
      await bus?.close();
    });

    it('answers ping and keeps CloudEvent attributes, extensions, key and data across the bus', async () => {
      await bus.ping();
      const topic = `rt-${uid()}`;
      await bus.ensureTopics([{ topic }]);
      const sent = event(
        `e-${uid()}`,
        { records: [{ open: '0.01000000', trades: 7, nested: { ok: true, none: null } }], note: 'ünïcødé ✓' },
        {
          time: '2024-08-01T00:00:00.123456Z',
          subject: 'BTCUSDT',
          extensions: { queueid: 'wf-btcusdt-api_candles_1m-20240801-a1b2c3', traceparent: '00-abc-def-01' },
        },
      );
      const plain = event(`p-${uid()}`, 'text payload', { datacontenttype: 'text/plain' });
      await bus.publish(topic, [
        { key: 'BTCUSDT', event: sent },
        { key: 'BTCUSDT', event: plain },
      ]);
      const { got, sub } = await collect(bus, { groupId: `g-${uid()}`, topics: [topic] });
      await until(() => expect(got).toHaveLength(2));
      await sub.close();
      expect(got[0]!.event).toEqual({ ...sent, datacontenttype: 'application/json' });
      expect(got[1]!.event).toEqual(plain);
      expect(got[0]).toMatchObject({ topic, key: 'BTCUSDT', redeliveries: 0 });
      expect(got[1]!.partition).toBe(got[0]!.partition);
      expect(BigInt(got[1]!.offset)).toBe(BigInt(got[0]!.offset) + 1n);
    });

    it('rejects an event that is not a valid CloudEvent', async () => {
      const bad = event('x', 1, { extensions: { 'Bad-Name': 'v' } });
      await expect(bus.publish(`bad-${uid()}`, [{ key: null, event: bad }])).rejects.toThrow(/extension/);
    });

    it('delivers each key in publish order across many keys and partitions', async () => {
      const topic = `order-${uid()}`;
      await bus.ensureTopics([{ topic, partitions: 3 }]);
      const keys = Array.from({ length: 12 }, (_, i) => `SYM${i}USDT`);
      const perKey = 15;
      // Interleave keys over several publish calls, as concurrent loaders would.
      for (let round = 0; round < perKey; round += 5) {
        const batch = [];
        for (let n = round; n < round + 5; n++) {
          for (const key of keys) batch.push({ key, event: event(`${key}-${n}`, { key, n }) });
        }
        await bus.publish(topic, batch);
      }
      const { got, sub } = await collect(bus, { groupId: `g-${uid()}`, topics: [topic] });
      await until(() => expect(got).toHaveLength(keys.length * perKey));
      await sub.close();
      const partitions = new Map<string, Set<number>>();
      for (const key of keys) {
        const mine = got.filter((m) => m.key === key);
        expect(mine.map((m) => (m.event.data as { n: number }).n)).toEqual(
          Array.from({ length: perKey }, (_, n) => n),
        );
        partitions.set(key, new Set(mine.map((m) => m.partition)));
      }
      for (const p of partitions.values()) expect(p.size).toBe(1);
      // Twelve keys over three partitions use more than one of them.
      expect(new Set(got.map((m) => m.partition)).size).toBeGreaterThan(1);
      expect(got.every((m) => m.partition >= 0 && m.partition < 3)).toBe(true);
    });

    it('redelivers the same message after a throwing handler before anything after it', async () => {
      const topic = `redeliver-${uid()}`;
      await bus.ensureTopics([{ topic }]);
      const ids = ['a', 'b', 'c', 'd'].map((s) => `${s}-${uid()}`);
      await bus.publish(
        topic,
        ids.map((id, n) => ({ key: 'ETHUSDT', event: event(id, { n }) })),
      );
      const seen: string[] = [];
      let failures = 0;
      const { got, sub } = await collect(bus, {
        groupId: `g-${uid()}`,
        topics: [topic],
        handler: (m) => {
          seen.push(`${m.event.id}#${m.redeliveries}`);
          // The second message fails twice, then succeeds.
          if (m.event.id === ids[1] && failures < 2) {
            failures++;
            // Mutating the delivered event must not leak into the redelivery.
            (m.event.data as { n: number }).n = -1;
            return Promise.reject(new Error('transient failure'));
          }
          return Promise.resolve();
        },
      });
      await until(() => expect(got).toHaveLength(4));
      await sub.close();
      expect(seen).toEqual([
        `${ids[0]}#0`,
        `${ids[1]}#0`,
        `${ids[1]}#1`,
        `${ids[1]}#2`,
        `${ids[2]}#0`,
        `${ids[3]}#0`,
      ]);
      expect(got.map((m) => m.event.id)).toEqual(ids);
      expect(got[1]!.event.data).toEqual({ n: 1 });
    });

    it('gives every consumer group all messages, and shares partitions within a group', async () => {
      const topic = `groups-${uid()}`;
      await bus.ensureTopics([{ topic, partitions: 3 }]);
      const a = await collect(bus, { groupId: `ga-${uid()}`, topics: [topic] });
      const b = await collect(bus, { groupId: `gb-${uid()}`, topics: [topic] });
      const shared = `gs-${uid()}`;
      const s1 = await collect(bus, { groupId: shared, topics: [topic] });
      const s2 = await collect(bus, { groupId: shared, topics: [topic] });
      const ids = Array.from({ length: 30 }, (_, i) => `m${i}-${uid()}`);
      await bus.publish(
        topic,
        ids.map((id, i) => ({ key: `K${i}`, event: event(id, i) })),
      );
      await until(() => {
        expect(a.got).toHaveLength(30);
        expect(b.got).toHaveLength(30);
        expect(s1.got.length + s2.got.length).toBe(30);
      });
      await Promise.all([a.sub.close(), b.sub.close(), s1.sub.close(), s2.sub.close()]);
      const sorted = (ms: IncomingMessage[]): string[] => ms.map((m) => m.event.id).sort();
      expect(sorted(a.got)).toEqual([...ids].sort());
      expect(sorted(b.got)).toEqual([...ids].sort());
      expect(sorted([...s1.got, ...s2.got])).toEqual([...ids].sort());
      expect(s1.got.length).toBeGreaterThan(0);
      expect(s2.got.length).toBeGreaterThan(0);
      const p1 = new Set(s1.got.map((m) => m.partition));
      expect(s2.got.some((m) => p1.has(m.partition))).toBe(false);
    });

    it('resumes a group after its committed offsets: nothing committed comes again, nothing is lost', async () => {
      const topic = `resume-${uid()}`;
      const groupId = `g-${uid()}`;
      await bus.ensureTopics([{ topic, partitions: 1 }]);
      const ids = Array.from({ length: 10 }, (_, i) => `r${i}-${uid()}`);
      await bus.publish(
        topic,
        ids.map((id) => ({ key: 'BNBUSDT', event: event(id, null) })),
      );
      let closing: Promise<void> | undefined;
      // The handler may run before subscribe() has returned, so it gets the subscription this way.
      let setSub: (s: Subscription) => void = () => undefined;
      const subscribed = new Promise<Subscription>((resolve) => (setSub = resolve));
      const first = await collect(bus, {
        groupId,
        topics: [topic],
        handler: async (m) => {
          if (m.event.id === ids[3]) {
            // Close while this handler is in flight: close must wait for it and commit it.
            closing = (await subscribed).close();
            await new Promise((r) => setTimeout(r, 50));
          }
        },
      });
      setSub(first.sub);
      await until(() => expect(closing).toBeDefined());
      await closing;
      const handledFirst = first.got.map((m) => m.event.id);
      expect(handledFirst).toEqual(ids.slice(0, 4));
      const more = Array.from({ length: 3 }, (_, i) => `s${i}-${uid()}`);
      await bus.publish(
        topic,
        more.map((id) => ({ key: 'BNBUSDT', event: event(id, null) })),
      );
      // 'latest' only applies to a group without committed offsets: this group resumes.
      const second = await collect(bus, { groupId, topics: [topic], from: 'latest' });
      await until(() => expect(second.got).toHaveLength(ids.length - 4 + more.length));
      await second.sub.close();
      expect(second.got.map((m) => m.event.id)).toEqual([...ids.slice(4), ...more]);
    });

    it("starts a new group at the end with from: 'latest'", async () => {
      const topic = `latest-${uid()}`;
      await bus.ensureTopics([{ topic, partitions: 1 }]);
      await bus.publish(topic, [{ key: 'X', event: event(`old-${uid()}`, 1) }]);
      const { got, sub } = await collect(bus, { groupId: `g-${uid()}`, topics: [topic], from: 'latest' });
      const fresh = `new-${uid()}`;
      await bus.publish(topic, [{ key: 'X', event: event(fresh, 2) }]);
      await until(() => expect(got).toHaveLength(1));
      await sub.close();
      expect(got[0]!.event.id).toBe(fresh);
    });

    it('creates topics idempotently and auto-creates on publish', async () => {
      const topic = `ensure-${uid()}`;
      await bus.ensureTopics([{ topic, partitions: 2 }]);
      await bus.ensureTopics([{ topic, partitions: 2 }, { topic: `ensure2-${uid()}` }]);
      await bus.ensureTopics([{ topic, partitions: 5 }]); // an existing topic keeps its partitions
      const keys = Array.from({ length: 20 }, (_, i) => `K${i}`);
      await bus.publish(
        topic,
        keys.map((k) => ({ key: k, event: event(`${k}-${uid()}`, k) })),
      );
      const auto = `auto-${uid()}`;
      await bus.publish(auto, [{ key: null, event: event(`n-${uid()}`, 'x') }]);
      const { got, sub } = await collect(bus, { groupId: `g-${uid()}`, topics: [topic, auto] });
      await until(() => expect(got).toHaveLength(21));
      await sub.close();
      const parts = new Set(got.filter((m) => m.topic === topic).map((m) => m.partition));
      expect([...parts].sort()).toEqual([0, 1]);
      expect(got.filter((m) => m.topic === auto).map((m) => m.key)).toEqual([null]);
    });
  });
}
