/**
 * GET /workflows/{queue_id} latency at a fixed request rate, with 10,000 workflows stored in the
 * embedded store (SQLite file), the manager served on loopback (issue 3, "Measure").
 *
 *   npx tsx bench/manager.ts
 *   RATE=2000 DURATION=10 CONNECTIONS=10 WORKFLOWS=10000 npx tsx bench/manager.ts
 *
 * autocannon's `overallRate` fixes the offered load, so the latencies are not those of a
 * saturated server; each request asks for a random stored workflow. The manager runs in a child
 * process (this file with `--serve`), so it does not share an event loop with the load generator.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import type { Workflow } from '../shared/contracts/workflow.ts';
import type { JobLauncher } from '../shared/jobs/job-launcher.ts';
import { createLogger } from '../shared/runtime/logger.ts';
import { serve } from '../shared/runtime/serve.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';
import { createManager } from '../functions/queue-manager/app.ts';
import { WORKFLOWS } from '../functions/queue-manager/repo.ts';

const RATE = Number(process.env['RATE'] ?? 2000);
const DURATION = Number(process.env['DURATION'] ?? 10);
const CONNECTIONS = Number(process.env['CONNECTIONS'] ?? 10);
const COUNT = Number(process.env['WORKFLOWS'] ?? 10_000);

const logger = createLogger('bench', 'silent');
const noLauncher: JobLauncher = {
  launch: () => Promise.reject(new Error('not in this benchmark')),
  list: () => Promise.resolve([]),
  cancel: () => Promise.resolve(),
  onExit: () => undefined,
  close: () => Promise.resolve(),
};

function workflow(i: number): Workflow {
  const symbol = `SYM${i}USDT`;
  const at = new Date(Date.UTC(2024, 7, 2) + i * 1000).toISOString();
  const statuses = ['completed', 'loading', 'error', 'pending'] as const;
  const status = statuses[i % statuses.length] ?? 'completed';
  const timeline = Array.from({ length: 12 }, (_, k) => ({
    at,
    producer: k % 2 ? 'arango-connector' : 'loader-api',
    status: 'loading' as const,
    message: `page ${k}`,
    records_written: k * 1000,
    attempt: 1,
    seq: k,
  }));
  return {
    queue_id: `wf-${symbol.toLowerCase()}-api_candles_5m-20240801-${i.toString(16).padStart(6, '0')}`,
    symbol,
    market: 'spot',
    type: 'api_candles_5m',
    target: 'loader-api',
    time_range: '2024-08-01:2024-08-02',
    start: Date.UTC(2024, 7, 1),
    end: Date.UTC(2024, 7, 2),
    status,
    kafka_topic: 'binance-kline',
    collection_name: 'market_klines',
    telemetry_id: `t-${i}`,
    records_written: 288,
    progress: { pages: 1, records: 288, percent: 100 },
    attempt: 1,
    created_at: at,
    updated_at: at,
    last_event_at: at,
    timeline,
  };
}

/** Child role: seed the store, serve the manager, print its URL, serve until stdin closes. */
async function serveRole(dir: string): Promise<void> {
  const store = createSqliteStore({ path: path.join(dir, 'bench.sqlite') });
  const bus = createMemoryBus();
  await store.ensureCollection(WORKFLOWS, 'documents');
  const ids: string[] = [];
  const seedStart = performance.now();
  for (let i = 0; i < COUNT; i++) {
    const wf = workflow(i);
    ids.push(wf.queue_id);
    await store.putDoc(WORKFLOWS, wf.queue_id, wf);
  }
  writeFileSync(path.join(dir, 'ids.json'), JSON.stringify(ids));
  console.error(`seeded ${COUNT} workflows in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`);
  // A long stall timeout: the seeded non-terminal workflows must not be touched during the run.
  const manager = createManager({
    store,
    bus,
    launcher: noLauncher,
    logger,
    settings: { stallTimeoutMs: 86_400_000 },
  });
  await manager.start();
  const served = await serve(manager.app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
  console.log(served.url);
  process.stdin.resume();
  process.stdin.on('end', () => {
    void (async () => {
      await served.close();
      await manager.stop();
      await bus.close();
      await store.close();
      process.exit(0);
    })();
  });
}

/** Parent role: the manager runs in a child process, so the load generator has its own CPU time. */
async function benchRole(): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-bench-manager-'));
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), '--serve', dir], {
    stdio: ['pipe', 'pipe', 'inherit'],
    env: process.env,
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`manager exited with ${String(code)}`)));
    });
    const ids = JSON.parse(readFileSync(path.join(dir, 'ids.json'), 'utf8')) as string[];
    const pick = () => ids[Math.floor(Math.random() * ids.length)] ?? '';
    const result = await autocannon({
      url,
      connections: CONNECTIONS,
      duration: DURATION,
      overallRate: RATE,
      requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: `/workflows/${pick()}` }) }],
    });
    const l = result.latency;
    console.log(
      `command: RATE=${RATE} DURATION=${DURATION} CONNECTIONS=${CONNECTIONS} WORKFLOWS=${COUNT} npx tsx bench/manager.ts`,
    );
    console.log(
      `GET /workflows/{queue_id}, ${COUNT} workflows in SQLite, offered ${RATE} req/s for ${DURATION} s over ${CONNECTIONS} connections`,
    );
    console.log(`latency ms: p50 ${l.p50}  p90 ${l.p90}  p99 ${l.p99}  p99.9 ${l.p99_9}  max ${l.max}`);
    console.log(
      `throughput: ${result.requests.average.toFixed(0)} req/s (${(result.throughput.average / 1024 / 1024).toFixed(1)} MiB/s), ` +
        `${result.requests.total} requests, non-2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts}`,
    );
  } finally {
    child.stdin.end();
    await new Promise((r) => child.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--serve') await serveRole(process.argv[3] ?? '');
else await benchRole();
