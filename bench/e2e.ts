/**
 * End-to-end backfill benchmark (issue 5 "Measure"): 1m klines of one or several symbols from the
 * simulated exchange (no weight limit) to SQLite; by default one year of BTCUSDT.
 *
 *   node --import tsx bench/e2e.ts [--from 2024-01-01] [--to 2025-01-01] [--symbol BTCUSDT]
 *     [--symbols BTCUSDT,ETHUSDT,...] [--parts floor,ccxt,embedded,kafka] [--timeout 600]
 *   (RUNNER_DELIVERY=http: the local runner POSTs every event to the functions, as in a cluster)
 *
 * 10 symbols × 1 month:
 *   node --import tsx bench/e2e.ts --from 2024-06-01 --to 2024-07-01 \
 *     --symbols BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,ADAUSDT,DOGEUSDT,TRXUSDT,LTCUSDT,DOTUSDT
 * The simulator serves its default symbols (spot BTCUSDT, ETHUSDT, ETHBTC) plus every symbol asked
 * for; those without a preset get its generic profile (listed 2020-01-01, price ~10, 4 decimals).
 *
 * Parts, each in its own child process so its peak RSS is its own (sampled from /proc, with the
 * loader processes a platform starts):
 *   floor     the simplest correct one-process pipeline (bench/floor.ts): 1000-minute pages, 4
 *             requests in flight over keep-alive, rows checked, all 12 fields UPSERTed into a typed
 *             SQLite table, one transaction per page; every other part is measured against it;
 *   ccxt      what users write by hand today: ccxt's `binance.fetchOHLCV` loop pointed at the
 *             simulator, no throttle, one request at a time, symbols one after the other, each page
 *             UPSERTed into SQLite (6 of the 12 fields, as floats);
 *   embedded  StreamForge in embedded mode: a platform with the in-process bus, one POST /workflows
 *             (`symbol`, or `symbols` for several), poll until every workflow is completed;
 *   kafka     the same with the real Kafka broker (KAFKA_BROKERS, or one started for the run);
 *   nometrics `embedded` with every metric a no-op (STREAMFORGE_METRICS=off, set for this part
 *             only): `embedded` against it is the metrics' overhead (issue 15: under 3%);
 *   bulk      the embedded platform with `bulk_candles_1m`: loader-bulk reads the simulator's
 *             archive (monthly, then daily files; REST for the rest), compared with `embedded`
 *             (the REST path) of the same run. The simulator builds each archive file once and
 *             keeps it; the bench asks for every CHECKSUM first, untimed, so the part measures the
 *             loader, not the simulator's zip writer (about 85,000 candles/s cold).
 * Every part reads the same simulator, served once by this process on 127.0.0.1. A part's CPU is
 * everything in its process tree (exact: the rusage of reaped children); the simulator (this
 * process) and the Kafka broker are reported apart. "waited for a core" is a process's main-thread
 * run-queue time: when it is large, other work competed for the cores and wall times are skewed.
 * The last line checks the issue's aims against the floor measured in the same run.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLogger } from '../shared/runtime/logger.ts';
import { disableMetrics } from '../shared/runtime/metrics.ts';
import { serve } from '../shared/runtime/serve.ts';
import { createExchangeApp } from '../functions/dummy-service/exchange/exchange.ts';
import { DEFAULT_SYMBOLS } from '../functions/dummy-service/exchange/config.ts';
import { startKafka, type RunningKafka } from '../scripts/kafka.mjs';
import Database from 'better-sqlite3';
import { runFloor } from './floor.ts';

const { values: args } = parseArgs({
  options: {
    from: { type: 'string', default: '2024-01-01' },
    to: { type: 'string', default: '2025-01-01' },
    symbol: { type: 'string', default: 'BTCUSDT' },
    /** Several symbols, comma-separated; default `--symbol`. */
    symbols: { type: 'string' },
    parts: { type: 'string', default: 'floor,ccxt,embedded,kafka,bulk' },
    /** StreamForge parts: fail when the workflows are not completed this many seconds after POST. */
    timeout: { type: 'string', default: '600' },
    // Internal: run one part in this (child) process.
    part: { type: 'string' },
    sim: { type: 'string' },
    dir: { type: 'string' },
  },
});

