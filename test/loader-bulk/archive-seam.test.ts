/**
 * loader-bulk over real HTTP against the simulator's archive and REST API: the exact record set
 * of a range spanning a monthly file, daily files and a REST tail (no duplicate, no hole at any
 * seam), checksum mismatches and missing days filled over REST and noted, µs files stored as ms,
 * and a second run over the same range fetching nothing.
 */
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBulkLoader } from '../../functions/loader-bulk/handler.ts';
import { createArchiveClient, type ArchiveClient } from '../../shared/archive/download.ts';
import { klineNextOpenTime, type KlineInterval, type Market } from '../../shared/contracts/common.ts';
import { Topics, canonicalCollection } from '../../shared/contracts/events.ts';
import type { Row } from '../../shared/contracts/rows.ts';
import type { QueueCommand, QueueEvent } from '../../shared/contracts/workflow.ts';
import { mergeRangeSet } from '../../shared/store/ranges.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import type { Range, Store } from '../../shared/store/store.ts';
import { zipOne } from '../archive/zip-writer.ts';
import { collect, command, makeDeps, memoryBus, startSim, until, type Sim } from '../loader-api/helpers.ts';

const DAY = 86_400_000;
/** The simulator's clock: 2024-03-05 12:00 UTC, so February's monthly file is published. */
const NOW = Date.UTC(2024, 2, 5, 12);

let sim: Sim;
beforeAll(async () => {
  sim = await startSim({
    seed: 11,
    weightLimit: 0,
    now: () => NOW,
    gaps: { perYear: 0, windows: [{ from: Date.UTC(2024, 1, 20, 3), to: Date.UTC(2024, 1, 20, 4) }] },
    archive: {
      missingDaily: ['BTCUSDT:2024-03-02'],
      badChecksum: ['BTCUSDT-1m-2024-03-03.zip'],
    },
  });
});
afterAll(() => sim.close());

function bulk(c: Pick<QueueCommand, 'start' | 'end'> & Partial<QueueCommand>): QueueCommand {
  return command({ type: 'bulk_candles_1m', target: 'loader-bulk', ...c });
}

interface RunOptions {
  store?: Store;
  kind?: 'kline' | 'agg_trade';
  /** Another simulator than the shared one (another clock). */
  exchange?: Sim;
  /** Wraps the real archive client, to damage what it downloaded. */
  wrap?: (real: ArchiveClient) => ArchiveClient;
  /** Dead letters to wait for (they travel on their own topic). */
  letters?: number;
}

/** Runs one loader-bulk command to its end; what it published, its dead letters and exit code. */
async function run(cmd: QueueCommand, o: RunOptions = {}) {
  const at = o.exchange ?? sim;
  const store = o.store ?? createSqliteStore({ path: ':memory:' });
  const bus = memoryBus();
  const got = await collect(bus, Topics.data(o.kind ?? 'kline'));
  const letters: unknown[] = [];
  const sub = await bus.subscribe({
    groupId: `test-dead-letters-${Math.random()}`,
    topics: [Topics.deadLetter],
    from: 'earliest',
    handler: (m) => {
      letters.push(m.event.data);
      return Promise.resolve();
    },
  });
  const real = createArchiveClient({ baseUrl: at.url, backoffBaseMs: 5 });
  // The loader learns the simulator's clock (NOW) from its /time, as it would the exchange's.
  const code = await runBulkLoader(o.wrap?.(real) ?? real, makeDeps(at, bus, store), {
    commandJson: JSON.stringify(cmd),
    signal: new AbortController().signal,
  });
  real.close();
  await untilFinished(got);
  await until(() => letters.length >= (o.letters ?? 0));
  await sub.close();
  await got.close();
  await bus.close();
  const final = got.events.find((e) => e.message === 'loader finished');
  return { code, ...got, letters, final, store };
}

/** The final event is in and so is every batch it counts (the data topic may arrive later). */
function untilFinished(got: { events: QueueEvent[]; batches: { seq: number }[] }): Promise<void> {
  return until(
    () =>
      got.events.some((e) => e.status === 'error') ||
      got.events.some(
        (e) =>
          e.message === 'loader finished' &&
          new Set(got.batches.map((b) => b.seq)).size >= (e.batches_published ?? 0),
      ),
  );
}

