/**
 * Every function's /metrics passes `promtool check metrics`, and every metric the shipped alert
 * rules and Grafana dashboards query is one the functions export. The platform runs in-process
 * (embedded bus, temp SQLite, simulated exchange) with all five function servers; a backfill and
 * a short live workflow run first so the metrics have samples; /metrics is fetched over HTTP.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { Platform } from '../../functions/platform/platform.ts';
import { startTestPlatform, type TestPlatform } from '../platform/start.ts';
import { DASHBOARDS, ROOT, RULES_FILE } from '../../scripts/observability.ts';
import { exportedNames, promtool, referencedNames } from './promtool.ts';
import { sampleValue } from '../runtime/prom-text.ts';

const LIVE_SYMBOL = 'SOLUSDT';
let running: TestPlatform | undefined;
let platform: Platform;
const scraped = new Map<string, string>();

async function workflow(body: object): Promise<string> {
  const res = await fetch(`${platform.url}/workflows`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const wf = (await res.json()) as { queue_id: string };
  expect(res.status).toBe(201);
  return wf.queue_id;
}

const finished = (id: string) =>
  vi.waitFor(
    async () => {
      const w = (await (await fetch(`${platform.url}/workflows/${id}`)).json()) as { status: string };
      expect(['completed', 'error', 'cancelled']).toContain(w.status);
    },
    { timeout: 45_000, interval: 200 },
  );

beforeAll(async () => {
  running = await startTestPlatform('observability', { busySymbol: LIVE_SYMBOL });
  platform = running.platform;
  // A REST backfill (loader child, connector, manager), a live stream that ends in 3 s (loader-ws),
  // and a refused request, a 404 and a missing workflow (HTTP and error series).
  const backfill = await workflow({
    symbol: 'BTCUSDT',
    type: 'api_candles_1h',
    time_range: '2024-08-01:2024-08-03',
  });
  const live = await workflow({
    symbol: LIVE_SYMBOL,
    type: 'ws_agg_trades',
    end: new Date(Date.now() + 3000).toISOString(),
  });
  // Scraped while the live workflow runs, so its per-series freshness has a sample.
  await vi.waitFor(
    async () => {
      const text = await (await fetch(`${platform.services['loader-ws']}/metrics`)).text();
      expect(text).toMatch(/^streamforge_live_series_last_record_age_seconds\{/m);
      scraped.set('loader-ws (live workflow running)', text);
    },
    { timeout: 10_000, interval: 200 },
  );
  await fetch(`${platform.url}/workflows`, { method: 'POST', body: '{' });
  await fetch(`${platform.url}/no-such-route`);
  await fetch(`${platform.url}/workflows/wf-missing`);
  await Promise.all([finished(backfill), finished(live)]);
  for (const [name, url] of Object.entries(platform.services))
    scraped.set(name, await (await fetch(`${url}/metrics`)).text());
}, 90_000);

afterAll(async () => {
  await running?.close();
});

describe('/metrics of every function', () => {
  it('scraped all five functions, with samples of the business metrics', () => {
    expect([...scraped.keys()].sort()).toEqual(
      [
        'arango-connector',
        'dummy-service',
        'graph-builder',
        'loader-ws',
        'loader-ws (live workflow running)',
        'queue-manager',
      ].sort(),
    );
    const sample = (fn: string, name: string, labels: Record<string, string>) =>
      sampleValue(scraped.get(fn) ?? '', name, labels);
    expect(
      sample('arango-connector', 'streamforge_records_stored_total', { kind: 'kline', result: 'inserted' }),
    ).toBe(48);
    expect(
      sample('arango-connector', 'streamforge_consumer_lag_seconds', { topic: 'binance-kline' }),
    ).toBeGreaterThanOrEqual(0);
    expect(
      sample('queue-manager', 'streamforge_workflow_duration_seconds_count', {
        family: 'api_candles',
        status: 'completed',
      }),
    ).toBe(1);
    expect(sample('queue-manager', 'streamforge_workflows_active', { status: 'loading' })).toBe(0);
    expect(sample('loader-ws', 'streamforge_exchange_weight_limit', { market: 'spot' })).toBeGreaterThan(0);
    expect(
      sample('loader-ws (live workflow running)', 'streamforge_live_series_last_record_age_seconds', {
        market: 'spot',
        symbol: LIVE_SYMBOL,
        dataset: 'agg_trades',
      }),
    ).toBeLessThan(60);
  });

  it.each([
    'arango-connector',
    'dummy-service',
    'graph-builder',
    'loader-ws',
    'loader-ws (live workflow running)',
    'queue-manager',
  ])('%s passes promtool check metrics', (name) => {
    const r = promtool(['check', 'metrics'], scraped.get(name));
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.code).toBe(0);
  });
});

describe('rules and dashboards query only exported metrics', () => {
  const exported = () => {
    const all = new Set<string>();
    for (const text of scraped.values()) for (const n of exportedNames(text)) all.add(n);
    return all;
  };

  it('every alert expression', async () => {
    const rules = parse(await readFile(path.join(ROOT, RULES_FILE), 'utf8')) as {
      groups: { rules: { alert: string; expr: string }[] }[];
    };
    const names = exported();
    const missing: string[] = [];
    for (const r of rules.groups.flatMap((g) => g.rules)) {
      const refs = referencedNames(r.expr);
      expect(refs.length, r.alert).toBeGreaterThan(0);
      for (const n of refs) if (!names.has(n)) missing.push(`${r.alert}: ${n}`);
    }
    expect(missing).toEqual([]);
  });

  it('every dashboard panel', () => {
    const names = exported();
    const missing: string[] = [];
    for (const d of DASHBOARDS)
      for (const p of d.panels)
        for (const [expr] of p.exprs) {
          const refs = referencedNames(expr);
          expect(refs.length, `${d.uid} ${p.title}`).toBeGreaterThan(0);
          for (const n of refs) if (!names.has(n)) missing.push(`${d.uid} "${p.title}": ${n}`);
        }
    expect(missing).toEqual([]);
  });
});
