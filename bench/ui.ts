/**
 * The status page (issue 15) on the embedded platform of `npm start` with one year of BTCUSDT 1m
 * klines stored (525,600): page load time and bytes of the overview, and the time until the
 * candle chart of that year is drawn, in Debian's chromium (puppeteer-core), each as a ratio to a
 * reference measured in the same page and run — the API calls the view needs, fetched bare:
 *
 *   overview ready (workflows, series, graphs, models listed; event stream live)
 *     ÷ fetching /workflows, /series, /graphs, /models in parallel
 *   chart ready (navigation start → candles drawn)  ÷  fetching /series/…/candles?max=4000
 *
 * Each figure is the median of RUNS fresh pages (new browser context: cold cache).
 *
 *   npx tsx bench/ui.ts [--runs 5] [--days 365]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import puppeteer from 'puppeteer-core';
import { PlatformConfig } from '../functions/platform/config.ts';
import { startPlatform } from '../functions/platform/platform.ts';
import { canonicalCollection } from '../shared/contracts/events.ts';
import { rowFromRecord } from '../shared/contracts/rows.ts';
import { loadConfig } from '../shared/runtime/config.ts';
import { syntheticKline } from './synthetic.ts';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '5' }, days: { type: 'string', default: '365' } },
});
const RUNS = Number(values.runs);
const N = Number(values.days) * 1440;
const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const SERIES_PATH = '/series/spot/BTCUSDT/klines_1m';

const median = (v: number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'sf-bench-ui-'));
const platform = await startPlatform({
  cfg: loadConfig(PlatformConfig, {
    PORT: '0',
    SQLITE_PATH: join(dir, 'streamforge.sqlite'),
    LOG_LEVEL: 'silent',
    SHUTDOWN_GRACE_MS: '2000',
  }),
  logger: pino({ level: 'silent' }),
  host: '127.0.0.1',
});
const browser = await puppeteer.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
});
try {
  const collection = canonicalCollection('kline');
  await platform.store.ensureCollection(collection, 'series', 'kline');
  let t = performance.now();
  for (let i = 0; i < N; i += 10_000) {
    const rows = [];
    for (let j = i; j < Math.min(N, i + 10_000); j++) rows.push(rowFromRecord('kline', syntheticKline(j)));
    await platform.store.upsertRows(collection, {
      kind: 'kline',
      series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' },
      rows,
    });
  }
  console.log(
    `stored ${N.toLocaleString('en-US')} klines in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );
  t = performance.now();
  const yearCandles = await platform.store.candles(collection, {
    series: 'spot:BTCUSDT:klines_1m',
    from: Date.UTC(2023, 0, 1),
    to: Date.UTC(2023, 0, 1) + N * 60_000,
    bucket_ms: 2 * 3_600_000,
  });
  const storeMs = performance.now() - t;

  const overview: { ready: number; floor: number; bytes: number; requests: number }[] = [];
  const chart: { ready: number; floor: number; candles: number; bucket: number }[] = [];
  for (let r = 0; r < RUNS; r++) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    await page.goto(`${platform.url}/ui`);
    await page.waitForSelector('#conn[data-state="live"]');
    await page.waitForSelector(`#series a[href="#${SERIES_PATH}"]`);
    const o = await page.evaluate(`(async () => {
      const ready = performance.now();
      const entries = [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')];
      const bytes = entries.reduce((s, e) => s + (e.transferSize || e.encodedBodySize || 0), 0);
      const t0 = performance.now();
      await Promise.all(['/workflows?limit=100', '/series', '/graphs?limit=20', '/models?limit=20'].map((p) => fetch(p).then((r) => r.text())));
      return { ready, floor: performance.now() - t0, bytes, requests: entries.length };
    })()`);
    overview.push(o as (typeof overview)[number]);
    await context.close();

    const c2 = await browser.createBrowserContext();
    const p2 = await c2.newPage();
    await p2.setViewport({ width: 1400, height: 900 });
    await p2.goto(`${platform.url}/ui#${SERIES_PATH}`);
    await p2.waitForFunction('window.__sfChartReady !== undefined', { timeout: 30_000 });
    const c = await p2.evaluate(`(async () => {
      const ready = window.__sfChartReady;
      const info = document.querySelector('#chart-info');
      const t0 = performance.now();
      await fetch('${SERIES_PATH}/candles?max=4000').then((r) => r.json());
      return { ready, floor: performance.now() - t0, candles: Number(info.dataset.candles), bucket: Number(info.dataset.bucket) };
    })()`);
    chart.push(c as (typeof chart)[number]);
    await c2.close();
  }

  const ov = {
    ready: median(overview.map((x) => x.ready)),
    floor: median(overview.map((x) => x.floor)),
  };
  const ch = { ready: median(chart.map((x) => x.ready)), floor: median(chart.map((x) => x.floor)) };
  console.log(
    `status page, ${RUNS} cold loads each (medians), ${N.toLocaleString('en-US')} 1m klines stored; ` +
      `store.candles of the whole year at 2h (${yearCandles.length} candles) in ${storeMs.toFixed(0)} ms`,
  );
  console.table({
    'overview: navigation → lists shown, stream live': {
      ms: ov.ready.toFixed(0),
      'reference ms': ov.floor.toFixed(0),
      ratio: (ov.ready / ov.floor).toFixed(2),
      detail: `${(overview[0]!.bytes / 1024).toFixed(0)} KiB in ${overview[0]!.requests} requests`,
    },
    'series: navigation → chart drawn (a year of 1m)': {
      ms: ch.ready.toFixed(0),
      'reference ms': ch.floor.toFixed(0),
      ratio: (ch.ready / ch.floor).toFixed(2),
      detail: `${chart[0]!.candles} candles of ${chart[0]!.bucket / 60_000} min`,
    },
  });
} finally {
  await browser.close();
  await platform.close();
  rmSync(dir, { recursive: true, force: true });
}