/** Aggregate trade ids the simulator has in [from, to), in order. */
function aggTradeIds(market: Market, r: Range): number[] {
  const first = sim.ex.data.aggTrades(market, 'BTCUSDT', { startTime: r.from, limit: 1 }, NOW)[0]!;
  const after = sim.ex.data.aggTrades(market, 'BTCUSDT', { startTime: r.to, limit: 1 }, NOW)[0]!;
  return Array.from({ length: after.a - first.a }, (_, i) => first.a + i);
}

const aggTrades = (market: Market, r: Range): QueueCommand =>
  command({
    type: 'bulk_agg_trades',
    target: 'loader-bulk',
    market,
    start: r.from,
    end: r.to,
    kafka_topic: 'binance-agg-trade',
    collection_name: 'market_agg_trades',
  });

const firstColumn = (batches: { rows: unknown[] }[]): number[] =>
  batches.flatMap((b) => (b.rows as Row[]).map((r) => r[0] as number));

/** What the simulator's REST API has for the range: open times, and the missing slots as gaps. */
function truth(interval: KlineInterval, r: Range) {
  const builder = sim.ex.data.candles('spot', 'BTCUSDT');
  const keys: number[] = [];
  const gaps: Range[] = [];
  for (let t = r.from; t < r.to; t = klineNextOpenTime(interval, t)) {
    if (builder.candle(interval, t, NOW)) keys.push(t);
    else gaps.push({ from: t, to: klineNextOpenTime(interval, t) });
  }
  return { keys, gaps: mergeRangeSet(gaps) };
}

describe('loader-bulk: archive then REST, one seamless series', () => {
  it('a monthly file, daily files (one missing, one replaced) and a REST tail give every candle once', async () => {
    // From February (a monthly file) to 2024-03-05 06:00: daily files for March 1..4, of which
    // the 2nd is missing and the 3rd's checksum does not match; the 5th's morning over REST.
    const range = { from: Date.UTC(2024, 1, 1), to: Date.UTC(2024, 2, 5, 6) };
    const res = await run(bulk({ start: range.from, end: range.to }));
    expect(res.code).toBe(0);

    const rows = res.batches.flatMap((b) => b.rows as Row[]);
    const times = rows.map((r) => r[0] as number);
    const want = truth('1m', range);
    expect(times).toEqual(want.keys); // in order, each once: no overlap and no hole at the seams
    // The batches tile the range in seq order, and the exchange gaps are the simulator's.
    const covers = res.batches.map((b) => b.covers!);
    expect(mergeRangeSet(covers)).toEqual([range]);
    expect(covers.reduce((n, c) => n + (c.to - c.from), 0)).toBe(range.to - range.from);
    expect(mergeRangeSet(res.batches.flatMap((b) => b.gaps))).toEqual(want.gaps);
    // Archive rows are the REST rows, field for field.
    const rest = (await (
      await fetch(`${sim.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime=${range.from}&limit=1000`)
    ).json()) as unknown[][];
    expect(rows.slice(0, 1000)).toEqual(rest);

    const final = res.final!;
    const fromRest = DAY * 2 + 6 * 3_600_000; // March 2 and 3 and the 5th's morning
    expect(final.progress?.rest_records).toBe(fromRest / 60_000);
    expect(final.progress?.archive_records).toBe(want.keys.length - fromRest / 60_000);
    expect(final.notes).toEqual([
      'BTCUSDT-1m-2024-03-02.zip missing or late on the archive; loaded over REST',
      'BTCUSDT-1m-2024-03-03.zip: checksum does not match its .CHECKSUM twice (replaced on the archive?); loaded over REST',
    ]);
  });

  it('µs timestamps of 2025 spot files are stored as ms', async () => {
    const now2025 = Date.UTC(2025, 0, 3);
    const s2025 = await startSim({ seed: 11, weightLimit: 0, now: () => now2025, gaps: { perYear: 0 } });
    try {
      const day = { from: Date.UTC(2025, 0, 1), to: Date.UTC(2025, 0, 2) };
      const res = await run(bulk({ type: 'bulk_candles_1h', start: day.from, end: day.to }), {
        exchange: s2025,
      });
      expect(res.code).toBe(0);
      const rows = res.batches.flatMap((b) => b.rows as Row[]);
      expect(rows).toHaveLength(24);
      expect(rows[0]?.[0]).toBe(day.from);
      expect(rows[0]?.[6]).toBe(day.from + 3_600_000 - 1);
      expect(res.final?.progress).toMatchObject({ archive_records: 24, rest_records: 0 });
    } finally {
      await s2025.close();
    }
  });

  it('a second workflow over a stored range fetches nothing', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const range = { from: Date.UTC(2024, 1, 10), to: Date.UTC(2024, 1, 12) };
    const first = await run(bulk({ start: range.from, end: range.to }), { store });
    // What the connector would record: the ledger says the range is stored.
    const { recordCoverage } = await import('../../shared/store/coverage.ts');
    await store.ensureCollection(canonicalCollection('kline'), 'series', 'kline');
    await recordCoverage(store, canonicalCollection('kline'), 'spot:BTCUSDT:klines_1m', {
      covered: first.batches.map((b) => b.covers!),
    });
    const before = (await sim.stats()) as unknown as { archive: { zip: number } };
    const second = await run(bulk({ start: range.from, end: range.to }), { store });
    const after = (await sim.stats()) as unknown as { archive: { zip: number } };
    expect(second.code).toBe(0);
    expect(second.batches).toHaveLength(0);
    expect(after.archive.zip).toBe(before.archive.zip);
  });
});

