/**
 * `npm start` end to end, in-process: the platform on the embedded default (temp SQLite, port 0,
 * the simulated exchange) runs a workflow through every stage — manager, loader child process
 * publishing to the ingress, local runner, connector — to `completed`; with the runner handing
 * events to the functions directly (the default) and POSTing them as a KafkaSource does.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO_REQUEST, runDemo } from '../../functions/platform/demo.ts';
import type { Platform } from '../../functions/platform/platform.ts';
import { startTestPlatform, type TestPlatform } from './start.ts';

const LIVE_SYMBOL = 'SOLUSDT';

describe.each(['direct', 'http'] as const)('platform (embedded default, runner delivery %s)', (delivery) => {
  let running: TestPlatform | undefined;
  let platform: Platform;

  beforeAll(async () => {
    running = await startTestPlatform('platform', {
      busySymbol: LIVE_SYMBOL,
      env: { RUNNER_DELIVERY: delivery },
    });
    platform = running.platform;
  });

  /** Polls a workflow until it is completed; its error when it fails. */
  const completed = (queueId: string) =>
    vi.waitFor(
      async () => {
        const w = (await (await fetch(`${platform.url}/workflows/${queueId}`)).json()) as {
          status: string;
          records_written: number;
          progress?: { archive_records?: number; rest_records?: number };
          error?: unknown;
        };
        if (w.status === 'error') throw new Error(`workflow failed: ${JSON.stringify(w.error)}`);
        expect(w.status).toBe('completed');
        return w;
      },
      { timeout: 45_000, interval: 200 },
    );

  afterAll(async () => {
    await running?.close();
  });

  it('wires every KafkaSource of kafka-sources/ to a running function and uses the simulator', async () => {
    expect(platform.mode).toBe('embedded');
    expect(platform.exchange.simulatorUrl).toBeDefined();
    expect([platform.exchange.api, platform.exchange.fapi]).toEqual([
      platform.exchange.simulatorUrl,
      platform.exchange.simulatorUrl,
    ]);
    for (const { source } of platform.topology.sources) {
      const url = platform.services[source.spec.sink.ref?.name ?? ''];
      expect(url, source.metadata.name).toBeDefined();
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    }
    expect((await fetch(`${platform.url}/readyz`)).status).toBe(200);
  });

  it('every function intake refuses events without the platform secret; the simulator bounds bodies', async () => {
    const forged = {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'forged-1',
        'ce-source': 'intruder',
        'ce-type': 'io.streamforge.queue.event',
        'content-type': 'application/json',
      },
      body: '{}',
    };
    for (const [name, url] of Object.entries(platform.services)) {
      const res = await fetch(`${url}/`, forged);
      expect(res.status, name).toBe(401);
      expect(await res.json(), name).toEqual({ error: 'missing Authorization header' });
    }
    const big = await fetch(`${platform.exchange.simulatorUrl}/api/v3/ping`, {
      method: 'POST',
      body: 'x'.repeat(100_000),
    });
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: 'request body larger than 65536 bytes' });
  });

  it('runs a POSTed workflow to completed with every candle of the simulator stored', async () => {
    const start = Date.UTC(2024, 6, 1, 0);
    const end = Date.UTC(2024, 6, 1, 5); // five hours of 1m candles
    // What the exchange has for that range (it simulates gaps too): the truth to compare with.
    const rows = (await (
      await fetch(
        `${platform.exchange.api}/api/v3/klines?symbol=ETHUSDT&interval=1m&startTime=${start}&endTime=${end - 1}&limit=1000`,
      )
    ).json()) as unknown[];
    expect(rows.length).toBeGreaterThan(0);

    const res = await fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        symbol: 'ETHUSDT',
        type: 'api_candles_1m',
        start: new Date(start).toISOString(),
        end: new Date(end).toISOString(),
      }),
    });
    expect(res.status).toBe(201);
    const { queue_id } = (await res.json()) as { queue_id: string };

    const wf = await completed(queue_id);
    expect(wf.records_written).toBe(rows.length);
    const series = (await (await fetch(`${platform.url}/series/spot/ETHUSDT/klines_1m`)).json()) as {
      count: number;
    };
    expect(series.count).toBe(rows.length);
    expect(platform.runner.stats()).toMatchObject({ dropped: 0, deadLettered: 0 });
  });

  it('runs a bulk_candles workflow from the simulated archive (a child running loader-bulk) to completed', async () => {
    const res = await fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        symbol: 'ETHUSDT',
        type: 'bulk_candles_1h',
        time_range: '2024-05-01:2024-05-04',
      }),
    });
    expect(res.status).toBe(201);
    const { queue_id } = (await res.json()) as { queue_id: string };
    const wf = await completed(queue_id);
    const rest = (await (
      await fetch(
        `${platform.exchange.api}/api/v3/klines?symbol=ETHUSDT&interval=1h&startTime=${Date.UTC(2024, 4, 1)}&endTime=${Date.UTC(2024, 4, 4) - 1}&limit=1000`,
      )
    ).json()) as unknown[];
    expect(wf.records_written).toBe(rest.length);
    expect(wf.progress).toMatchObject({ archive_records: rest.length, rest_records: 0 });
  });

  it('runs a live ws_agg_trades workflow (loader-ws in this process, simulated streams) to its end, every aggTrade stored', async () => {
    const end = Date.now() + 3000;
    const res = await fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: LIVE_SYMBOL, type: 'ws_agg_trades', end: new Date(end).toISOString() }),
    });
    expect(res.status).toBe(201);
    const created = (await res.json()) as {
      queue_id: string;
      start: number;
      end: number;
      time_range: string;
    };
    expect(created.end).toBe(end);
    expect(created.time_range).toMatch(/^live /);
    const wf = await completed(created.queue_id);
    // The truth: the simulator's aggTrades of [start, end).
    const first = (await (
      await fetch(
        `${platform.exchange.api}/api/v3/aggTrades?symbol=${LIVE_SYMBOL}&startTime=${created.start}&endTime=${end - 1}&limit=1000`,
      )
    ).json()) as unknown[];
    expect(wf.records_written).toBe(first.length);
    expect(wf.records_written).toBeGreaterThan(0);
    expect(first.length).toBeLessThan(1000); // one page held the whole window
    // Live refused with a time range: the API says why.
    const bad = await fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ symbol: 'BTCUSDT', type: 'ws_trades', time_range: '2024-01-01:2024-01-02' }),
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(await bad.json())).toContain('live: it takes no time_range');
  });

  it('runs the demo of `npm start` and reports what it stored', async () => {
    const lines: string[] = [];
    const wf = await runDemo(platform.url, (l) => lines.push(l), { pollMs: 100, timeoutMs: 45_000 });
    expect(wf.status).toBe('completed');
    expect(wf.records_written).toBeGreaterThan(0);
    const out = lines.join('\n');
    expect(out).toContain(`${wf.queue_id}: completed`);
    expect(out).toMatch(new RegExp(`GET /series/spot/${DEMO_REQUEST.symbol}/klines_1m: \\d+ candles`));
  });
});
