/**
 * loader-api benchmark (issue 4 "Measure"): `npx tsx bench/loader.ts`
 *
 * 1. Throughput and memory, no weight limit: BTCUSDT 1m klines from the simulator, each data batch
 *    encoded to its wire form (what every transport's producer does) and counted, one month and
 *    one year, each in its own child process so its peak RSS (process.resourceUsage().maxRSS)
 *    and CPU time are the loader's alone.
 * 2. Pacing with the weight limit on (10 s windows, limit sized so the run lasts about 30 s): the
 *    share of the allowed weight actually used and the 429/418 answers, for one loader and for three
 *    loaders at once (three child processes sharing 127.0.0.1).
 *
 * The simulator runs in this (parent) process; the loaders in children. Options:
 *   --quick            smaller ranges (a smoke run)
 *   --window-ms N      weight window of part 2 (default 10000)
 *   --only throughput|pacing   run one part
 *   --runs N           part 1: run each range N times and print the medians (default 1)
 *   --concurrency N    part 1: LOADER_CONCURRENCY of the loader, its pages in flight (default 4)
 *   --cpu-prof DIR     write a V8 CPU profile of every loader child into DIR (node --cpu-prof)
 */
import { spawn } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import { pino } from 'pino';
import { createExchange, type ExchangeOptions } from '../functions/dummy-service/exchange/exchange.ts';
import { runLoader } from '../functions/loader-api/handler.ts';
import type { EventBus } from '../shared/bus/event-bus.ts';
import { JsonText, encodeEvent } from '../shared/bus/kafka-binding.ts';
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import { EventTypes, Topics, type DataBatch } from '../shared/contracts/events.ts';
import type { QueueCommand, QueueEvent } from '../shared/contracts/workflow.ts';
import { createExchangeClient } from '../shared/exchange/rest-client.ts';
import { createWeightBudget } from '../shared/exchange/weight-budget.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';

const DAY = 86_400_000;
const repoRoot = path.resolve(import.meta.dirname, '..');
const silent = pino({ level: 'silent' });

interface ChildJob {
  url: string;
  symbol: string;
  start: number;
  end: number;
  limit: number;
  windowMs: number;
  margin: number;
  concurrency: number;
  /** Klines per request (default the loader's own choice). */
  pageLimit?: number;
  /** Epoch ms to start loading at (children start slowly; the parent aligns them to a window). */
  startAt?: number;
}

interface ChildResult {
  code: number;
  pages: number;
  records: number;
  ms: number;
  maxRssMb: number;
  /** Largest live heap (after a full GC, sampled every 25 pages). */
  liveHeapMb: number;
  cpuMs: number;
  /** From the 'loader finished' log line: time waiting for the next page, and publishing. */
  waitPagesMs: number;
  publishMs: number;
}

// ---------- child: one loader whose data batches are encoded and counted ----------

