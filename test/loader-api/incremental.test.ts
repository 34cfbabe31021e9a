/**
 * Incremental backfill: with the coverage ledger filled by a first run (written here the way the
 * sink writes it, from each batch's covers and gaps), a second run over an overlapping range asks
 * the exchange only for the missing part and reports what it skipped.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runLoader } from '../../functions/loader-api/handler.ts';
import { Topics, canonicalCollection } from '../../shared/contracts/events.ts';
import { seriesKey } from '../../shared/contracts/records.ts';
import { recordCoverage } from '../../shared/store/coverage.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import type { Store } from '../../shared/store/store.ts';
import { TIME_CALLS, collect, command, makeDeps, memoryBus, startSim, until, type Sim } from './helpers.ts';

const DAY = 86_400_000;
const GAP = { from: Date.UTC(2024, 2, 2, 10), to: Date.UTC(2024, 2, 2, 13) };
const COLLECTION = canonicalCollection('kline');
const SERIES = seriesKey({ market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' });

let sim: Sim;
let store: Store;
beforeAll(async () => {
  sim = await startSim({ weightLimit: 0, gaps: { perYear: 0, windows: [GAP] } });
  store = createSqliteStore({ path: ':memory:' });
});
afterAll(async () => {
  await store.close();
  await sim.close();
});

/** One run; the batches it published are then written to the ledger as the sink would. */
async function runOnce(from: number, to: number) {
  const bus = memoryBus();
  const got = await collect(bus, Topics.data('kline'));
  const before = (await sim.stats()).requests;
  const cmd = command({
    type: 'api_candles_1m',
    start: from,
    end: to,
    kafka_topic: Topics.data('kline'),
    collection_name: COLLECTION,
  });
  const code = await runLoader(makeDeps(sim, bus, store), {
    commandJson: JSON.stringify(cmd),
    signal: new AbortController().signal,
  });
  await until(
    () => got.batches.length === got.events.find((e) => e.message === 'loader finished')?.batches_published,
  );
  for (const b of got.batches)
    await recordCoverage(store, b.collection, SERIES, { covered: [b.covers!], gaps: b.gaps });
  await got.close();
  await bus.close();
  return { code, got, requests: (await sim.stats()).requests - before };
}

describe('incremental backfill over the coverage ledger', () => {
  it('a second, overlapping run fetches only the missing part and reports skipped_ms', async () => {
    const first = await runOnce(Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 4));
    expect(first.code).toBe(0);
    expect(first.requests).toBe(TIME_CALLS + 5); // ceil(3·1440/1000) pages

    const second = await runOnce(Date.UTC(2024, 2, 3), Date.UTC(2024, 2, 6));
    expect(second.code).toBe(0);
    expect(second.requests).toBe(TIME_CALLS + 3); // only the two new days: ceil(2·1440/1000)
    const times = second.got.batches.flatMap((b) => b.rows.map((r) => Number((r as unknown[])[0])));
    expect(times).toHaveLength(2 * 1440);
    expect(Math.min(...times)).toBe(Date.UTC(2024, 2, 4));
    const started = second.got.events.find((e) => e.status === 'started')!;
    expect(started.progress?.skipped_ms).toBe(DAY);
    const final = second.got.events.find((e) => e.message === 'loader finished')!;
    expect(final.progress).toMatchObject({ skipped_ms: DAY, percent: 100, records: 2 * 1440 });
  });

  it('a range inside what is stored or a known exchange gap needs no exchange request at all', async () => {
    const run = await runOnce(GAP.from - 3_600_000, GAP.to);
    expect(run.code).toBe(0);
    expect(run.requests).toBe(0);
    expect(run.got.batches).toHaveLength(0);
    const final = run.got.events.find((e) => e.message === 'loader finished')!;
    expect(final).toMatchObject({
      batches_published: 0,
      progress: { skipped_ms: GAP.to - GAP.from + 3_600_000, percent: 100 },
    });
  });
});
