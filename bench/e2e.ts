/**
 * End-to-end backfill benchmark (issue 5 "Measure"): one year of BTCUSDT 1m klines from the
 * simulated exchange (no weight limit) to the store.
 *
 *   node --import tsx bench/e2e.ts [--from 2024-01-01] [--to 2025-01-01] [--parts ccxt,embedded,kafka]
 *   (SQLITE_WORKER=false: the platform's SQLite store on its own thread)
 *
 * Parts, each in its own child process so its peak RSS is its own (sampled from /proc, with the
 * loader processes a platform starts):
 *   ccxt      the baseline: ccxt's `binance.fetchOHLCV` loop pointed at the simulator, no throttle,
 *             each page UPSERTed into SQLite (what users write by hand today);
 *   embedded  StreamForge in embedded mode: a platform with the in-process bus, POST /workflows,
 *             poll until the workflow is completed;
 *   kafka     the same with the real Kafka broker (KAFKA_BROKERS, or one started for the run).
 * Every part reads the same simulator, served once by this process on 127.0.0.1.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../shared/runtime/logger.ts';
import { serve } from '../shared/runtime/serve.ts';
import { createExchangeApp } from '../functions/dummy-service/exchange/exchange.ts';
import { startKafka, type RunningKafka } from '../scripts/kafka.mjs';
import Database from 'better-sqlite3';
import { canonicalCollection } from '../shared/contracts/events.ts';
import { loadConfig } from '../shared/runtime/config.ts';
import { PlatformConfig } from '../functions/platform/config.ts';
import { startPlatform } from '../functions/platform/platform.ts';

const { values: args } = parseArgs({
  options: {
    from: { type: 'string', default: '2024-01-01' },
    to: { type: 'string', default: '2025-01-01' },
    symbol: { type: 'string', default: 'BTCUSDT' },
    parts: { type: 'string', default: 'ccxt,embedded,kafka' },
    // Internal: run one part in this (child) process.
    part: { type: 'string' },
    sim: { type: 'string' },
    dir: { type: 'string' },
  },
});

export interface PartResult {
  part: string;
  seconds: number;
  records: number;
  /** Free-form details printed under the figures. */
  notes: string[];
}

const RESULT_PREFIX = 'E2E_RESULT ';

/** Child mode: run one part, print its result as one JSON line. */
async function child(): Promise<void> {
  const range = { from: Date.parse(args.from), to: Date.parse(args.to), symbol: args.symbol };
  const sim = args.sim ?? '';
  const dir = args.dir ?? tmpdir();
  const result =
    args.part === 'ccxt'
      ? await runCcxtBaseline({ ...range, sim, file: path.join(dir, 'ccxt.sqlite') })
      : await runStreamForge({ ...range, sim, dir, mode: args.part === 'kafka' ? 'kafka' : 'embedded' });
  console.log(RESULT_PREFIX + JSON.stringify(result));
}

// --- the ccxt baseline ---------------------------------------------------------------------

/**
 * The baseline: what users write by hand today — a ccxt `fetchOHLCV` loop
 * (ccxt 4.5) UPSERTing each page into SQLite, no throttle, pointed at the simulator.
 *
 * ccxt builds spot URLs from `urls.api.public` (`<base>/api/v3` + `/klines`); loadMarkets calls
 * `/api/v3/exchangeInfo` per market type in `options.fetchMarkets.types` (spot only here, so
 * no fapi/dapi calls), and `fetchCurrencies` is a private call, disabled. fetchOHLCV returns
 * [time, open, high, low, close, volume] as floats: 6 of the 12 kline fields survive, and the
 * exchange's decimal strings do not (one of the complaints StreamForge answers).
 */
const MINUTE = 60_000;