describe('loader-bulk: trades across files and REST, and a stopped run resumed', () => {
  it('bulk_agg_trades: every aggregate trade id once across daily files and a partial-day REST piece', async () => {
    // Half of 2024-02-27 over REST, then the 28th and 29th from daily files (February is not a
    // whole month here), so the file/REST seam falls inside the trade id sequence.
    const range = { from: Date.UTC(2024, 1, 27, 20), to: Date.UTC(2024, 1, 29) };
    const res = await run(aggTrades('spot', range), { kind: 'agg_trade' });
    expect(res.code).toBe(0);
    const ids = firstColumn(res.batches);
    expect(ids).toEqual(aggTradeIds('spot', range));
    expect(mergeRangeSet(res.batches.map((b) => b.covers!))).toEqual([range]);
    const final = res.final!;
    expect(final.progress?.rest_records).toBeGreaterThan(0);
    expect(final.progress?.archive_records).toBeGreaterThan(0);
    expect((final.progress?.rest_records ?? 0) + (final.progress?.archive_records ?? 0)).toBe(ids.length);
  });

  it('a run stopped mid-way resumes from its checkpoint: every candle once over both runs', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    const range = { from: Date.UTC(2024, 1, 1), to: Date.UTC(2024, 1, 8) };
    const cmd = bulk({ start: range.from, end: range.to });
    const bus = memoryBus();
    const got = await collect(bus, Topics.data('kline'));
    const archive = createArchiveClient({ baseUrl: sim.url, backoffBaseMs: 5 });
    const stop = new AbortController();
    // Stop after the third batch is out: the next ones of the same run are never published.
    const deps = makeDeps(sim, bus, store);
    const publish = deps.bus.publish.bind(deps.bus);
    let data = 0;
    deps.bus = {
      ...deps.bus,
      publish: async (topic, msgs) => {
        await publish(topic, msgs);
        if (topic === 'binance-kline' && ++data === 3) stop.abort(new Error('SIGTERM'));
      },
    };
    expect(
      await runBulkLoader(archive, deps, { commandJson: JSON.stringify(cmd), signal: stop.signal }),
    ).toBe(0);
    await until(() => got.events.some((e) => e.status === 'cancelled'));
    expect(got.batches.length).toBeLessThan(10);
    // The Job restarted: same command, same checkpoint.
    const again = makeDeps(sim, bus, store);
    expect(
      await runBulkLoader(archive, again, {
        commandJson: JSON.stringify(cmd),
        signal: new AbortController().signal,
      }),
    ).toBe(0);
    await untilFinished(got);
    archive.close();
    // A batch published but not checkpointed comes again with the same seq (the sink dedupes by
    // batch id); by seq, the record set is exact.
    const bySeq = new Map(got.batches.map((b) => [b.seq, b]));
    const times = [...bySeq.values()]
      .sort((a, b) => a.seq - b.seq)
      .flatMap((b) => (b.rows as Row[]).map((r) => r[0] as number));
    expect(times).toEqual(truth('1m', range).keys);
    await got.close();
    await bus.close();
  });
});

