import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import type { Workflow } from '../../shared/contracts/workflow.ts';
import { BODY, FakeLauncher, eventually, queueEvent, startManager, tempDir } from './helpers.ts';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('manager restart', () => {
  it('a second manager over the same SQLite file resumes a workflow and folds later events', async () => {
    const sqlitePath = path.join(tmp.dir, 'restart.sqlite');
    // The bus outlives the managers, as Kafka does; its consumer group keeps the committed offsets.
    const bus = createMemoryBus({ retryBackoffMs: 10 });
    let now = Date.now();
    const clock = () => now;

    const first = await startManager({ sqlitePath, bus, now: clock, settings: { stallTimeoutMs: 60_000 } });
    const wf = (await (await first.request('/workflows', { method: 'POST', body: BODY })).json()) as Workflow;
    const quiet = (await (
      await first.request('/workflows', { method: 'POST', body: { ...BODY, symbol: 'ETHUSDT' } })
    ).json()) as Workflow;
    await bus.publish('queue-events', [
      { key: wf.symbol, event: queueEvent(wf, { status: 'started', seq: 0 }) },
    ]);
    await eventually(async () =>
      (await first.manager.service.get(wf.queue_id)).status === 'started' ? true : undefined,
    );
    await first.close();

    // While no manager runs, the loader goes on reporting.
    await bus.publish('queue-events', [
      {
        key: wf.symbol,
        event: queueEvent(wf, { status: 'loading', seq: 1, progress: { pages: 3, percent: 60 } }),
      },
    ]);

    // Down for longer than the stall timeout: the restarted manager must read what was sent
    // meanwhile before it calls anything silent.
    now += 10 * 60_000;
    // Its jobs outlive it, as Kubernetes Jobs do.
    const second = await startManager({
      sqlitePath,
      bus,
      now: clock,
      launcher: first.launcher,
      settings: { stallTimeoutMs: 60_000 },
    });
    try {
      const resumed = await eventually(async () => {
        const w = await second.manager.service.get(wf.queue_id);
        return w.status === 'loading' ? w : undefined;
      });
      expect(resumed.progress).toMatchObject({ pages: 3, percent: 60 });
      expect(resumed.timeline.map((t) => t.status)).toEqual(['pending', 'started', 'loading']);

      await bus.publish('queue-events', [
        {
          key: wf.symbol,
          event: queueEvent(wf, {
            producer: 'arango-connector',
            status: 'completed',
            finished: true,
            records_written: 288,
          }),
        },
      ]);
      const done = await eventually(async () => {
        const w = await second.manager.service.get(wf.queue_id);
        return w.status === 'completed' ? w : undefined;
      });
      expect(done.records_written).toBe(288);

      // It also watches what the first manager was watching: the silent workflow stalls.
      now += 60_001;
      expect(await second.manager.service.sweep()).toBe(1);
      expect((await second.manager.service.get(quiet.queue_id)).error?.code).toBe('stalled');
    } finally {
      await second.close();
      await bus.close();
    }
  });

  it('ends workflows whose job is gone in job_lost, and takes over the jobs that still exist', async () => {
    const sqlitePath = path.join(tmp.dir, 'restart-jobs.sqlite');
    const bus = createMemoryBus({ retryBackoffMs: 10 });
    const first = await startManager({ sqlitePath, bus, settings: { maxRunningJobs: 2 } });
    const create = async (symbol: string) =>
      (await (
        await first.request('/workflows', { method: 'POST', body: { ...BODY, symbol } })
      ).json()) as Workflow;
    const kept = await create('BTCUSDT');
    const gone = await create('ETHUSDT');
    const queued = await create('BNBUSDT'); // waits for a slot: 2 jobs run
    expect((await first.manager.service.get(queued.queue_id)).waiting).toMatch(/waiting for a job slot/);
    const survivors = first.launcher.existing.filter((j) => j.queue_id === kept.queue_id);
    expect(survivors).toHaveLength(1);
    await first.close();

    // The platform died: of its two jobs only one exists when the next manager starts.
    const launcher = new FakeLauncher();
    launcher.existing = survivors;
    const second = await startManager({ sqlitePath, bus, launcher, settings: { maxRunningJobs: 2 } });
    try {
      const lost = await eventually(async () => {
        const w = await second.manager.service.get(gone.queue_id);
        return w.status === 'error' ? w : undefined;
      });
      expect(lost.error).toMatchObject({ code: 'job_lost', source: 'launcher' });
      expect(lost.error?.message).toMatch(/no job runs attempt 1 any more.*retry the workflow/);
      expect((await second.manager.service.get(kept.queue_id)).status).toBe('pending');
      // The adopted job holds a slot: the waiting workflow takes the one the lost job freed.
      await eventually(() => (launcher.launched.length === 1 ? true : undefined));
      expect(launcher.launched.map((l) => l.command.queue_id)).toEqual([queued.queue_id]);
      expect((await second.manager.service.get(queued.queue_id)).waiting).toBeUndefined();
      // A retry of the lost one waits: both slots are taken.
      const retried = await second.request(`/workflows/${gone.queue_id}/retry`, { method: 'POST' });
      expect(retried.status).toBe(200);
      expect((await second.manager.service.get(gone.queue_id)).waiting).toMatch(/2 of 2 jobs running/);
    } finally {
      await second.close();
      await bus.close();
    }
  });
});
