/**
 * A manager over real adapters (memory bus, SQLite temp file) and a fake launcher at the port,
 * with its one intake: the local runner delivering queue-events from the bus as its KafkaSource
 * (kafka-sources/queue-manager.yaml) does, in-process.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { BusEvent, EventBus } from '../../shared/bus/event-bus.ts';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import { EventTypes, Topics, sourceOf } from '../../shared/contracts/events.ts';
import type { QueueCommand, QueueEventInput, Workflow } from '../../shared/contracts/workflow.ts';
import type {
  ExistingJob,
  JobExit,
  JobHandle,
  JobLauncher,
  JobSpec,
} from '../../shared/jobs/job-launcher.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import type { Store } from '../../shared/store/store.ts';
import { createLocalRunner } from '../../functions/local-runner/runner.ts';
import { createManager, type Manager } from '../../functions/queue-manager/app.ts';
import { loadTopology } from '../../shared/topology/load.ts';
import type { ManagerSettings } from '../../functions/queue-manager/config.ts';

export const logger = createLogger('test', 'silent');

export class FakeLauncher implements JobLauncher {
  launched: JobSpec[] = [];
  cancelled: string[] = [];
  failNext: Error | undefined;
  /** What `list()` answers: jobs launched and not exited (a test may set it, as for a restart). */
  existing: ExistingJob[] = [];
  private listeners: ((e: JobExit) => void)[] = [];
  private n = 0;

  launch(spec: JobSpec): Promise<JobHandle> {
    if (this.failNext) {
      const err = this.failNext;
      this.failNext = undefined;
      return Promise.reject(err);
    }
    this.launched.push(spec);
    this.n += 1;
    const handle = { name: `fake-${this.n}`, queue_id: spec.command.queue_id };
    this.existing.push({ ...handle, attempt: spec.command.attempt });
    return Promise.resolve(handle);
  }
  list(): Promise<ExistingJob[]> {
    return Promise.resolve([...this.existing]);
  }
  cancel(queueId: string): Promise<void> {
    this.cancelled.push(queueId);
    return Promise.resolve();
  }
  onExit(listener: (e: JobExit) => void): void {
    this.listeners.push(listener);
  }
  exit(e: JobExit): void {
    this.existing = this.existing.filter((j) => j.name !== e.name);
    for (const l of this.listeners) l(e);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-qm-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestManager {
  manager: Manager;
  store: Store;
  bus: EventBus;
  launcher: FakeLauncher;
  /** Commands seen on queue-control. */
  commands: QueueCommand[];
  request(path: string, init?: { method?: string; body?: unknown; token?: string }): Promise<Response>;
  close(): Promise<void>;
}

export async function startManager(opts: {
  sqlitePath: string;
  /** The store's busy_timeout (default 5 s). */
  busyTimeoutMs?: number;
  bus?: EventBus;
  settings?: Partial<ManagerSettings>;
  now?: () => number;
  launcher?: FakeLauncher;
  intakeAuth?: (authorization: string | undefined) => Promise<void>;
  feedLater?: boolean;
}): Promise<TestManager> {
  const store = createSqliteStore({ path: opts.sqlitePath, busyTimeoutMs: opts.busyTimeoutMs });
  const bus = opts.bus ?? createMemoryBus({ retryBackoffMs: 10 });
  const launcher = opts.launcher ?? new FakeLauncher();
  const manager = createManager({
    store,
    bus,
    launcher,
    logger,
    settings: { jobExitGraceMs: 20, ...opts.settings },
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.intakeAuth ? { intakeAuth: opts.intakeAuth } : {}),
    ...(opts.feedLater ? { feedLater: true } : {}),
  });
  await manager.start();
  const topology = await loadTopology(path.resolve(import.meta.dirname, '../../kafka-sources'));
  const runner = createLocalRunner({
    bus,
    sources: topology.sources.map((s) => s.source).filter((s) => s.spec.sink.ref?.name === 'queue-manager'),
    resolveService: () => undefined,
    direct: (name) => (name === 'queue-manager' ? manager.functionApp.deliver : undefined),
    deadLetterTopic: Topics.deadLetter,
    logger,
  });
  await runner.start();
  const commands: QueueCommand[] = [];
  const sub = await bus.subscribe({
    groupId: `test-${Math.random()}`,
    topics: [Topics.control],
    handler: (msg) => {
      commands.push(msg.event.data as QueueCommand);
      return Promise.resolve();
    },
  });
  return {
    manager,
    store,
    bus,
    launcher,
    commands,
    request: async (p, init = {}) => {
      const headers: Record<string, string> = {};
      if (init.body !== undefined) headers['content-type'] = 'application/json';
      if (init.token) headers['authorization'] = `Bearer ${init.token}`;
      return manager.app.request(p, {
        method: init.method ?? 'GET',
        headers,
        ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      });
    },
    close: async () => {
      await sub.close();
      await runner.stop();
      await manager.stop();
      if (!opts.bus) await bus.close();
      await store.close();
    },
  };
}

export function queueEvent(
  wf: Pick<Workflow, 'queue_id' | 'symbol' | 'type'>,
  over: Partial<QueueEventInput>,
): BusEvent {
  return makeEvent({
    type: EventTypes.queueEvent,
    source: sourceOf(over.producer ?? 'loader-api'),
    data: {
      queue_id: wf.queue_id,
      producer: 'loader-api',
      symbol: wf.symbol,
      type: wf.type,
      status: 'loading',
      timestamp: new Date().toISOString(),
      attempt: 1,
      ...over,
    },
  });
}

/** Polls `check` until it returns a value (or times out with the last error). */
export async function eventually<T>(
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export const BODY = { symbol: 'BTCUSDT', type: 'api_candles_5m', time_range: '2024-08-01:2024-08-02' };