const symbols = [
  ...new Set(
    (args.symbols ?? args.symbol)
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  ),
];

export interface PartResult {
  part: string;
  /** Wall time, everything included (a platform's start too). */
  seconds: number;
  /** StreamForge parts: wall time from POST /workflows to every workflow completed. */
  fromPost?: number;
  records: number;
  /** Free-form details printed under the figures. */
  notes: string[];
}

const RESULT_PREFIX = 'E2E_RESULT ';

/** Child mode: run one part, print its result as one JSON line. */
async function child(): Promise<void> {
  const range = { from: Date.parse(args.from), to: Date.parse(args.to), symbols };
  const sim = args.sim ?? '';
  const dir = args.dir ?? tmpdir();
  const file = path.join(dir, `${args.part}.sqlite`);
  let result: PartResult;
  if (args.part === 'floor') result = await runFloor({ ...range, sim, file });
  else if (args.part === 'ccxt') result = await runCcxtBaseline({ ...range, sim, file });
  else if (args.part === 'embedded' || args.part === 'kafka' || args.part === 'bulk')
    result = await runStreamForge({ ...range, sim, dir, mode: args.part });
  else if (args.part === 'nometrics') {
    // The embedded part with every metric a no-op (shared/runtime/metrics.ts disableMetrics):
    // `embedded` against it is what the metrics cost the backfill (issue 15, aim: under 3%).
    if (process.env['STREAMFORGE_METRICS'] !== 'off')
      throw new Error('nometrics runs with STREAMFORGE_METRICS=off');
    disableMetrics();
    // Its own directory: the same SQLite file would already hold the year (nothing left to load).
    const own = path.join(dir, 'nometrics');
    mkdirSync(own, { recursive: true });
    result = { ...(await runStreamForge({ ...range, sim, dir: own, mode: 'embedded' })), part: 'nometrics' };
  } else throw new Error(`unknown part ${args.part} (floor, ccxt, embedded, kafka, bulk, nometrics)`);
  console.log(RESULT_PREFIX + JSON.stringify(result));
}

// --- the ccxt baseline ---------------------------------------------------------------------

