import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import type { QueueEvent, Workflow } from '../../shared/contracts/workflow.ts';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import { createWatchdog } from '../../functions/queue-manager/watchdog.ts';
import { BODY, FakeLauncher, eventually, logger, queueEvent, startManager, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const STALL = 60_000;

describe('stall watchdog', () => {
  it('fails silent non-terminal workflows with `stalled` and stops their jobs; leaves the others', async () => {
    let now = Date.parse('2024-09-01T00:00:00Z');
    const m = await startManager({
      sqlitePath: path.join(tmp.dir, 'watchdog.sqlite'),
      settings: { stallTimeoutMs: STALL, watchdogIntervalMs: 3_600_000 },
      now: () => now,
    });
    try {
      const create = async (symbol: string) =>
        (await (
          await m.request('/workflows', { method: 'POST', body: { ...BODY, symbol } })
        ).json()) as Workflow;
      const silent = await create('BTCUSDT');
      const chatty = await create('ETHUSDT');
      const done = await create('BNBUSDT');
      await m.manager.handleEvent(
        queueEvent(done, { producer: 'arango-connector', status: 'completed', finished: true }),
      );

      now += STALL / 2;
      await m.manager.handleEvent(queueEvent(chatty, { status: 'loading', seq: 1 }));
      expect(await m.manager.service.sweep()).toBe(0);

      now += STALL / 2 + 1; // silent: STALL + 1 ms; chatty: STALL / 2 + 1 ms
      expect(await m.manager.service.sweep()).toBe(1);

      const s = await m.manager.service.get(silent.queue_id);
      expect(s.status).toBe('error');
      expect(s.error?.code).toBe('stalled');
      expect(s.error?.message).toMatch(/no queue-event for 60 s/);
      expect(s.timeline.at(-1)).toMatchObject({ producer: 'queue-manager', status: 'error' });
      expect(m.launcher.cancelled).toEqual([silent.queue_id]);
      await eventually(() => m.commands.find((c) => c.command === 'stop' && c.queue_id === silent.queue_id));

      expect((await m.manager.service.get(chatty.queue_id)).status).toBe('loading');
      expect((await m.manager.service.get(done.queue_id)).status).toBe('completed');

      now += STALL * 10;
      expect(await m.manager.service.sweep()).toBe(1); // chatty now; the terminal ones stay as they are
      expect((await m.manager.service.get(done.queue_id)).status).toBe('completed');
      expect((await m.manager.service.get(silent.queue_id)).error?.code).toBe('stalled');
    } finally {
      await m.close();
    }
  });

  it('counts silence from the last time its store was away, not from before the outage', async () => {
    let now = Date.parse('2024-09-01T00:00:00Z');
    const sqlitePath = path.join(tmp.dir, 'watchdog-outage.sqlite');
    const m = await startManager({
      sqlitePath,
      busyTimeoutMs: 20,
      settings: { stallTimeoutMs: STALL, watchdogIntervalMs: 3_600_000 },
      now: () => now,
    });
    try {
      const wf = (await (await m.request('/workflows', { method: 'POST', body: BODY })).json()) as Workflow;
      now += STALL - 1000;
      // Another connection holds the write lock: the manager cannot record this event (503; the
      // KafkaSource redelivers it later).
      const other = new Database(sqlitePath);
      other.exec('BEGIN EXCLUSIVE');
      await expect(
        m.manager.service.ingest(queueEvent(wf, { status: 'loading', seq: 1 }).data as QueueEvent),
      ).rejects.toBeInstanceOf(DependencyError);
      other.exec('COMMIT');
      other.close();
      now += 2000; // STALL + 1 s after the last recorded event, 2 s after the outage
      expect(await m.manager.service.sweep()).toBe(0);
      now += STALL;
      expect(await m.manager.service.sweep()).toBe(1);
      expect((await m.manager.service.get(wf.queue_id)).error?.code).toBe('stalled');
    } finally {
      await m.close();
    }
  });

  it('calls no one silent while the bus is away, and counts silence from when it is back', async () => {
    let now = Date.parse('2024-09-01T00:00:00Z');
    const bus = createMemoryBus({ retryBackoffMs: 10 });
    let brokerDown = false;
    const ping = bus.ping.bind(bus);
    bus.ping = () =>
      brokerDown ? Promise.reject(new DependencyError('kafka: no broker available')) : ping();
    const m = await startManager({
      sqlitePath: path.join(tmp.dir, 'watchdog-bus.sqlite'),
      bus,
      settings: { stallTimeoutMs: STALL, watchdogIntervalMs: 3_600_000 },
      now: () => now,
    });
    try {
      const wf = (await (await m.request('/workflows', { method: 'POST', body: BODY })).json()) as Workflow;
      brokerDown = true;
      now += STALL + 1000;
      expect(await m.manager.service.sweep()).toBe(0);
      brokerDown = false;
      now += 1000;
      expect(await m.manager.service.sweep()).toBe(0); // 1 s since the bus came back
      now += STALL;
      expect(await m.manager.service.sweep()).toBe(1);
      expect((await m.manager.service.get(wf.queue_id)).error?.code).toBe('stalled');
    } finally {
      await m.close();
    }
  });

  it('with feedLater, judges no one before its feed connected, and counts silence from then', async () => {
    let now = Date.parse('2024-09-01T00:00:00Z');
    const sqlitePath = path.join(tmp.dir, 'watchdog-feed.sqlite');
    const first = await startManager({ sqlitePath, settings: { stallTimeoutMs: STALL }, now: () => now });
    const wf = (await (await first.request('/workflows', { method: 'POST', body: BODY })).json()) as Workflow;
    await first.close();
    // The platform restarts; its runner takes long to join the groups.
    const launcher = new FakeLauncher(); // the loader died with the platform
    const m = await startManager({
      sqlitePath,
      launcher,
      feedLater: true,
      settings: { stallTimeoutMs: STALL, watchdogIntervalMs: 3_600_000 },
      now: () => now,
    });
    try {
      now += 3 * STALL;
      expect(await m.manager.service.sweep()).toBe(0);
      await new Promise((r) => setTimeout(r, 100)); // past the exit grace: still no job_lost
      expect((await m.manager.service.get(wf.queue_id)).status).toBe('pending');
      m.manager.service.feedConnected(now);
      const lost = await eventually(async () => {
        const w = await m.manager.service.get(wf.queue_id);
        return w.status === 'error' ? w : undefined;
      });
      expect(lost.error?.code).toBe('job_lost');
    } finally {
      await m.close();
    }
  });

  it('counts silence from when its feed connected', async () => {
    let now = Date.parse('2024-09-01T00:00:00Z');
    const m = await startManager({
      sqlitePath: path.join(tmp.dir, 'watchdog-feed-silence.sqlite'),
      feedLater: true,
      settings: { stallTimeoutMs: STALL, watchdogIntervalMs: 3_600_000 },
      now: () => now,
    });
    try {
      const wf = (await (await m.request('/workflows', { method: 'POST', body: BODY })).json()) as Workflow;
      now += STALL / 2;
      m.manager.service.feedConnected(now);
      now += STALL / 2 + 1000;
      expect(await m.manager.service.sweep()).toBe(0);
      now += STALL / 2;
      expect(await m.manager.service.sweep()).toBe(1);
      expect((await m.manager.service.get(wf.queue_id)).error?.code).toBe('stalled');
    } finally {
      await m.close();
    }
  });

  it('runs sweeps on its timer, never two at once', async () => {
    let calls = 0;
    let concurrent = 0;
    let maxConcurrent = 0;
    const wd = createWatchdog({
      intervalMs: 5,
      logger,
      sweep: async () => {
        calls += 1;
        concurrent += 1;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await new Promise((r) => setTimeout(r, 30));
        concurrent -= 1;
        return 0;
      },
    });
    wd.start();
    await eventually(() => (calls >= 3 ? true : undefined));
    await wd.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(after);
    expect(maxConcurrent).toBe(1);
  });
});
