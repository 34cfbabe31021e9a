/**
 * Graph build time (issue 14): 50 symbols × 2 years of 1h klines (17,520 bars each, a synthetic
 * market with a known lead-lag graph, functions/dummy-service/synthetic-market.ts) stored in a
 * real SQLite file, then built the way the graph-builder does it — read the bars from the store,
 * align them, build every snapshot of a 30-day window stepped daily with all four methods
 * (Pearson, Spearman, lead-lag 1..3, partial correlation; p-values, Benjamini–Hochberg, top-k),
 * write the snapshots back.
 *
 * The reference, measured in the same run on the same returns: the same snapshots in NumPy/SciPy
 * (bench/py/graph_numpy.py: vectorised matrix products and LAPACK, as a researcher would write it).
 * The ratio is StreamForge's compute time over NumPy's; the store read and write are listed apart.
 *
 *   npx tsx bench/graph.ts [--symbols 50] [--days 730] [--missing 0.01]
 *
 * `--missing` drops that share of candles at random (StreamForge's figure only: NumPy's reference
 * has no missing-data handling).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syntheticMarket } from '../functions/dummy-service/synthetic-market.ts';
import { alignReturns, buildSnapshots, windowBars } from '../shared/analytics/graph.ts';
import { readBars } from '../shared/analytics/klines.ts';
import { graphParamsOf, GraphRequest } from '../shared/contracts/analytics.ts';
import { canonicalCollection } from '../shared/contracts/events.ts';
import { seriesRecord } from '../shared/store/store.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { runPython } from './python.ts';

const HOUR = 3_600_000;
const { values } = parseArgs({
  options: {
    symbols: { type: 'string', default: '50' },
    days: { type: 'string', default: '730' },
    missing: { type: 'string', default: '0' },
  },
});
const symbols = Number(values.symbols);
const bars = Number(values.days) * 24;
const missingRate = Number(values.missing);

const dir = mkdtempSync(join(tmpdir(), 'sf-bench-graph-'));
const seconds = (ms: number): string => (ms / 1000).toFixed(2);
try {
  const m = syntheticMarket({ symbols, bars, seed: 3, missingRate });
  const start = m.start;
  const end = start + bars * HOUR;
  const store = createSqliteStore({ path: join(dir, 'bench.sqlite') });
  const collection = canonicalCollection('kline');
  for (const klines of m.klines) {
    const records = klines.map((k) => seriesRecord('kline', k));
    await store.upsertRecords(collection, records);
  }
  const params = graphParamsOf(GraphRequest.parse({ interval: '1h', window: '30d', step: '1d' }), {
    symbols: m.symbols,
    market: 'spot',
    start,
    end,
  });

  let t = performance.now();
  const stored = await readBars(store, { ...params, interval: '1h' });
  const readMs = performance.now() - t;
  t = performance.now();
  const aligned = alignReturns(m.symbols, stored, { start, end, interval_ms: HOUR });
  const alignMs = performance.now() - t;
  t = performance.now();
  const snapshots = buildSnapshots(aligned, params);
  const buildMs = performance.now() - t;
  t = performance.now();
  for (let i = 0; i < snapshots.length; i += 25)
    await store.putGraphSnapshots('bench-graph', snapshots.slice(i, i + 25));
  const writeMs = performance.now() - t;
  await store.close();

  const edges: Record<string, number> = {};
  for (const s of snapshots) for (const e of s.edges) edges[e.method] = (edges[e.method] ?? 0) + 1;

  const { window, step } = windowBars(aligned, params);
  let reference: { seconds: number; snapshots: number; edges: Record<string, number> } | undefined;
  if (missingRate === 0) {
    // The returns as the builder aligned them → float64 [symbols, bars]. Index 0 (no previous
    // close: NaN) is never inside a window, whose ends run from `window` as in snapshotEnds.
    const cols = aligned.times.length;
    const flat = new Float64Array(symbols * cols);
    aligned.returns.forEach((r, i) =>
      flat.set(
        r.map((v) => (Number.isNaN(v) ? 0 : v)),
        i * cols,
      ),
    );
    const path = join(dir, 'returns.f64');
    writeFileSync(path, flat);
    reference = await runPython('graph_numpy.py', {
      path,
      symbols,
      bars: cols,
      window,
      step,
      max_lag: params.max_lag,
      alpha: params.alpha,
      top_k: params.top_k,
    });
  }

  console.log(
    `graph build: ${symbols} symbols × ${bars} bars of 1h (${values.days} days), ` +
      `window 30d (${window} bars), step 1d (${step}), methods ${params.methods.join(', ')}, ` +
      `missing ${(100 * missingRate).toFixed(1)}%`,
  );
  console.table({
    'store read (readBars, SQLite)': { seconds: seconds(readMs) },
    'align returns': { seconds: seconds(alignMs) },
    [`build ${snapshots.length} snapshots`]: {
      seconds: seconds(buildMs),
      'ms/snapshot': (buildMs / snapshots.length).toFixed(1),
    },
    'store write (putGraphSnapshots)': { seconds: seconds(writeMs) },
    ...(reference === undefined
      ? {}
      : {
          [`NumPy reference, ${reference.snapshots} snapshots`]: {
            seconds: reference.seconds.toFixed(2),
            'ms/snapshot': ((1000 * reference.seconds) / reference.snapshots).toFixed(1),
          },
        }),
  });
  console.log('edges kept per method, StreamForge:', JSON.stringify(edges));
  if (reference !== undefined) {
    console.log('edges kept per method, NumPy:      ', JSON.stringify(reference.edges));
    console.log(
      `ratio: build / NumPy = ${(buildMs / 1000 / reference.seconds).toFixed(2)}×; ` +
        `end to end (read + align + build + write) / NumPy = ${((readMs + alignMs + buildMs + writeMs) / 1000 / reference.seconds).toFixed(2)}×`,
    );
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
