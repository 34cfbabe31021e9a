/**
 * The status page (functions/queue-manager/ui/) in a real headless browser (Debian's chromium,
 * driven by puppeteer-core) against the embedded platform of `npm start`: it loads without console
 * errors, shows a running live workflow's records moving without a reload (pushed on the event
 * stream), draws the candle chart of a stored series and reads it finer when zoomed, shows a
 * planted hole on the coverage timeline, and says so on screen when the event stream is lost,
 * then reconnects. The browser reaches the platform through a TCP proxy in this test, whose
 * connections the test cuts to lose the stream for real. Screenshots go to test-artifacts/ui/
 * (CHROMIUM_PATH overrides the browser; .ci/run installs Debian's `chromium`).
 */
import { existsSync } from 'node:fs';
import net from 'node:net';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { syntheticMarket } from '../../functions/dummy-service/synthetic-market.ts';
import type { Platform } from '../../functions/platform/platform.ts';
import { startTestPlatform, type TestPlatform } from '../platform/start.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { seriesRecord } from '../../shared/store/store.ts';
import { recordCoverage } from '../../shared/store/coverage.ts';
import { createRegistry } from '../../shared/analytics/registry.ts';
import type { ModelMetrics } from '../../shared/contracts/analytics.ts';

/** What the page callbacks use of a DOM element (this project's TypeScript has no DOM lib). */
interface El {
  textContent: string | null;
  getAttribute(name: string): string | null;
  hasAttribute(name: string): boolean;
}

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const ARTIFACTS = path.resolve('test-artifacts/ui');
const LIVE_SYMBOL = 'SOLUSDT';
const MIN = 60_000;
const START = Date.UTC(2024, 0, 1);
/** Three days of BTCUSDT 1m stored with a planted hole of six hours on the second day. */
const DAYS = 3;
const GRAPH_ID = 'wf-btcusdt-graph_build-20240101-abc123';
const MODEL_ID = 'wf-btcusdt-gnn_train-20240101-def456';
const HOLE = { from: START + 1.5 * 1440 * MIN, to: START + 1.75 * 1440 * MIN };