/**
 * What users write by hand today: a ccxt `fetchOHLCV` loop (ccxt 4.5) UPSERTing each page into
 * SQLite, no throttle, pointed at the simulator; several symbols one after the other.
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
  symbols: string[];
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
  const write = db.transaction((symbol: string, rows: (number | undefined)[][]) => {
    for (const r of rows) upsert.run(symbol, r[0], r[1], r[2], r[3], r[4], r[5]);
  });

  const started = performance.now();
  await ex.loadMarkets();
  let requests = 0;
  let rows = 0;
  for (const symbol of o.symbols) {
    // The unified symbol (BTC/USDT) of the exchange's id (BTCUSDT); throws BadSymbol when the
    // simulator's exchangeInfo does not list it.
    const market = ex.market(symbol).symbol;
    let since = o.from;
    while (since < o.to) {
      const page = await ex.fetchOHLCV(market, '1m', since, 1000, { until: o.to - 1 });
      requests += 1;
      if (page.length === 0) break; // nothing after `since` up to the end
      write(symbol, page);
      rows += page.length;
      const last = page[page.length - 1]?.[0] ?? o.to;
      since = last + MINUTE;
    }
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
  symbols: string[];
  from: number;
  to: number;
  dir: string;
  mode: 'embedded' | 'kafka' | 'bulk';
}): Promise<PartResult> {
  // Imported here: the floor and ccxt processes do not load (or carry the RSS of) the platform.
  const [{ canonicalCollection }, { loadConfig }, { PlatformConfig }, { startPlatform }] = await Promise.all([
    import('../shared/contracts/events.ts'),
    import('../shared/runtime/config.ts'),
    import('../functions/platform/config.ts'),
    import('../functions/platform/platform.ts'),
  ]);
  const cfg = loadConfig(PlatformConfig, {
    PORT: '0',
    LOG_LEVEL: process.env['LOG_LEVEL'] ?? 'warn',
    SQLITE_PATH: path.join(o.dir, `${o.mode}.sqlite`),
    BINANCE_API_URL: o.sim,
    BINANCE_FAPI_URL: o.sim,
    BINANCE_ARCHIVE_URL: o.sim,
    DEMO: 'false',
    KAFKA_BROKERS: o.mode === 'kafka' ? (process.env['KAFKA_BROKERS'] ?? '') : '',
    KAFKA_CLIENT_ID: `bench-e2e-${o.mode}`,
    // RUNNER_DELIVERY=http: the runner POSTs to the functions as a KafkaSource does, instead of
    // handing them the decoded event (the default): what the direct path buys.
    ...(process.env['RUNNER_DELIVERY'] === undefined
      ? {}
      : { RUNNER_DELIVERY: process.env['RUNNER_DELIVERY'] }),
  });
  const logger = createLogger('bench-e2e-platform', cfg.LOG_LEVEL);
  const started = performance.now();
  const platform = await startPlatform({ cfg, logger, host: '127.0.0.1' });
  const startup = (performance.now() - started) / 1000;
  try {
    const day = (t: number) => new Date(t).toISOString().slice(0, 10);
    const posted = performance.now();
    // One symbol as `symbol` (the answer is the workflow), several as `symbols` (the answer is
    // `{ workflows: [...] }`, one per symbol in request order): functions/queue-manager/routes.ts.
    const res = await fetch(`${platform.url}/workflows`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        ...(o.symbols.length === 1 ? { symbol: o.symbols[0] } : { symbols: o.symbols }),
        type: o.mode === 'bulk' ? 'bulk_candles_1m' : 'api_candles_1m',
        time_range: `${day(o.from)}:${day(o.to)}`,
      }),
    });
    const created = (await res.json()) as { queue_id?: string; workflows?: { queue_id?: string }[] };
    const ids = (created.workflows ?? [created]).map((w) => w.queue_id);
    if (res.status !== 201 || ids.length !== o.symbols.length || ids.some((id) => id === undefined))
      throw new Error(`POST /workflows: ${res.status} ${JSON.stringify(created)}`);
    type Wf = {
      queue_id: string;
      symbol: string;
      status: string;
      records_written: number;
      error?: unknown;
      created_at?: string;
      timeline?: { at: string; producer: string; status: string; message: string }[];
    };
    const done = new Map<string, Wf>();
    const deadline = posted + Number(args.timeout) * 1000;
    while (done.size < ids.length) {
      await new Promise((r) => setTimeout(r, 200));
      const waiting: string[] = [];
      for (const id of ids) {
        if (id === undefined || done.has(id)) continue;
        const wf = (await (await fetch(`${platform.url}/workflows/${id}`)).json()) as Wf;
        if (wf.status === 'completed') done.set(id, wf);
        else if (['error', 'cancelled'].includes(wf.status))
          throw new Error(`workflow ${id} ended ${wf.status}: ${JSON.stringify(wf.error)}`);
        else waiting.push(`${id} ${wf.status}`);
      }
      if (waiting.length > 0 && performance.now() > deadline)
        throw new Error(`not completed after --timeout ${args.timeout} s: ${waiting.join(', ')}`);
    }
    const now = performance.now();
    const seconds = (now - started) / 1000;
    const fromPost = (now - posted) / 1000;
    const stored = await platform.store.count(canonicalCollection('kline'));
    const wfs = ids.flatMap((id) => done.get(id ?? '') ?? []);
    const written = wfs.reduce((n, wf) => n + wf.records_written, 0);
    return {
      part: o.mode,
      seconds,
      fromPost,
      records: stored,
      notes: [
        `platform start ${startup.toFixed(1)} s (included in the total); ${wfs.length} workflow(s) completed, ` +
          `records_written ${written}, stored ${stored} (12 fields, exact decimals)`,
        ...wfs.map((wf) => (wfs.length === 1 ? '' : `${wf.symbol}: `) + phases(wf)),
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
  /** Time its main thread spent runnable but waiting for a core, seconds, at the last sample. */
  wait: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