async function child(job: ChildJob): Promise<ChildResult> {
  const memory = createMemoryBus({ logger: silent, retention: 'consumed' });
  const topic = Topics.data('kline');
  let pages = 0;
  let records = 0;
  let published: number | undefined;
  let liveHeap = 0;
  // Data batches are encoded to their wire form, as every transport's producer side does (Kafka,
  // the ingress publisher), and counted from the message: decoding them again would charge the
  // loader with a consumer's work. Queue events take the memory bus as usual.
  const bus: EventBus = {
    ...memory,
    publish: (t, messages) => {
      if (t !== topic) return memory.publish(t, messages);
      for (const m of messages) {
        encodeEvent(m);
        pages += 1;
        const data: unknown = m.event.data instanceof JsonText ? m.event.data.toJSON() : m.event.data;
        records += (data as DataBatch).rows.length;
      }
      if (pages % 25 === 0 && 'gc' in globalThis) liveHeap = Math.max(liveHeap, liveHeapMb());
      return Promise.resolve();
    },
  };
  const store = createSqliteStore({ path: ':memory:' });
  await memory.subscribe({
    groupId: 'bench-count',
    topics: [Topics.events],
    from: 'earliest',
    handler: (m) => {
      if (m.event.type === EventTypes.queueEvent) {
        const e = m.event.data as QueueEvent;
        if (e.message === 'loader finished') published = e.batches_published;
      }
      return Promise.resolve();
    },
  });
  let timing = { wait_pages_ms: Number.NaN, publish_ms: Number.NaN };
  const logger = pino(
    { level: 'info' },
    {
      write: (line: string) => {
        const o = JSON.parse(line) as { msg?: string; timing?: typeof timing };
        if (o.msg === 'loader finished' && o.timing) timing = o.timing;
      },
    },
  );
  const client = () =>
    createExchangeClient({
      baseUrl: job.url,
      budget: createWeightBudget({
        limit: job.limit,
        windowMs: job.windowMs,
        margin: job.margin,
        maxInflightRequests: job.concurrency,
      }),
      timeoutMs: 30_000,
    });
  const cmd: QueueCommand = {
    command: 'start',
    queue_id: `wf-${job.symbol.toLowerCase()}-api_candles_1m-20240101-${Math.floor(Math.random() * 0xffffff)
      .toString(16)
      .padStart(6, '0')}`,
    target: 'loader-api',
    symbol: job.symbol,
    type: 'api_candles_1m',
    market: 'spot',
    time_range: 'bench',
    start: job.start,
    end: job.end,
    kafka_topic: topic,
    collection_name: 'market_klines',
    telemetry_id: 'bench',
    attempt: 1,
    timestamp: new Date().toISOString(),
  };
  if (job.startAt !== undefined)
    await new Promise((r) => setTimeout(r, Math.max(0, job.startAt! - Date.now())));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const code = await runLoader(
    {
      bus,
      store,
      exchange: { spot: client(), usdm: client() },
      clock: { now: () => Date.now() },
      logger,
      concurrency: job.concurrency,
      progressIntervalMs: 1000,
      ...(job.pageLimit ? { pageLimit: job.pageLimit } : {}),
    },
    { commandJson: JSON.stringify(cmd), signal: new AbortController().signal },
  );
  while (published === undefined || pages < published) await new Promise((r) => setTimeout(r, 5));
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await memory.close();
  await store.close();
  return {
    code,
    pages,
    records,
    ms,
    maxRssMb: process.resourceUsage().maxRSS / 1024,
    liveHeapMb: liveHeap,
    waitPagesMs: timing.wait_pages_ms,
    publishMs: timing.publish_ms,
    cpuMs: (cpu.user + cpu.system) / 1000,
  };
}

/**
 * Heap still reachable after a full collection (children run with --expose-gc): what the loader
 * really holds, apart from the garbage V8 lets pile up before collecting (which RSS includes).
 */
function liveHeapMb(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return Number.NaN;
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
}

// ---------- parent: the simulator, the child processes, the table ----------

/** Runs one loader child; `sampleHeap` adds --expose-gc and a full GC every 25 pages (which changes RSS). */
function runChild(job: ChildJob, sampleHeap = false): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(
      process.execPath,
      [
        ...(sampleHeap ? ['--expose-gc'] : []),
        ...(cpuProfDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : []),
        '--import',
        'tsx',
        'bench/loader.ts',
        '--child',
        JSON.stringify(job),
      ],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.once('error', reject);
    p.once('exit', (code) => {
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(line) as ChildResult);
      } catch {
        reject(new Error(`child exited ${code} without a result: ${out.slice(-500)}`));
      }
    });
  });
}