describe('status page in headless chromium', () => {
  let dir: string;
  let running: TestPlatform;
  let platform: Platform;
  let browser: Browser;
  let page: Page;
  let proxy: net.Server;
  let base = '';
  const sockets = new Set<net.Socket>();
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      throw new Error(`no browser at ${CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)`);
    running = await startTestPlatform('ui', { busySymbol: LIVE_SYMBOL });
    ({ platform, dir } = running);
    await mkdir(ARTIFACTS, { recursive: true });
    const m = syntheticMarket({
      symbols: ['BTCUSDT'],
      bars: 3 * 1440,
      interval: '1m',
      start: START,
      seed: 2,
    });
    const klines = m.klines[0]!.filter((k) => k.open_time < HOLE.from || k.open_time >= HOLE.to);
    const records = klines.map((k) => seriesRecord('kline', k));
    await platform.store.upsertRecords(canonicalCollection('kline'), records);
    await recordCoverage(platform.store, canonicalCollection('kline'), 'spot:BTCUSDT:klines_1m', {
      covered: [
        { from: START, to: HOLE.from },
        { from: HOLE.to, to: START + 3 * 1440 * MIN },
      ],
    });
    // The browser's way to the platform: a TCP proxy whose connections the last test cuts.
    const target = new URL(platform.url);
    proxy = net.createServer((client) => {
      const upstream = net.connect(Number(target.port), target.hostname);
      for (const sock of [client, upstream]) {
        sockets.add(sock);
        sock.on('close', () => sockets.delete(sock));
        sock.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`;
    // A graph with one snapshot and a model trained on it, as the analytics stages register them.
    const registry = createRegistry(platform.store);
    await registry.ensure();
    const day = 86_400_000;
    await registry.putGraph({
      graph_id: GRAPH_ID,
      queue_id: GRAPH_ID,
      params: { step: day, window: 30 * day },
      symbols: ['BTCUSDT', 'ETHUSDT'],
      interval: '1h',
      market: 'spot',
      start: START,
      end: START + 60 * day,
      snapshots: 1,
      edges: 1,
      created_at: new Date().toISOString(),
    });
    await platform.store.putGraphSnapshots(GRAPH_ID, [
      {
        t: START + 59 * day,
        window_start: START + 29 * day,
        vertices: [],
        edges: [
          {
            source: 'BTCUSDT',
            target: 'ETHUSDT',
            method: 'lead_lag',
            lag: 1,
            weight: 0.4321,
            sign: 1,
            p_value: 1e-6,
            n: 720,
          },
        ],
      },
    ]);
    const metrics = (accuracy: number): ModelMetrics => ({
      n: 1000,
      accuracy,
      accuracy_ci: [accuracy - 0.03, accuracy + 0.03],
      log_loss: 0.69,
      log_loss_ci: [0.68, 0.7],
      ic: 0.1,
      ic_ci: [0.05, 0.15],
    });
    await registry.putModel({
      model_id: MODEL_ID,
      queue_id: MODEL_ID,
      graph_id: GRAPH_ID,
      architecture: 'gat',
      backend: 'wasm',
      params: {},
      symbols: ['BTCUSDT', 'ETHUSDT'],
      interval: '1h',
      market: 'spot',
      ranges: {
        train: [START, START + day],
        validation: [START + day, START + 2 * day],
        test: [START + 2 * day, START + 3 * day],
      },
      seed: 42,
      epochs_run: 12,
      best_epoch: 9,
      metrics: metrics(0.577),
      baselines: { mlp: metrics(0.501), persistence: metrics(0.5) },
      comparisons: [
        {
          baseline: 'mlp',
          accuracy_diff: 0.076,
          accuracy_diff_ci: [0.05, 0.1],
          log_loss_diff: -0.02,
          log_loss_diff_ci: [-0.03, -0.01],
        },
      ],
      artifact: path.join(dir, 'models', MODEL_ID),
      feature_mean: 0,
      feature_std: 1,
      created_at: new Date().toISOString(),
    });
    browser = await puppeteer.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    page = await browser.newPage();
    await page.setViewport({ width: 1400, height: 900 });
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(String(err)));
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    for (const sock of sockets) sock.destroy();
    proxy?.close();
    await running?.close();
  });

  it('loads without console errors and connects its event stream', async () => {
    await page.goto(`${base}/ui`, { waitUntil: 'load' });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
    await page.waitForSelector('#series a[href="#/series/spot/BTCUSDT/klines_1m"]', { timeout: 15_000 });
    expect(consoleErrors).toEqual([]);
  });

  it("shows a running live workflow's records moving without a reload", async () => {
    // Marks this document: a reload or navigation would lose it.
    await page.evaluate(() => {
      (globalThis as unknown as { __sfMark: number }).__sfMark = 42;
    });
    const res = await fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        symbol: LIVE_SYMBOL,
        type: 'ws_agg_trades',
        end: new Date(Date.now() + 60_000).toISOString(),
      }),
    });
    expect(res.status).toBe(201);
    const { queue_id } = (await res.json()) as { queue_id: string };
    const cell = `#workflows tr[data-queue-id="${queue_id}"] td.records`;
    await page.waitForSelector(cell, { timeout: 15_000 });
    const count = () => page.$eval(cell, (el: El) => Number(el.textContent!.replace(/,/g, '') || '0'));
    const seen = new Set<number>();
    const deadline = Date.now() + 30_000;
    while (seen.size < 3 && Date.now() < deadline) {
      seen.add(await count());
      await new Promise((r) => setTimeout(r, 250));
    }
    // Three different counts: pushed updates, growing.
    expect(seen.size).toBeGreaterThanOrEqual(3);
    expect(Math.max(...seen)).toBeGreaterThan(0);
    await page.waitForSelector(`#live tr[data-queue-id="${queue_id}"]`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'overview.png'), fullPage: true });
    expect(await page.evaluate(() => (globalThis as unknown as { __sfMark?: number }).__sfMark)).toBe(42);
    await fetch(`${platform.url}/workflows/${queue_id}/cancel`, { method: 'POST' });
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it('draws the candle chart of a stored series, finer when zoomed, and the planted hole on its coverage timeline', async () => {
    await page.goto(`${base}/ui#/series/spot/BTCUSDT/klines_1m`, { waitUntil: 'load' });
    await page.waitForSelector('#chart-info[data-candles]', { timeout: 15_000 });
    const info = () =>
      page.$eval('#chart-info', (el: El) => ({
        candles: Number(el.getAttribute('data-candles')),
        bucket: Number(el.getAttribute('data-bucket')),
      }));
    // 3 days of 1m (4,320) do not fit the page's 4,000: 3m buckets, less the 6-hour hole.
    expect(await info()).toEqual({ candles: (DAYS * 1440 - 360) / 3, bucket: 3 * MIN });
    // The chart library drew into its canvases.
    expect(await page.$$eval('#chart canvas', (c) => c.length)).toBeGreaterThan(0);
    const holes = await page.$$eval('svg.coverage rect.missing', (rs: El[]) =>
      rs.map((r) => ({ from: Number(r.getAttribute('data-from')), to: Number(r.getAttribute('data-to')) })),
    );
    expect(holes).toEqual([HOLE]);
    expect(await page.$$eval('svg.coverage rect.covered', (rs) => rs.length)).toBe(2);
    await page.screenshot({ path: path.join(ARTIFACTS, 'series.png'), fullPage: true });
    // Zoom in with the mouse wheel until the page reads the visible range at the series' own 1m.
    const box = (await (await page.$('#chart'))!.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    for (let i = 0; i < 40 && (await info()).bucket !== MIN; i++) {
      await page.mouse.wheel({ deltaY: -400 });
      await new Promise((r) => setTimeout(r, 150));
    }
    await page.waitForFunction(
      `document.querySelector('#chart-info')?.getAttribute('data-bucket') === '${MIN}'`,
      { timeout: 10_000 },
    );
    expect((await info()).candles).toBeGreaterThan(0);
    expect(consoleErrors).toEqual([]);
  }, 60_000);

  it("lists graphs and models, and shows a graph's edges and a model's metrics against its baselines", async () => {
    await page.goto(`${base}/ui`, { waitUntil: 'load' });
    await page.waitForSelector(`#analytics a[href="#/graph/${GRAPH_ID}"]`, { timeout: 15_000 });
    await page.waitForSelector(`#analytics a[href="#/model/${MODEL_ID}"]`);
    await page.click(`#analytics a[href="#/graph/${GRAPH_ID}"]`);
    await page.waitForFunction(`document.querySelector('main table td')?.textContent === 'BTCUSDT'`, {
      timeout: 10_000,
    });
    const edge = await page.$$eval('main table tbody td', (tds: El[]) => tds.map((td) => td.textContent));
    expect(edge).toEqual(['BTCUSDT', 'ETHUSDT', 'lead_lag', '1', '0.432', '1.0e-6']);
    await page.goto(`${base}/ui#/model/${MODEL_ID}`, { waitUntil: 'load' });
    await page.waitForFunction(`document.querySelectorAll('main table').length === 2`, { timeout: 10_000 });
    const rows = await page.$$eval('main table:first-of-type tbody tr', (trs: El[]) =>
      trs.map((tr) => tr.textContent),
    );
    expect(rows).toHaveLength(3);
    expect(rows[0]).toContain('57.7%');
    expect(rows[1]).toContain('mlp');
    expect(consoleErrors).toEqual([]);
  }, 30_000);

  it('says on screen that the event stream is lost, and reconnects', async () => {
    await page.goto(`${base}/ui`, { waitUntil: 'load' });
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 15_000 });
    for (const sock of sockets) sock.destroy();
    await page.waitForSelector('#conn[data-state="reconnecting"]', { timeout: 15_000 });
    const text = await page.$eval('#banner', (el: El) => el.textContent);
    expect(text).toMatch(/Event stream lost — reconnecting/);
    expect(await page.$eval('#banner', (el: El) => el.hasAttribute('hidden'))).toBe(false);
    // The proxy still accepts: the page's next attempt gets through.
    await page.waitForSelector('#conn[data-state="live"]', { timeout: 20_000 });
    expect(await page.$eval('#banner', (el: El) => el.hasAttribute('hidden'))).toBe(true);
  }, 60_000);
});
