/**
 * Resume from the checkpoint. First in-process: a run that dies on its k-th publish is restarted
 * on the same store and fetches only pages k.. again. Then the real thing: main.ts as a child
 * process on a SQLite file, publishing to the parent's ingress (STREAMFORGE_INGRESS_URL), is
 * killed with SIGKILL mid-range and started again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { afterEach, describe, expect, it } from 'vitest';
import { runLoader } from '../../functions/loader-api/handler.ts';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { createIngress } from '../../shared/bus/ingress.ts';
import { createConnector } from '../../functions/arango-connector/app.ts';
import { EventTypes, Topics, canonicalCollection } from '../../shared/contracts/events.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import {
  TIME_CALLS,
  collect,
  command,
  makeDeps,
  memoryBus,
  silent,
  startSim,
  until,
  type Sim,
} from './helpers.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const T0 = Date.UTC(2024, 0, 1);
const DAY = 86_400_000;
const TOPIC = Topics.data('kline');

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A bus whose data-topic publishes fail from the `failAt`-th on: the process "dies" there. */
function dyingBus(bus: EventBus, failAt: number): EventBus {
  let n = 0;
  return {
    ...bus,
    publish: async (topic, messages) => {
      if (topic === TOPIC && ++n >= failAt) throw new Error('process died');
      await bus.publish(topic, messages);
    },
  };
}

describe('resume from the checkpoint', () => {
  it('in process: a restarted run publishes the remaining pages only, fetching none of the published ones again', async () => {
    const sim = await startSim({ weightLimit: 0 });
    cleanups.push(() => sim.close());
    const bus = memoryBus();
    const store = createSqliteStore({ path: ':memory:' });
    cleanups.push(() => store.close());
    const got = await collect(bus, TOPIC);
    const cmd = JSON.stringify(
      command({ type: 'api_candles_1m', start: T0, end: T0 + 10 * DAY, kafka_topic: TOPIC }),
    );
    const pages = Math.ceil((10 * 1440) / 1000);

    const first = await runLoader(makeDeps(sim, dyingBus(bus, 5), store, { concurrency: 1 }), {
      commandJson: cmd,
      signal: new AbortController().signal,
    });
    expect(first).toBe(1);
    const afterFirst = (await sim.stats()).requests;

    const second = await runLoader(makeDeps(sim, bus, store, { concurrency: 1 }), {
      commandJson: cmd,
      signal: new AbortController().signal,
    });
    expect(second).toBe(0);
    // Batches and queue-events are different topics, each consumed by its own loop: wait for both.
    await until(
      () => got.batches.length === pages && got.events.some((e) => e.message === 'loader finished'),
    );
    expect(got.batches.map((b) => b.seq)).toEqual(Array.from({ length: pages }, (_, i) => i));
    expect((await sim.stats()).requests - afterFirst).toBe(TIME_CALLS + (pages - 4)); // pages 4.. only
    const times = got.batches.flatMap((b) => b.rows.map((r) => Number((r as unknown[])[0])));
    expect(new Set(times).size).toBe(10 * 1440);
    expect(got.events.find((e) => e.message === 'loader finished')?.batches_published).toBe(pages);
  });

  it('child process killed with SIGKILL mid-range: the next run resumes; every candle is stored once', async () => {
    const sim: Sim = await startSim({ weightLimit: 0 });
    cleanups.push(() => sim.close());
    const bus = memoryBus();
    const ingress = createIngress({ bus, logger: silent, token: 'secret' });
    const server = createAdaptorServer({ fetch: ingress.app.fetch }) as Server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const dir = mkdtempSync(path.join(tmpdir(), 'sf-loader-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const got = await collect(bus, TOPIC);
    // The sink, as the platform runs it: every batch and the loader's final event to the connector.
    const sinkStore = createSqliteStore({ path: ':memory:' });
    const connector = createConnector({ store: sinkStore, bus, logger: silent });
    await connector.start();
    const sink = await bus.subscribe({
      groupId: 'sink',
      topics: [TOPIC, Topics.events],
      handler: async (m) => {
        if (m.topic === TOPIC || m.event.type === EventTypes.queueEvent)
          await connector.handler.handleEvent(m.event);
      },
    });
    cleanups.push(async () => {
      await sink.close();
      await connector.stop();
      await sinkStore.close();
    });
    const days = 15;
    const cmd = command({ type: 'api_candles_1m', start: T0, end: T0 + days * DAY, kafka_topic: TOPIC });
    const env = {
      PATH: process.env['PATH'],
      STREAMFORGE_COMMAND: JSON.stringify(cmd),
      STREAMFORGE_INGRESS_URL: `http://bus:secret@127.0.0.1:${(server.address() as AddressInfo).port}/streamforge`,
      KAFKA_BROKERS: '',
      SQLITE_PATH: path.join(dir, 'store.sqlite'),
      BINANCE_API_URL: sim.url,
      BINANCE_FAPI_URL: sim.url,
      BINANCE_WEIGHT_LIMIT: '6000',
      BINANCE_WEIGHT_WINDOW_MS: '60000',
      LOADER_CONCURRENCY: '2',
      LOG_LEVEL: 'warn',
    };
    const start = (): ChildProcess =>
      spawn(process.execPath, ['--import', 'tsx', 'functions/loader-api/main.ts'], {
        cwd: repoRoot,
        env,
        stdio: 'ignore',
      });
    const exited = (p: ChildProcess) =>
      new Promise<{ code: number | null; signal: string | null }>((resolve) =>
        p.once('exit', (code, signal) => resolve({ code, signal })),
      );

    const a = start();
    cleanups.push(() => void a.kill('SIGKILL'));
    await until(() => got.batches.length >= 5, 30_000);
    a.kill('SIGKILL');
    expect(await exited(a)).toEqual({ code: null, signal: 'SIGKILL' });
    const seenBeforeKill = got.batches.length;
    const lastSeqA = Math.max(...got.batches.map((b) => b.seq));

    const b = start();
    cleanups.push(() => void b.kill('SIGKILL'));
    expect(await exited(b)).toEqual({ code: 0, signal: null });
    const final = () => got.events.find((e) => e.message === 'loader finished');
    await until(() => final() !== undefined);
    const n = final()!.batches_published!;
    await until(() => new Set(got.batches.map((x) => x.seq)).size === n);

    // Run B started where A's checkpoint was: at most the one page A published but had not
    // checkpointed comes again, with the same seq and the same batch id.
    const firstOfB = got.batches[seenBeforeKill]!;
    expect(firstOfB.seq === lastSeqA || firstOfB.seq === lastSeqA + 1).toBe(true);
    const bySeq = new Map<number, string>();
    got.batches.forEach((x, i) => {
      const id = got.batchIds[i]!;
      if (bySeq.has(x.seq)) expect(bySeq.get(x.seq)).toBe(id);
      bySeq.set(x.seq, id);
    });
    expect(got.batches.length - n).toBeLessThanOrEqual(1);
    const times = new Set(got.batches.flatMap((x) => x.rows.map((r) => Number((r as unknown[])[0]))));
    expect(times.size).toBe(days * 1440);
    // Stored: every candle once, and the workflow completed with each counted once.
    const completed = () => got.events.find((e) => e.status === 'completed');
    await until(() => completed() !== undefined);
    expect(await sinkStore.count(canonicalCollection('kline'))).toBe(days * 1440);
    expect(completed()?.records_written).toBe(days * 1440);
    // The /time calls of both runs, the pages, and at most the pages in flight at the kill plus the duplicate.
    expect((await sim.stats()).requests).toBeLessThanOrEqual(2 * TIME_CALLS + n + 2 + 1);
  });
});