async function startSim(opts: ExchangeOptions) {
  const ex = createExchange(opts);
  const server = createAdaptorServer({ fetch: ex.app.fetch }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    ex,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const fmt = (n: number, d = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** Median of `xs` (the mean of the middle two for an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function throughput(quick: boolean, runs: number, concurrency: number): Promise<void> {
  const sim = await startSim({ weightLimit: 0 });
  const start = Date.UTC(2023, 0, 1);
  const rows = [];
  for (const [label, days] of quick
    ? ([
        ['1 week', 7],
        ['1 month', 30],
      ] as const)
    : ([
        ['1 month', 30],
        ['1 year', 365],
      ] as const)) {
    const job: ChildJob = {
      url: sim.url,
      symbol: 'BTCUSDT',
      start,
      end: start + days * DAY,
      limit: 1e9,
      windowMs: 60_000,
      margin: 0.05,
      concurrency,
    };
    // RSS and speed from plain runs (the median of `runs`), the live heap from a run with forced collections.
    const rs: ChildResult[] = [];
    for (let i = 0; i < runs; i++) rs.push(await runChild(job));
    const heap = await runChild(job, true);
    const r = rs[0]!;
    const seconds = median(rs.map((x) => x.ms / 1000));
    rows.push({
      range: label,
      exit: rs.map((x) => x.code).join(','),
      pages: r.pages,
      records: r.records,
      seconds: fmt(seconds, 1),
      'pages/s': fmt(median(rs.map((x) => x.pages / (x.ms / 1000))), 1),
      'records/s': fmt(median(rs.map((x) => x.records / (x.ms / 1000)))),
      'loader CPU ms/page': fmt(median(rs.map((x) => x.cpuMs / x.pages)), 1),
      'peak RSS MB': fmt(median(rs.map((x) => x.maxRssMb)), 1),
      'peak live heap MB': fmt(heap.liveHeapMb, 1),
      'waiting for pages s': fmt(median(rs.map((x) => x.waitPagesMs / 1000)), 1),
      'publishing s': fmt(median(rs.map((x) => x.publishMs / 1000)), 1),
    });
  }
  await sim.close();
  console.log(
    `\n1) BTCUSDT 1m klines, no weight limit, concurrency ${concurrency}, median of ${runs} run(s) (simulator in the parent process)`,
  );
  console.table(rows);
}

async function pacing(quick: boolean, windowMs: number): Promise<void> {
  // The simulator generates about 20 pages of 1000 minute candles per second on one core, less
  // than a realistic limit buys; pages of 100 candles (same weight, a tenth of the work) keep the
  // exchange's weight, not its CPU, the bottleneck, which is what this part measures.
  const limit = quick ? 300 : 1000;
  const pageLimit = 100;
  const windows = quick ? 2 : 3;
  // Pages the budget buys in the windows the run should last.
  const totalPages = Math.floor(((limit * 0.95) / 2) * windows);
  const rows = [];
  for (const loaders of [1, 3]) {
    const sim = await startSim({ weightLimit: limit, weightWindowMs: windowMs, gaps: { perYear: 0 } });
    // Every child starts loading on one window boundary, after its (slow) process start-up, so
    // the first window is a whole one and the loaders really compete from the first request.
    const startAt = (Math.floor((Date.now() + 15_000) / windowMs) + 1) * windowMs;
    const minutesEach = Math.floor((totalPages * pageLimit) / loaders);
    const jobs = Array.from({ length: loaders }, (_, i) => {
      const start = Date.UTC(2023, 0, 1) + i * 400 * DAY;
      return {
        url: sim.url,
        symbol: 'BTCUSDT',
        start,
        end: start + minutesEach * 60_000,
        limit,
        windowMs,
        margin: 0.05,
        concurrency: 4,
        pageLimit,
        startAt,
      };
    });
    const results = await Promise.all(jobs.map((j) => runChild(j)));
    const end = Date.now();
    const stats = sim.ex.stats();
    const inRun = stats.windows.spot.filter((w) => w.windowStart >= startAt && w.weight > 0);
    const full = inRun.filter((w) => w.windowStart + windowMs <= end - 1000); // the last one is cut by the end of the run
    const used = full.reduce((s, w) => s + w.weight, 0);
    rows.push({
      loaders,
      exit: results.map((r) => r.code).join(','),
      requests: results.reduce((s, r) => s + r.pages, 0),
      seconds: fmt((end - startAt) / 1000, 1),
      'weight per window': inRun.map((w) => w.weight).join(' '),
      'used / allowed (full windows)': `${fmt((100 * used) / (limit * Math.max(1, full.length)), 1)} %`,
      'max window / limit': `${fmt((100 * Math.max(...inRun.map((w) => w.weight))) / limit, 1)} %`,
      '429': stats.rateLimited429,
      '418': stats.banned418,
    });
    await sim.close();
  }
  console.log(
    `\n2) weight limit ${limit} per ${windowMs / 1000} s window, margin 5 %, BTCUSDT 1m klines in pages of ${pageLimit}, child processes on 127.0.0.1`,
  );
  console.table(rows);
}

const argv = process.argv.slice(2);
const cpuProfDir = argv.includes('--cpu-prof')
  ? path.resolve(argv[argv.indexOf('--cpu-prof') + 1]!)
  : undefined;
if (argv[0] === '--child') {
  const r = await child(JSON.parse(argv[1]!) as ChildJob);
  console.log(JSON.stringify(r));
  process.exit(0);
} else {
  const quick = argv.includes('--quick');
  const wi = argv.indexOf('--window-ms');
  const windowMs = wi >= 0 ? Number(argv[wi + 1]) : 10_000;
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : undefined;
  const runs = argv.includes('--runs') ? Number(argv[argv.indexOf('--runs') + 1]) : 1;
  const concurrency = argv.includes('--concurrency') ? Number(argv[argv.indexOf('--concurrency') + 1]) : 4;
  if (only !== 'pacing') await throughput(quick, runs, concurrency);
  if (only !== 'throughput') await pacing(quick, windowMs);
}