/**
 * Seconds the main (JavaScript) thread of `pid` has spent runnable but waiting for a core (the
 * 2nd field of /proc/<pid>/schedstat, ns): large when other work on the machine competes for the
 * cores, which makes wall times unreliable. 0 once the process is gone.
 */
function runQueueWait(pid: number | 'self'): number {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[1] ?? 0) / 1e9;
  } catch {
    return 0;
  }
}

/**
 * Peak RSS (VmHWM), CPU seconds and run-queue wait of every process below `root`, by pid, sampled
 * every 100 ms until stopped.
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
        peaks.set(pid, {
          cmd: cmd || before?.cmd || '', // empty once the process is a zombie
          kib: Math.max(kib, before?.kib ?? 0),
          cpu: cpu.get(pid) ?? before?.cpu ?? 0,
          wait: Math.max(runQueueWait(pid), before?.wait ?? 0),
        });
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

/**
 * CPU seconds of this process's reaped children and their reaped descendants (cutime + cstime):
 * around a part, exactly the CPU of its process tree (the broker is never reaped during a part).
 */
function childrenCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / TICKS_PER_SECOND;
}

async function runPart(part: string, sim: string, dir: string, env: NodeJS.ProcessEnv) {
  const argv = ['--import', 'tsx', 'bench/e2e.ts', '--part', part, '--sim', sim, '--dir', dir];
  argv.push('--from', args.from, '--to', args.to, '--symbols', symbols.join(','), '--timeout', args.timeout);
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

type Outcome = Awaited<ReturnType<typeof runPart>> & {
  /** CPU seconds of the part's process tree. */
  cpu: number;
  /** CPU seconds of this process (the simulator, and the sampler) during the part. */
  simCpu: number;
  /** Seconds this process waited for a core during the part. */
  simWait: number;
  brokerCpu?: number;
};

async function main(): Promise<void> {
  const logger = createLogger('bench-e2e', 'warn');
  // The default symbols and every one asked for (spot); unknown names get a generic profile.
  const simSymbols = [...new Set([...DEFAULT_SYMBOLS, ...symbols])];
  const exchange = createExchangeApp({ weightLimit: 0, futuresWeightLimit: 0, symbols: simSymbols, logger });
  const sim = await serve(exchange, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
  const dir = mkdtempSync(path.join(tmpdir(), 'sf-bench-e2e-'));
  const parts = args.parts.split(',').map((p) => p.trim());
  let kafka: RunningKafka | undefined;
  const results: Outcome[] = [];
  try {
    console.log(
      `simulator ${sim.url}; ${symbols.length} symbol(s) ${symbols.join(',')}; 1m ${args.from} → ${args.to}; ` +
        `parts ${parts.join(', ')}; ${load()}`,
    );
    if (parts.includes('bulk')) await warmArchive(sim.url);
    for (const part of parts) {
      const env: NodeJS.ProcessEnv = { ...process.env, KAFKA_BROKERS: '' };
      if (part === 'nometrics') env['STREAMFORGE_METRICS'] = 'off';
      if (part === 'kafka') {
        if (!process.env['KAFKA_BROKERS']) kafka ??= await startKafka({ heapMb: 512 });
        env['KAFKA_BROKERS'] = process.env['KAFKA_BROKERS'] || kafka?.brokers;
      }
      console.log(`\n[${part}] running ...`);
      const broker = kafka === undefined ? undefined : brokerPid(kafka.dir);
      const brokerCpu0 = broker === undefined ? 0 : cpuSeconds(broker);
      const cpu0 = process.cpuUsage();
      const wait0 = runQueueWait('self');
      const tree0 = childrenCpuSeconds();
      const r = await runPart(part, sim.url, dir, env);
      const used = process.cpuUsage(cpu0);
      results.push({
        ...r,
        cpu: childrenCpuSeconds() - tree0,
        simCpu: (used.user + used.system) / 1e6,
        simWait: runQueueWait('self') - wait0,
        ...(broker === undefined || part !== 'kafka' ? {} : { brokerCpu: cpuSeconds(broker) - brokerCpu0 }),
      });
      if (r.error) console.log(`[${part}] FAILED: ${r.error}`);
    }
  } finally {
    await sim.close();
    await kafka?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(`\nall parts done; ${load()}`);
  report(results);
}

/** Builds every monthly and daily 1m file of the range once (the simulator keeps them), untimed. */
async function warmArchive(sim: string): Promise<void> {
  const t0 = performance.now();
  const { archiveFileAt, checksumPath } = await import('../shared/archive/archive-paths.ts');
  const from = Date.parse(args.from);
  const to = Date.parse(args.to);
  let files = 0;
  for (const symbol of symbols)
    for (let t = from; t < to;) {
      const d = new Date(t);
      const monthEnd = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      const whole = t === Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) && monthEnd <= to;
      const period = whole ? 'monthly' : 'daily';
      const f = archiveFileAt({ market: 'spot', dataset: 'klines_1m', symbol, period }, t);
      await (await fetch(`${sim}/${checksumPath(f)}`)).text();
      files += 1;
      t = whole ? monthEnd : t + 86_400_000;
    }
  console.log(`archive warmed: ${files} files built in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Other work on the machine skews the figures: shown at the start and the end. */
const load = (): string =>
  `load average ${loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} on ${cpus().length} cores`;

const MIB = 1024;
const x = (v: number): string => `${v.toFixed(2)}x`;
/** CPU seconds per million candles stored. */
const cpuPerM = (r: Outcome): number => (r.result ? (r.cpu / r.result.records) * 1e6 : Number.NaN);
const peakMib = (r: Outcome): number => Math.max(0, ...[...r.peaks.values()].map((p) => p.kib)) / MIB;
/** Peak RSS of the part's processes, added up (an upper bound of what they held at once). */
const sumMib = (r: Outcome): number => [...r.peaks.values()].reduce((n, p) => n + p.kib, 0) / MIB;

function report(results: Outcome[]): void {
  const floor = results.find((r) => r.part === 'floor' && r.result);
  const base = floor?.result;
  console.log(
    "\nresults (wall time, records; ratios to the floor of this run; CPU of the part's process tree;" +
      ' per process: peak RSS, CPU, time spent waiting for a core):',
  );
  for (const r of results) {
    if (!r.result) {
      console.log(`  ${r.part.padEnd(9)} FAILED: ${r.error}`);
      continue;
    }
    const { seconds, fromPost, records, notes } = r.result;
    const post = fromPost === undefined ? '' : ` (POST → completed ${fromPost.toFixed(1)} s)`;
    const same = base === undefined || records === base.records ? '' : ` (≠ the floor's ${base.records})`;
    let ratio = '';
    if (base && r !== floor) {
      ratio = `  = ${x(seconds / base.seconds)} the floor's wall time`;
      if (fromPost !== undefined) ratio += ` (from POST ${x(fromPost / base.seconds)})`;
    }
    console.log(
      `  ${r.part.padEnd(9)} ${seconds.toFixed(1)} s${post}  ${records} records${same}  ` +
        `${Math.round(records / seconds)} records/s${ratio}`,
    );
    const cpuRatio = floor && r !== floor ? ` = ${x(cpuPerM(r) / cpuPerM(floor))} the floor's` : '';
    console.log(
      `            CPU ${r.cpu.toFixed(1)} s over ${r.peaks.size} process(es) = ` +
        `${cpuPerM(r).toFixed(1)} CPU s per million candles${cpuRatio}; ` +
        `peak RSS ${Math.round(peakMib(r))} MiB in one process, ${Math.round(sumMib(r))} MiB summed`,
    );
    for (const n of notes) console.log(`            ${n}`);
    const procs = [...r.peaks].sort((a, b) => b[1].kib - a[1].kib);
    for (const [pid, p] of procs.slice(0, 8))
      console.log(
        `            peak RSS ${Math.round(p.kib / MIB)} MiB  CPU ${p.cpu.toFixed(1)} s  ` +
          `waited for a core ${p.wait.toFixed(1)} s  pid ${pid}  ${p.cmd}`,
      );
    if (procs.length > 8) console.log(`            ... and ${procs.length - 8} more, smaller`);
    console.log(
      `            simulator (the bench's own process) CPU ${r.simCpu.toFixed(1)} s  ` +
        `waited for a core ${r.simWait.toFixed(1)} s`,
    );
    if (r.brokerCpu !== undefined)
      console.log(
        `            Kafka broker (java) CPU ${r.brokerCpu.toFixed(1)} s (with it: ` +
          `${(((r.cpu + r.brokerCpu) / records) * 1e6).toFixed(1)} CPU s per million candles)`,
      );
  }
  console.log(aims(results, floor));
}

/** The aims, each marked met / not met from this run's figures. */
function aims(results: Outcome[], floor: Outcome | undefined): string {
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  const sf = (part: string) => results.find((r) => r.part === part && r.result);
  const checks: string[] = [];
  const wall = (part: string, limit: number): void => {
    const r = sf(part);
    if (!r?.result || !floor?.result) return void checks.push(`${part} wall ≤ ${limit}x floor: not measured`);
    const v = r.result.seconds / floor.result.seconds;
    const post =
      r.result.fromPost === undefined ? '' : `, from POST ${x(r.result.fromPost / floor.result.seconds)}`;
    checks.push(`${part} wall ≤ ${limit}x floor: ${x(v)}${post} ${mark(v <= limit)}`);
  };
  wall('embedded', 1.25);
  wall('kafka', 2);
  const withMetrics = sf('embedded');
  const without = sf('nometrics');
  if (withMetrics?.result && without?.result) {
    const v = withMetrics.result.seconds / without.result.seconds - 1;
    const c = withMetrics.cpu / without.cpu - 1;
    checks.push(
      `metrics overhead (embedded vs nometrics) < 3%: wall ${(v * 100).toFixed(1)}%, CPU ${(c * 100).toFixed(1)}% ${mark(v < 0.03)}`,
    );
  } else checks.push('metrics overhead: not measured (--parts embedded,nometrics)');
  const bulk = sf('bulk');
  const rest = sf('embedded');
  if (bulk?.result && rest?.result) {
    const rate = bulk.result.records / bulk.result.seconds;
    const v = rest.result.seconds / bulk.result.seconds;
    checks.push(
      `bulk ≥ 300,000 candles/s: ${Math.round(rate)} ${mark(rate >= 300_000)}; ` +
        `bulk ≥ 5x the REST path (embedded): ${x(v)} ${mark(v >= 5)}`,
    );
  } else checks.push('bulk against the REST path: not measured');
  for (const part of ['embedded', 'kafka']) {
    const r = sf(part);
    if (!r || !floor) checks.push(`${part} CPU/M candles ≤ 2x floor's: not measured`);
    else {
      const v = cpuPerM(r) / cpuPerM(floor);
      checks.push(`${part} CPU/M candles ≤ 2x floor's: ${x(v)} ${mark(v <= 2)}`);
    }
  }
  for (const part of ['embedded', 'kafka']) {
    const r = sf(part);
    if (!r) checks.push(`${part} peak RSS ≤ 300 MiB per process: not measured`);
    else
      checks.push(
        `${part} peak RSS ≤ 300 MiB per process: ${Math.round(peakMib(r))} MiB ${mark(peakMib(r) <= 300)}`,
      );
  }
  return `aims (wall on the total, platform start included): ${checks.join('; ')}`;
}

(args.part ? child() : main()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
