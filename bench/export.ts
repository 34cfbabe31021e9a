/**
 * Export throughput and memory (issue 15): one year of BTCUSDT 1m klines (525,600 rows,
 * bench/synthetic.ts) in a SQLite store, exported over HTTP as Parquet and as CSV from a
 * queue-manager's series routes running in a child process, the client discarding the bytes.
 * Per run: rows/s and the server's peak RSS (sampled every 20 ms in the server process), each
 * as a ratio to the reference measured in the same run and process: paging the same rows out
 * of the store (`rangeQuery`, 5,000 a page, as the export does) without encoding or HTTP.
 *
 *   npx tsx bench/export.ts          BENCH_ROWS=525600 BENCH_ROUNDS=2
 *   BENCH_SERVER_HEAP_MB=96 npx tsx bench/export.ts   the server with a V8 heap far below the data
 *                                                      (a year of klines as objects does not fit)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalCollection } from '../shared/contracts/events.ts';
import { seriesKey, type SeriesId } from '../shared/contracts/records.ts';
import { rowFromRecord } from '../shared/contracts/rows.ts';
import { EXPORT_PAGE_ROWS } from '../shared/export/stream.ts';
import { createFunctionApp } from '../shared/runtime/app.ts';
import { createLogger } from '../shared/runtime/logger.ts';
import { serve } from '../shared/runtime/serve.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { registerSeriesRoutes } from '../functions/queue-manager/series-routes.ts';
import { syntheticKline } from './synthetic.ts';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 525_600);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 2);
const HEAP_MB = process.env['BENCH_SERVER_HEAP_MB'];
const SERIES: SeriesId = { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' };
const COLLECTION = canonicalCollection('kline');

type Msg = { cmd: 'reset' } | { cmd: 'peak' } | { cmd: 'page' };

/** The server process: serves the series routes and answers the parent's questions over IPC. */
async function server(file: string): Promise<void> {
  const store = createSqliteStore({ path: file });
  const logger = createLogger('bench', 'silent');
  const app = createFunctionApp({ name: 'queue-manager', logger }).app;
  registerSeriesRoutes(app, { store });
  const served = await serve(app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
  let peak = process.memoryUsage().rss;
  setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20).unref();
  process.on('message', (m: Msg) => {
    void (async () => {
      if (m.cmd === 'reset') {
        peak = process.memoryUsage().rss;
        process.send!({ rss: peak });
      } else if (m.cmd === 'peak') {
        process.send!({ peak: Math.max(peak, process.memoryUsage().rss) });
      } else {
        // The reference: the export's store reads, nothing else.
        const t0 = performance.now();
        let rows = 0;
        let after: { time: number; key: string } | undefined;
        for (;;) {
          const page = await store.rangeQuery(COLLECTION, {
            series: seriesKey(SERIES),
            limit: EXPORT_PAGE_ROWS,
            ...(after ? { after } : {}),
          });
          rows += page.length;
          const last = page.at(-1);
          if (page.length < EXPORT_PAGE_ROWS || !last) break;
          after = { time: last.time, key: last.key };
          // Yield as the HTTP path does, so the RSS sampler runs.
          await new Promise((r) => setImmediate(r));
        }
        process.send!({ rows, seconds: (performance.now() - t0) / 1000 });
      }
    })();
  });
  process.send!({ url: served.url });
}

function ask<T>(child: ChildProcess, msg: Msg): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (m) => resolve(m as T));
    child.send(msg);
  });
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-export-'));
  const file = join(dir, 'store.sqlite');
  try {
    const store = createSqliteStore({ path: file });
    const t0 = performance.now();
    for (let i = 0; i < ROWS; i += 10_000) {
      const n = Math.min(10_000, ROWS - i);
      await store.upsertRows(COLLECTION, {
        kind: 'kline',
        series: SERIES,
        rows: Array.from({ length: n }, (_, j) => rowFromRecord('kline', syntheticKline(i + j))),
      });
    }
    await store.close();
    console.log(
      `stored ${ROWS.toLocaleString('en-US')} 1m klines in ${((performance.now() - t0) / 1000).toFixed(1)} s ` +
        `(${(statSync(file).size / 1e6).toFixed(0)} MB SQLite)`,
    );

    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), 'serve', file],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const { url } = await new Promise<{ url: string }>((r) =>
      child.once('message', (m) => r(m as { url: string })),
    );
    const idle = (await ask<{ rss: number }>(child, { cmd: 'reset' })).rss;
    console.log(
      `server idle RSS ${(idle / 2 ** 20).toFixed(0)} MiB${HEAP_MB ? `, V8 heap limit ${HEAP_MB} MB` : ''}`,
    );

    const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
    for (let round = 1; round <= ROUNDS; round++) {
      await ask(child, { cmd: 'reset' });
      const ref = await ask<{ rows: number; seconds: number }>(child, { cmd: 'page' });
      const refPeak = (await ask<{ peak: number }>(child, { cmd: 'peak' })).peak;
      const refRate = ref.rows / ref.seconds;
      console.log(
        `round ${round} reference (store paging, no encoding): ${Math.round(refRate).toLocaleString('en-US')} rows/s, ` +
          `${ref.seconds.toFixed(2)} s, peak RSS ${mib(refPeak)}`,
      );
      for (const format of ['parquet', 'csv'] as const) {
        await ask(child, { cmd: 'reset' });
        const t = performance.now();
        const res = await fetch(`${url}/series/spot/BTCUSDT/klines_1m/export?format=${format}`);
        if (res.status !== 200) throw new Error(`export answered ${res.status}`);
        let size = 0;
        for await (const chunk of res.body!) size += (chunk as Uint8Array).length;
        const seconds = (performance.now() - t) / 1000;
        const peak = (await ask<{ peak: number }>(child, { cmd: 'peak' })).peak;
        const rate = ROWS / seconds;
        console.log(
          `round ${round} ${format.padEnd(7)}: ${Math.round(rate).toLocaleString('en-US')} rows/s ` +
            `(${(rate / refRate).toFixed(2)}× the reference), ${seconds.toFixed(2)} s, ${(size / 1e6).toFixed(1)} MB, ` +
            `peak RSS ${mib(peak)} (${(peak / refPeak).toFixed(2)}× the reference; idle ${mib(idle)})`,
        );
      }
    }
    child.kill('SIGTERM');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === 'serve') await server(process.argv[3]!);
else await main();
