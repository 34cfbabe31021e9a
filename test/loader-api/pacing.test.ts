/**
 * Weight pacing against the simulator's per-IP accounting with a short window: two loaders at
 * once share 127.0.0.1's budget through the used-weight header and earn no 429; a loader that
 * starts into a ban meets it with one request and completes after it lifts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runLoader } from '../../functions/loader-api/handler.ts';
import { Topics } from '../../shared/contracts/events.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { collect, command, makeDeps, memoryBus, startSim, until, type Sim } from './helpers.ts';

const DAY = 86_400_000;
let sim: Sim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

async function loadKlines(
  s: Sim,
  from: number,
  days: number,
  o: { limit: number; windowMs: number; margin: number },
) {
  const bus = memoryBus();
  const store = createSqliteStore({ path: ':memory:' });
  const got = await collect(bus, Topics.data('kline'));
  const cmd = command({
    type: 'api_candles_1m',
    start: from,
    end: from + days * DAY,
    kafka_topic: Topics.data('kline'),
  });
  const code = await runLoader(makeDeps(s, bus, store, { ...o, concurrency: 4 }), {
    commandJson: JSON.stringify(cmd),
    signal: new AbortController().signal,
  });
  await until(() => got.events.some((e) => e.message === 'loader finished'));
  const final = got.events.find((e) => e.message === 'loader finished')!;
  await until(() => got.batches.length === final.batches_published);
  const records = got.batches.reduce((n, b) => n + b.rows.length, 0);
  await got.close();
  await bus.close();
  await store.close();
  return { code, records };
}

describe('weight pacing', () => {
  it('two loaders at once on one IP: zero 429, every window within the limit', async () => {
    // A limit this small needs a larger margin: each loader keeps one 2-weight request in flight,
    // and two rounds of the other's (2 · 1 · 2 = 4) must fit in it (weight-budget.ts).
    const limit = 24;
    sim = await startSim({ weightLimit: limit, weightWindowMs: 2000, gaps: { perYear: 0 } });
    const o = { limit, windowMs: 2000, margin: 0.2 };
    const [a, b] = await Promise.all([
      loadKlines(sim, Date.UTC(2024, 0, 1), 5, o),
      loadKlines(sim, Date.UTC(2024, 3, 1), 5, o),
    ]);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect([a.records, b.records]).toEqual([5 * 1440, 5 * 1440]);
    const stats = await sim.stats();
    expect(stats.rateLimited429).toBe(0);
    expect(stats.banned418).toBe(0);
    // Both loaders needed more than one window's weight: the pacing was exercised.
    const used = stats.windows.spot.filter((w) => w.weight > 0);
    expect(used.length).toBeGreaterThan(1);
    for (const w of used) expect(w.weight).toBeLessThanOrEqual(limit);
  });

  it('a loader starting into a ban (418) waits for Retry-After and completes with no further 418', async () => {
    sim = await startSim({
      weightLimit: 10,
      weightWindowMs: 1000,
      banAfter: 1,
      banMs: 1500,
      gaps: { perYear: 0 },
    });
    // Ignore the 429s until the exchange bans 127.0.0.1.
    for (let i = 0; i < 13; i++) await fetch(`${sim.url}/api/v3/ping`);
    const before = await sim.stats();
    expect(before.banned418).toBeGreaterThan(0);
    const res = await loadKlines(sim, Date.UTC(2024, 0, 1), 2, { limit: 10, windowMs: 1000, margin: 0.1 });
    expect(res).toEqual({ code: 0, records: 2 * 1440 });
    const after = await sim.stats();
    expect(after.banned418 - before.banned418).toBe(1); // the one probe that met the ban
    expect(after.rateLimited429).toBe(before.rateLimited429);
  });
});