export async function runCcxtBaseline(o: {
  sim: string;
  symbol: string;
  from: number;
  to: number;
  file: string;
}): Promise<PartResult> {
  // Imported here, not at the top: ccxt alone is ~150 MiB of RSS that the StreamForge parts'
  // processes must not carry.
  const { default: ccxt } = await import('ccxt');
  const ex = new ccxt.binance({
    enableRateLimit: false,
    options: {
      defaultType: 'spot',
      fetchMarkets: { types: ['spot'] },
      fetchCurrencies: false,
      fetchMargins: false,
      adjustForTimeDifference: false,
    },
  });
  const api = ex.urls['api'] as Record<string, string>;
  ex.urls['api'] = { ...api, public: `${o.sim}/api/v3` };

  const db = new Database(o.file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`CREATE TABLE IF NOT EXISTS klines (
    symbol TEXT NOT NULL, interval TEXT NOT NULL, open_time INTEGER NOT NULL,
    open REAL, high REAL, low REAL, close REAL, volume REAL,
    PRIMARY KEY (symbol, interval, open_time))`);
  const upsert = db.prepare(
    `INSERT INTO klines VALUES (?, '1m', ?, ?, ?, ?, ?, ?) ON CONFLICT (symbol, interval, open_time) DO UPDATE SET
     open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close, volume = excluded.volume`,
  );
  const write = db.transaction((rows: (number | undefined)[][]) => {
    for (const r of rows) upsert.run(o.symbol, r[0], r[1], r[2], r[3], r[4], r[5]);
  });

  const market = `${o.symbol.replace(/USDT$/, '')}/USDT`;
  const started = performance.now();
  await ex.loadMarkets();
  let since = o.from;
  let requests = 0;
  let rows = 0;
  while (since < o.to) {
    const page = await ex.fetchOHLCV(market, '1m', since, 1000, { until: o.to - 1 });
    requests += 1;
    if (page.length === 0) break; // nothing after `since` up to the end
    write(page);
    rows += page.length;
    const last = page[page.length - 1]?.[0] ?? o.to;
    since = last + MINUTE;
  }
  const seconds = (performance.now() - started) / 1000;
  const stored = db.prepare('SELECT count(*) FROM klines').pluck().get() as number;
  db.close();
  return {
    part: 'ccxt',
    seconds,
    records: stored,
    notes: [
      `${requests} fetchOHLCV calls, ${rows} rows fetched, ${stored} stored (6 of 12 kline fields, as floats)`,
    ],
  };
}

// --- StreamForge: a platform, one workflow, poll until it is completed -----------------------

export async function runStreamForge(o: {
  sim: string;
  symbol: string;
  from: number;
  to: number;
  dir: string;
  mode: 'embedded' | 'kafka';
}): Promise<PartResult> {
  const cfg = loadConfig(PlatformConfig, {
    PORT: '0',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    SQLITE_PATH: path.join(o.dir, `${o.mode}.sqlite`),
    BINANCE_API_URL: o.sim,
    BINANCE_FAPI_URL: o.sim,
    DEMO: 'false',
    KAFKA_BROKERS: o.mode === 'kafka' ? (process.env['KAFKA_BROKERS'] ?? '') : '',
    KAFKA_CLIENT_ID: `bench-e2e-${o.mode}`,
    ...(process.env['SQLITE_WORKER'] === undefined ? {} : { SQLITE_WORKER: process.env['SQLITE_WORKER'] }),
  });
  const logger = createLogger('bench-e2e-platform', cfg.LOG_LEVEL);
  const started = performance.now();
  const platform = await startPlatform({ cfg, logger, host: '127.0.0.1' });
  const startup = (performance.now() - started) / 1000;
  try {
    const day = (t: number) => new Date(t).toISOString().slice(0, 10);
    const res = await fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        symbol: o.symbol,
        type: 'api_candles_1m',
        time_range: `${day(o.from)}:${day(o.to)}`,
      }),
    });
    const created = (await res.json()) as { queue_id?: string };
    if (res.status !== 201 || created.queue_id === undefined)
      throw new Error(`POST /workflows: ${res.status} ${JSON.stringify(created)}`);
    type Wf = {
      status: string;
      records_written: number;
      error?: unknown;
      created_at?: string;
      timeline?: { at: string; producer: string; status: string; message: string }[];
    };
    let wf: Wf = { status: 'pending', records_written: 0 };
    for (;;) {
      await new Promise((r) => setTimeout(r, 200));
      wf = (await (await fetch(`${platform.url}/workflows/${created.queue_id}`)).json()) as Wf;
      if (['completed', 'error', 'cancelled'].includes(wf.status)) break;
    }
    const seconds = (performance.now() - started) / 1000;
    if (wf.status !== 'completed')
      throw new Error(`workflow ended ${wf.status}: ${JSON.stringify(wf.error)}`);
    const stored = await platform.store.count(canonicalCollection('kline'));
    return {
      part: o.mode,
      seconds,
      records: stored,
      notes: [
        `platform start ${startup.toFixed(1)} s (included); workflow ${created.queue_id} completed, records_written ${wf.records_written}, stored ${stored} (12 fields, exact decimals)`,
        phases(wf),
      ],
    };
  } finally {
    await platform.close();
  }
}

