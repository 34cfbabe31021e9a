import { randomBytes } from 'node:crypto';
import { Partitioners } from 'kafkajs';
import { describe, expect, it, vi } from 'vitest';
import type { BusEvent, IncomingMessage } from '../../shared/bus/event-bus.ts';
import { encodeEvent } from '../../shared/bus/kafka-binding.ts';
import { createMemoryBus, partitionForKey } from '../../shared/bus/memory-bus.ts';
import { busContract } from './contract.ts';

busContract('memory', () => createMemoryBus({ retryBackoffMs: 10 }), { waitMs: 3_000 });

const ev = (id: string, data: unknown = null): BusEvent => ({
  specversion: '1.0',
  id,
  source: '/test',
  type: 'test',
  data,
});

describe('memory bus', () => {
  it("puts keys into the same partitions as kafkajs's default partitioner (Java murmur2)", () => {
    const kafkajs = Partitioners.DefaultPartitioner();
    const partitionMetadata = Array.from({ length: 7 }, (_, partitionId) => ({
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
      offlineReplicas: [],
      partitionErrorCode: 0,
    }));
    const keys = [
      'BTCUSDT',
      'ETHUSDT',
      '',
      'a',
      'ab',
      'abc',
      'ünïcødé',
      ...Array.from({ length: 200 }, () => randomBytes(9).toString('base64')),
    ];
    for (const key of keys) {
      expect(partitionForKey(key, 7), key).toBe(
        kafkajs({ topic: 't', partitionMetadata, message: { key, value: '' } }),
      );
    }
  });

  it('spreads records without a key round-robin', async () => {
    const bus = createMemoryBus({ partitions: 3 });
    await bus.publish(
      'rr',
      Array.from({ length: 9 }, (_, i) => ({ key: null, event: ev(`n${i}`) })),
    );
    expect(bus.topicStats('rr')?.map((p) => p.end)).toEqual([3, 3, 3]);
    await bus.close();
  });

  it('hands every delivery its own copy of the data, never the published object', async () => {
    const bus = createMemoryBus();
    const data = { records: [{ price: '1.0' }] };
    await bus.publish('copy', [{ key: 'K', event: ev('c1', data) }]);
    data.records[0]!.price = 'changed after publish';
    const seen: unknown[] = [];
    const subs = await Promise.all(
      ['g1', 'g2'].map((groupId) =>
        bus.subscribe({
          groupId,
          topics: ['copy'],
          handler: (m) => {
            seen.push(m.event.data);
            (m.event.data as typeof data).records[0]!.price = 'mutated by handler';
            return Promise.resolve();
          },
        }),
      ),
    );
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    await Promise.all(subs.map((s) => s.close()));
    expect(seen[0]).not.toBe(seen[1]);
    expect(bus.topicStats('copy')).toBeDefined();
    await bus.close();
  });

  it("with retention 'consumed' drops what every subscribed group has committed, and keeps the rest", async () => {
    const bus = createMemoryBus({ partitions: 1, retention: 'consumed' });
    await bus.ensureTopics([{ topic: 'ret' }]);
    const fast: string[] = [];
    let releaseSlow: () => void = () => undefined;
    const slowGate = new Promise<void>((r) => (releaseSlow = r));
    const slow: string[] = [];
    const a = await bus.subscribe({
      groupId: 'fast',
      topics: ['ret'],
      handler: (m) => Promise.resolve(void fast.push(m.event.id)),
    });
    const b = await bus.subscribe({
      groupId: 'slow',
      topics: ['ret'],
      handler: async (m) => {
        if (m.event.id === 'r5') await slowGate;
        slow.push(m.event.id);
      },
    });
    await bus.publish(
      'ret',
      Array.from({ length: 10 }, (_, i) => ({ key: 'K', event: ev(`r${i}`) })),
    );
    await vi.waitFor(() => expect(fast).toHaveLength(10));
    await vi.waitFor(() => expect(slow).toHaveLength(5));
    // The slow group has committed r0..r4: they are gone; r5.. stay for it.
    expect(bus.topicStats('ret')).toEqual([{ partition: 0, start: 5, end: 10 }]);
    releaseSlow();
    await vi.waitFor(() => expect(slow).toHaveLength(10));
    expect(bus.topicStats('ret')).toEqual([{ partition: 0, start: 10, end: 10 }]);
    // A group that left keeps holding its place: records stay until it comes back for them.
    await b.close();
    await bus.publish('ret', [{ key: 'K', event: ev('r10') }]);
    await vi.waitFor(() => expect(fast).toHaveLength(11));
    expect(bus.topicStats('ret')).toEqual([{ partition: 0, start: 10, end: 11 }]);
    await a.close();
    await bus.close();
  });

  it('keeps delivering other partitions while one waits for a redelivery when partitions run concurrently', async () => {
    const bus = createMemoryBus({ partitions: 2, retryBackoffMs: 50 });
    const keyA = 'A';
    const keyB = [...Array(50).keys()]
      .map((i) => `B${i}`)
      .find((k) => partitionForKey(k, 2) !== partitionForKey(keyA, 2))!;
    const got: IncomingMessage[] = [];
    let failed = false;
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['conc'],
      partitionsConsumedConcurrently: 2,
      handler: (m) => {
        if (m.key === keyA && !failed) {
          failed = true;
          return Promise.reject(new Error('once'));
        }
        got.push(m);
        return Promise.resolve();
      },
    });
    await bus.publish('conc', [
      { key: keyA, event: ev('a') },
      { key: keyB, event: ev('b') },
    ]);
    await vi.waitFor(() => expect(got).toHaveLength(2));
    expect(got.map((m) => m.event.id)).toEqual(['b', 'a']);
    expect(got[1]!.redeliveries).toBe(1);
    await sub.close();
    await bus.close();
  });

  it('hands the partitions to a member that joins at any moment after the last one left', async () => {
    const bus = createMemoryBus({ partitions: 1 });
    // Join 0..7 microtask turns after the previous member left: every window of the hand-over.
    for (let ticks = 0; ticks < 8; ticks++) {
      const previous = await bus.subscribe({
        groupId: 'g',
        topics: ['handover'],
        handler: () => Promise.resolve(),
      });
      const closing = previous.close();
      for (let i = 0; i < ticks; i++) await Promise.resolve();
      const got: string[] = [];
      const next = await bus.subscribe({
        groupId: 'g',
        topics: ['handover'],
        handler: (m) => Promise.resolve(void got.push(m.event.id)),
      });
      await closing;
      await bus.publish('handover', [{ key: 'K', event: ev(`h${ticks}`) }]);
      await vi.waitFor(() => expect(got).toEqual([`h${ticks}`]), { timeout: 1000 });
      await next.close();
    }
    await bus.close();
  });

  it('takes records already in wire form as they are, checking their headers only, like a broker', async () => {
    const bus = createMemoryBus({ retryBackoffMs: 10 });
    const got: IncomingMessage[] = [];
    const sub = await bus.subscribe({
      groupId: 'g',
      topics: ['w'],
      handler: (m) => Promise.resolve(void got.push(m)),
    });
    const wire = encodeEvent({
      key: 'BTCUSDT',
      event: { ...ev('w1', { n: 1 }), extensions: { queueid: 'q' } },
    });
    await bus.publishWire('w', [wire]);
    // Not a CloudEvent: no record of the call is appended.
    const noId = { key: 'k', headers: { ...wire.headers, ce_id: '' }, value: '{}' };
    await expect(bus.publishWire('w', [wire, noId])).rejects.toMatchObject({ status: 400 });
    const oddHeader = { key: 'k', headers: { ...wire.headers, 'x-other': '1' }, value: '{}' };
    await expect(bus.publishWire('w', [oddHeader])).rejects.toThrow(/unexpected header "x-other"/);
    await vi.waitFor(() => expect(got).toHaveLength(1));
    expect(got[0]).toMatchObject({
      key: 'BTCUSDT',
      partition: partitionForKey('BTCUSDT', 3),
      event: { id: 'w1', data: { n: 1 }, extensions: { queueid: 'q' } },
    });
    expect(bus.topicStats('w')?.reduce((n, p) => n + p.end, 0)).toBe(1);
    await sub.close();
    await bus.close();
  });

  it('refuses use after close, and close waits for an in-flight handler', async () => {
    const bus = createMemoryBus();
    let started = false;
    let finished = false;
    await bus.subscribe({
      groupId: 'g',
      topics: ['slow'],
      handler: async () => {
        started = true;
        await new Promise((r) => setTimeout(r, 30));
        finished = true;
      },
    });
    await bus.publish('slow', [{ key: 'K', event: ev('s') }]);
    await vi.waitFor(() => expect(started).toBe(true));
    await bus.close();
    expect(finished).toBe(true);
    await expect(bus.publish('slow', [])).rejects.toThrow(/closed/);
  });
});
