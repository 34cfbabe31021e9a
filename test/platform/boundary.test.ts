/**
 * The publish-only process boundary on the embedded platform (issue 10): loaders are child
 * processes that get their command from their environment and their stop as SIGTERM, and only
 * publish to the parent's ingress. So after many workflows the in-process bus holds exactly the
 * runner's consumer groups (one per KafkaSource) and no records piling up; and a stop that
 * arrives before the child is up is still honoured.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PlatformConfig } from '../../functions/platform/config.ts';
import { startPlatform, type Platform } from '../../functions/platform/platform.ts';
import type { MemoryBus } from '../../shared/bus/memory-bus.ts';
import { loadConfig } from '../../shared/runtime/config.ts';

const logger = pino({ level: 'silent' });
const HOUR = 3_600_000;

interface Wf {
  queue_id: string;
  status: string;
  records_written: number;
  error?: unknown;
}

describe('publish-only boundary (embedded platform)', () => {
  let dir: string;
  let platform: Platform;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sf-boundary-'));
    const cfg = loadConfig(PlatformConfig, {
      PORT: '0',
      SQLITE_PATH: path.join(dir, 'streamforge.sqlite'),
      LOG_LEVEL: 'silent',
      SHUTDOWN_GRACE_MS: '2000',
      JOB_EXIT_GRACE_MS: '100',
    });
    platform = await startPlatform({ cfg, logger, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await platform?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const post = async (body: unknown): Promise<Response> =>
    fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  const get = async (id: string): Promise<Wf> =>
    (await (await fetch(`${platform.url}/workflows/${id}`)).json()) as Wf;
  /** Records retained in the topics some consumer group reads (all but queue-control here). */
  const retained = (bus: MemoryBus): number =>
    bus
      .inventory()
      .topics.filter((t) => platform.topology.sources.some((s) => s.source.spec.topics.includes(t)))
      .flatMap((t) => bus.topicStats(t) ?? [])
      .reduce((n, p) => n + (p.end - p.start), 0);

  it('after 50 workflows the bus holds only the runner groups and no backlog', async () => {
    const bus = platform.bus as MemoryBus;
    const groupsBefore = bus.inventory().groups;
    // One group per KafkaSource of kafka-sources/, and nothing else.
    expect(groupsBefore).toHaveLength(platform.topology.sources.length);
    const symbols = ['BTCUSDT', 'ETHUSDT', 'ETHBTC'];
    const afterRounds: number[] = [];
    for (let round = 0; round < 5; round++) {
      const ids: string[] = [];
      for (let i = 0; i < 10; i++) {
        const n = round * 10 + i;
        const start = Date.UTC(2024, 0, 1) + n * 3 * HOUR;
        const res = await post({
          symbol: symbols[n % symbols.length],
          type: 'api_candles_1h',
          start: new Date(start).toISOString(),
          end: new Date(start + 3 * HOUR).toISOString(),
        });
        expect(res.status).toBe(201);
        ids.push(((await res.json()) as { queue_id: string }).queue_id);
      }
      for (const id of ids)
        await vi.waitFor(
          async () => {
            const wf = await get(id);
            if (wf.status === 'error') throw new Error(`workflow failed: ${JSON.stringify(wf.error)}`);
            expect(wf.status).toBe('completed');
          },
          { timeout: 60_000, interval: 100 },
        );
      // Every group has committed what it was handed: retention has dropped it.
      await vi.waitFor(() => expect(retained(bus)).toBe(0), { timeout: 5000, interval: 50 });
      afterRounds.push(retained(bus));
    }
    expect(bus.inventory().groups).toEqual(groupsBefore);
    expect(afterRounds).toEqual([0, 0, 0, 0, 0]);
    // queue-control is read by loader-ws's group (it ignores other targets' commands): nothing stays.
    await vi.waitFor(
      () => {
        const control = bus.topicStats('queue-control') ?? [];
        expect(control.reduce((n, p) => n + (p.end - p.start), 0)).toBe(0);
      },
      { timeout: 5000, interval: 50 },
    );
  }, 180_000);

  it('a stop that arrives before the loader is up is honoured: cancelled, and nothing is stored', async () => {
    const start = Date.UTC(2023, 0, 1);
    const res = await post({
      symbol: 'BTCUSDT',
      type: 'api_candles_1m',
      start: new Date(start).toISOString(),
      end: new Date(start + 30 * 24 * HOUR).toISOString(),
    });
    expect(res.status).toBe(201);
    const { queue_id } = (await res.json()) as { queue_id: string };
    // At once: the child process is still starting (its module graph takes far longer to load).
    const cancel = await fetch(`${platform.url}/workflows/${queue_id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    // Give a child that missed the stop time to start and publish.
    await new Promise((r) => setTimeout(r, 4000));
    const wf = await get(queue_id);
    expect(wf.status).toBe('cancelled');
    expect(wf.records_written).toBe(0);
    const series = (await (
      await fetch(
        `${platform.url}/series/spot/BTCUSDT/klines_1m/records?from=${new Date(start).toISOString()}&limit=1`,
      )
    ).json()) as { items?: unknown[] };
    expect(series.items ?? []).toEqual([]);
  }, 30_000);
});