/** Where the time went, from the workflow's timeline: job start, loader publishing, sink tail. */
function phases(wf: {
  created_at?: string;
  timeline?: { at: string; producer: string; status: string; message: string }[];
}): string {
  const t0 = Date.parse(wf.created_at ?? '');
  const at = (pred: (e: { producer: string; status: string; message: string }) => boolean): string => {
    const e = wf.timeline?.find(pred);
    return e === undefined ? '?' : `${((Date.parse(e.at) - t0) / 1000).toFixed(1)} s`;
  };
  return (
    `timeline from POST: loader started ${at((e) => e.producer === 'loader-api')}, ` +
    `loader finished publishing ${at((e) => e.message === 'loader finished')}, ` +
    `completed ${at((e) => e.status === 'completed')}`
  );
}

// --- orchestration ----------------------------------------------------------------------------

interface ProcessFigures {
  cmd: string;
  /** Peak RSS (VmHWM), KiB. */
  kib: number;
  /** CPU time (user + system), seconds, at the last sample. */
  cpu: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Peak RSS (VmHWM) and CPU seconds of every process below `root`, by pid, sampled until stopped.
 * The CPU figures show where a 2-core machine's time goes (simulator, platform, loader, broker).
 */
function sampleRss(root: number): { stop: () => Map<number, ProcessFigures> } {
  const peaks = new Map<number, ProcessFigures>();
  const tick = (): void => {
    const parents = new Map<number, number>();
    const cpu = new Map<number, number>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        // Fields after the command: state ppid … utime (14th field) stime (15th).
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        parents.set(Number(name), Number(f[1]));
        cpu.set(Number(name), (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND);
      } catch {
        // gone already
      }
    }
    const inTree = (pid: number): boolean => {
      for (
        let p: number | undefined = pid, i = 0;
        p !== undefined && p > 1 && i < 50;
        p = parents.get(p), i++
      )
        if (p === root) return true;
      return false;
    };
    for (const pid of parents.keys()) {
      if (!inTree(pid)) continue;
      try {
        const kib = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
        const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 90);
        const before = peaks.get(pid);
        peaks.set(pid, { cmd, kib: Math.max(kib, before?.kib ?? 0), cpu: cpu.get(pid) ?? before?.cpu ?? 0 });
      } catch {
        // gone already
      }
    }
  };
  const timer = setInterval(tick, 100);
  return {
    stop: () => {
      clearInterval(timer);
      tick();
      return peaks;
    },
  };
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** The broker's JVM, which scripts/kafka.mjs records in its data directory. */
function brokerPid(dir: string): number | undefined {
  try {
    return Number(readFileSync(path.join(dir, 'java.pid'), 'utf8').trim());
  } catch {
    return undefined;
  }
}