describe('loader-bulk: a corrupt file', () => {
  it('a zip that passes its checksum but does not inflate is loaded over REST, noted, never half published', async () => {
    // The archive served a truncated zip whose CHECKSUM matches it (binance-public-data #435):
    // the client is real, the damage is done to the downloaded file.
    const wrap = (real: ArchiveClient): ArchiveClient => ({
      ...real,
      async download(p, o) {
        const d = await real.download(p, o);
        if (d.kind === 'ok' && p.endsWith('BTCUSDT-1m-2024-02-14.zip')) await truncate(d.file, d.bytes >> 1);
        return d;
      },
    });
    const range = { from: Date.UTC(2024, 1, 13), to: Date.UTC(2024, 1, 16) };
    const res = await run(bulk({ start: range.from, end: range.to }), { wrap });
    expect(res.code).toBe(0);
    expect(firstColumn(res.batches)).toEqual(truth('1m', range).keys);
    expect(res.final?.progress).toMatchObject({ archive_records: 2 * 1440, rest_records: 1440 });
    expect(res.final?.notes).toHaveLength(1);
    expect(res.final?.notes?.[0]).toMatch(/^BTCUSDT-1m-2024-02-14\.zip is corrupt \(.+\); loaded over REST$/);
  });
});

describe('loader-bulk: USD-M files and a line that does not parse', () => {
  it('USD-M aggTrades come from futures files with their header row, every id once', async () => {
    const range = { from: Date.UTC(2024, 1, 20), to: Date.UTC(2024, 1, 22) };
    const res = await run(aggTrades('usdm', range), { kind: 'agg_trade' });
    expect(res.code).toBe(0);
    const ids = firstColumn(res.batches);
    expect(ids).toEqual(aggTradeIds('usdm', range));
    // Futures rows have no is_best_match: null in the row.
    expect((res.batches[0]?.rows as Row[])[0]?.[7]).toBeNull();
    expect(res.final?.progress).toMatchObject({ archive_records: ids.length, rest_records: 0 });
  });

  it('an unparseable line is dead-lettered with its file and line number; the rest of the file is stored', async () => {
    const target = 'BTCUSDT-1h-2024-02-21.zip';
    const broken = '1708480800000,not-a-price,1,1,1,1,1708484399999,1,1,1,1,0';
    const wrap = (real: ArchiveClient): ArchiveClient => ({
      ...real,
      async download(p, o) {
        const d = await real.download(p, o);
        if (d.kind === 'ok' && p.endsWith(target)) {
          // The file as served, with a broken line inserted as line 3 (re-zipped after the check).
          const csv = new TextDecoder().decode(Object.values(unzipSync(await readFile(d.file)))[0]);
          const lines = csv.split('\n');
          lines.splice(2, 0, broken);
          await writeFile(d.file, zipOne('BTCUSDT-1h-2024-02-21.csv', lines.join('\n')));
        }
        return d;
      },
    });
    const day = { from: Date.UTC(2024, 1, 21), to: Date.UTC(2024, 1, 22) };
    const res = await run(bulk({ type: 'bulk_candles_1h', start: day.from, end: day.to }), {
      wrap,
      letters: 1,
    });
    expect(res.code).toBe(0);
    expect(res.letters).toHaveLength(1);
    expect(res.letters[0]).toMatchObject({ reason: 'unparseable_line', file: target, line: 3, text: broken });
    expect(firstColumn(res.batches)).toEqual(truth('1h', day).keys);
  });
});