async function runPart(part: string, sim: string, dir: string, env: NodeJS.ProcessEnv) {
  const argv = ['--import', 'tsx', 'bench/e2e.ts', '--part', part, '--sim', sim, '--dir', dir];
  argv.push('--from', args.from, '--to', args.to, '--symbol', args.symbol);
  const proc = spawn(process.execPath, argv, { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const rss = sampleRss(proc.pid ?? -1);
  let out = '';
  let result: string | undefined;
  // Result line kept; the part's own output (logs at LOG_LEVEL) passed through to stderr.
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    const lines = out.split('\n');
    out = lines.pop() ?? '';
    for (const l of lines) {
      if (l.startsWith(RESULT_PREFIX)) result = l;
      else process.stderr.write(`${l}\n`);
    }
  });
  const code = await new Promise<number | null>((r) => proc.on('exit', r));
  const peaks = rss.stop();
  // The child itself is pid `proc.pid`; the rest are loaders and other helpers it started.
  if (out.startsWith(RESULT_PREFIX)) result = out;
  if (code !== 0 || result === undefined)
    return { part, error: `exit code ${code} (its output is above)`, peaks };
  return { part, result: JSON.parse(result.slice(RESULT_PREFIX.length)) as PartResult, peaks };
}

async function main(): Promise<void> {
  const logger = createLogger('bench-e2e', 'warn');
  const exchange = createExchangeApp({ weightLimit: 0, futuresWeightLimit: 0, logger });
  const sim = await serve(exchange, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-bench-e2e-'));
  const parts = args.parts.split(',').map((p) => p.trim());
  let kafka: RunningKafka | undefined;
  const results: (Awaited<ReturnType<typeof runPart>> & { simCpu?: number; brokerCpu?: number })[] = [];
  try {
    console.log(
      `simulator ${sim.url}; ${args.symbol} 1m ${args.from} → ${args.to}; parts ${parts.join(', ')}`,
    );
    for (const part of parts) {
      const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: '' };
      if (part === 'kafka') {
        if (!process.env['KAFKA_BROKERS']) kafka ??= await startKafka({ heapMb: 512 });
        env['KAFKA_BROKERS'] = process.env['KAFKA_BROKERS'] || kafka?.brokers;
      }
      console.log(`\n[${part}] running ...`);
      const broker = kafka === undefined ? undefined : brokerPid(kafka.dir);
      const brokerCpu0 = broker === undefined ? 0 : cpuSeconds(broker);
      const cpu0 = process.cpuUsage();
      const r = await runPart(part, sim.url, dir, env);
      const used = process.cpuUsage(cpu0);
      results.push({
        ...r,
        simCpu: (used.user + used.system) / 1e6,
        ...(broker === undefined || part !== 'kafka' ? {} : { brokerCpu: cpuSeconds(broker) - brokerCpu0 }),
      });
      if (r.error) console.log(`[${part}] FAILED: ${r.error}`);
    }
  } finally {
    await sim.close();
    await kafka?.stop();
    rmSync(dir, { recursive: true, force: true });
  }

  const base = results.find((r) => r.part === 'ccxt')?.result;
  console.log('\nresults (wall time, records, records/s, peak RSS per process):');
  for (const r of results) {
    if (!r.result) continue;
    const { seconds, records, notes } = r.result;
    const ratio =
      base && r.part !== 'ccxt' ? `  = ${(seconds / base.seconds).toFixed(2)}x the baseline's wall time` : '';
    console.log(
      `  ${r.part.padEnd(9)} ${seconds.toFixed(1)} s  ${records} records  ${Math.round(records / seconds)} records/s${ratio}`,
    );
    for (const n of notes) console.log(`            ${n}`);
    for (const [pid, p] of [...r.peaks].sort((a, b) => b[1].kib - a[1].kib).slice(0, 6))
      console.log(
        `            peak RSS ${Math.round(p.kib / 1024)} MiB  CPU ${p.cpu.toFixed(1)} s  pid ${pid}  ${p.cmd}`,
      );
    if (r.simCpu !== undefined)
      console.log(`            simulator (the bench's own process) CPU ${r.simCpu.toFixed(1)} s`);
    if (r.brokerCpu !== undefined)
      console.log(`            Kafka broker (java) CPU ${r.brokerCpu.toFixed(1)} s`);
  }
  console.log('aims: embedded ≤ 0.5x, kafka ≤ 1.0x the baseline wall time; peak RSS ≤ 300 MiB per process');
}

(args.part ? child() : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
