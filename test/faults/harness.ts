/**
 * The fault suite's harness (docs/faults.md): the simulated exchange in the test process (it
 * outlives every platform it serves, so it stays the truth across restarts), the platform as a
 * child process in its own process group (`npm start`'s main.ts: manager, connector, loader-ws,
 * runner; its loaders are its children), seeded fault timing, bounded waits, and the comparison
 * of what the SQLite file holds with what the simulator's REST API says exists.
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { createExchange, type Exchange } from '../../functions/dummy-service/exchange/exchange.ts';
import { createWsExchange } from '../../functions/dummy-service/exchange/ws/server.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { REPO_ROOT } from '../../shared/jobs/child-process-launcher.ts';
import { freePort } from '../../scripts/kafka.mjs';
import { mulberry32 } from '../../shared/analytics/gnn/random.ts';
import { expect } from 'vitest';

export const logger = pino({ level: process.env.FAULTS_LOG ?? 'silent' });
export const LIVE_SYMBOL = 'SOLUSDT';
export const BACKFILL_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'ETHBTC'];
const MINUTE = 60_000;
export const DAY = 1440 * MINUTE;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The suite's faults happen at seeded points (FAULT_SEED, default 16): the project's mulberry32. */
export function seeded(seed = Number(process.env['FAULT_SEED'] ?? 16)): () => number {
  return mulberry32(seed);
}

// --- the simulated exchange -----------------------------------------------------------------

export interface Sim {
  url: string;
  exchange: Exchange;
  /** GET through the REST API of a fault-free twin of the exchange (outside the loaders' weight budget). */
  json<T>(p: string): Promise<T>;
  storm(status: 429 | 418, requests: number, retryAfterS?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startSim(opts: { latencyMs?: number; malformedRate?: number } = {}): Promise<Sim> {
  const market = {
    logger,
    seed: 16,
    symbols: [...BACKFILL_SYMBOLS, { symbol: LIVE_SYMBOL, market: 'spot' as const, tradesPerMinute: 6000 }],
  };
  const exchange = createExchange({
    ...market,
    faults: { latencyMs: opts.latencyMs ?? 0, malformedRate: opts.malformedRate ?? 0 },
  });
  // The same market (same seed, same symbols: the generator is deterministic) without faults: the
  // truth is read from its REST API, so an injected malformed body cannot corrupt the truth.
  const truth = createExchange({ ...market, weightLimit: 0 });
  const served = await serve(exchange.app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
  const ws = createWsExchange(exchange, exchange.config.ws, logger);
  ws.attach(served.server);
  return {
    url: served.url,
    exchange,
    async json<T>(p: string): Promise<T> {
      const res = await truth.app.request(p);
      if (res.status !== 200) throw new Error(`simulator ${p}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    async storm(status, requests, retryAfterS = 1) {
      const res = await fetch(`${served.url}/sim/faults`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ storm: { status, requests, retryAfterS } }),
      });
      if (res.status !== 200) throw new Error(`storm refused: ${await res.text()}`);
    },
    async close() {
      await ws.close();
      await served.close();
    },
  };
}

// --- the platform as a child process ---------------------------------------------------------

export interface PlatformProc {
  url: string;
  pid: number;
  /** Direct children of the platform (its loader jobs). */
  childPids(): number[];
  /** SIGKILL of the whole process group: manager, connector, loader-ws and every loader at once. */
  killAll(): Promise<void>;
  /** SIGTERM, bounded; then SIGKILL. */
  stop(): Promise<void>;
}

export interface PlatformOpts {
  sim: Sim;
  sqlitePath: string;
  kafkaBrokers?: string;
  port?: number;
  env?: Record<string, string>;
}

export async function startPlatformProc(o: PlatformOpts): Promise<PlatformProc> {
  const port = o.port ?? (await freePort());
  const wsBase = o.sim.url.replace(/^http/, 'ws');
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(REPO_ROOT, 'functions/platform/main.ts'), '--no-demo'],
    {
      cwd: REPO_ROOT,
      detached: true, // its own process group: killAll reaches its loaders too
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PORT: String(port),
        SQLITE_PATH: o.sqlitePath,
        DEMO: 'false',
        LOG_LEVEL: process.env.FAULTS_PLATFORM_LOG_LEVEL ?? 'warn',
        KAFKA_BROKERS: o.kafkaBrokers ?? '',
        BINANCE_API_URL: o.sim.url,
        BINANCE_FAPI_URL: o.sim.url,
        BINANCE_ARCHIVE_URL: o.sim.url,
        BINANCE_WS_URL: wsBase,
        BINANCE_FWS_URL: `${wsBase}/usdm`,
        SHUTDOWN_GRACE_MS: '2000',
        JOB_EXIT_GRACE_MS: '500',
        STALL_TIMEOUT_MS: '8000',
        WATCHDOG_INTERVAL_MS: '1000',
        CREATE_RATE_PER_MINUTE: '1000',
        ...o.env,
      },
    },
  );
  let stderr = '';
  const keep = (b: Buffer) => {
    stderr = (stderr + b.toString()).slice(-4000);
  };
  child.stderr?.on('data', keep);
  child.stdout?.on('data', keep);
  // For diagnosis: FAULTS_PLATFORM_LOG=<file> appends every platform's log lines to that file.
  const logFile = process.env.FAULTS_PLATFORM_LOG;
  if (logFile) {
    const out = createWriteStream(logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
  }
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`platform exited during start:\n${stderr}`);
    if (Date.now() > deadline) {
      process.kill(-child.pid!, 'SIGKILL');
      throw new Error(`platform not ready after 60 s:\n${stderr}`);
    }
    const ok = await fetch(`${url}/readyz`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    await sleep(150);
  }
  const pid = child.pid!;
  const killGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-pid, sig);
    } catch {
      // already gone
    }
  };
  return {
    url,
    pid,
    childPids: () => childrenOf(pid),
    async killAll() {
      killGroup('SIGKILL');
      await Promise.race([exited, sleep(5000)]);
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
      killGroup('SIGKILL');
      await Promise.race([exited, sleep(2000)]);
    },
  };
}

export function childrenOf(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

// --- workflows ------------------------------------------------------------------------------

export interface Wf {
  queue_id: string;
  symbol: string;
  type: string;
  status: string;
  start: number;
  end: number;
  attempt: number;
  records_written?: number;
  error?: { code?: string; message?: string };
}

export async function api<T>(url: string, p: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${p}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const json: unknown = await res.json();
  if (res.status >= 300) throw new Error(`${p}: ${res.status} ${JSON.stringify(json)}`);
  return json as T;
}

export async function submit(url: string, body: Record<string, unknown>): Promise<Wf[]> {
  const out = await api<Wf | Wf[] | { workflows: Wf[] }>(url, '/workflows', body);
  if (Array.isArray(out)) return out;
  if ('workflows' in out) return out.workflows;
  return [out];
}

const TERMINAL = new Set(['completed', 'error', 'cancelled']);

/** Polls until every workflow is terminal or `timeoutMs` passes (then the non-terminal are returned as they are). */
export async function settle(url: string, ids: string[], timeoutMs: number): Promise<Wf[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const wfs = await Promise.all(ids.map((id) => api<Wf>(url, `/workflows/${id}`)));
    if (wfs.every((w) => TERMINAL.has(w.status)) || Date.now() > deadline) return wfs;
    await sleep(250);
  }
}

/**
 * The right end for every workflow of a fault run: `completed`; or `error` with a code of
 * `retryable` and a message, then retried (at most twice) to `completed`. Never a hang: each
 * wait is bounded. Returns how many ended right and a note per workflow that did not finish first time.
 */
export async function driveToEnd(
  url: string,
  ids: string[],
  retryable: string[],
  timeoutMs = 60_000,
): Promise<{ right: number; total: number; notes: string[]; final: Wf[] }> {
  const notes: string[] = [];
  let wfs = await settle(url, ids, timeoutMs);
  const tried = new Set<string>();
  for (let round = 0; round < 2; round++) {
    const failed = wfs.filter((w) => w.status === 'error' && !tried.has(`${w.queue_id}/${w.attempt}`));
    if (failed.length === 0) break;
    for (const w of failed) tried.add(`${w.queue_id}/${w.attempt}`);
    for (const w of failed) {
      const code = w.error?.code ?? '?';
      notes.push(`${w.symbol} ${w.type}: error ${code} (${(w.error?.message ?? '').slice(0, 60)})`);
      // `CODE` or `CODE:text the message must contain` (a generic code is only acceptable with a reason).
      const ok = retryable.some((r) => {
        const [c, text] = r.split(':', 2) as [string, string | undefined];
        return c === code && (text === undefined || (w.error?.message ?? '').includes(text));
      });
      if (!ok || !w.error?.message) continue;
      await api(url, `/workflows/${w.queue_id}/retry`, {});
    }
    wfs = await settle(url, ids, timeoutMs);
  }
  const right = wfs.filter((w) => w.status === 'completed').length;
  for (const w of wfs)
    if (w.status !== 'completed')
      notes.push(`${w.symbol} ${w.type}: ended ${w.status} ${JSON.stringify(w.error)}`);
  return { right, total: ids.length, notes, final: wfs };
}

// --- truth against the store ----------------------------------------------------------------

export interface Tally {
  expected: number;
  stored: number;
  missing: number;
  /** Rows stored twice under one key, plus rows the exchange does not have or with other values. */
  duplicated: number;
}

const add = (a: Tally, b: Tally): Tally => ({
  expected: a.expected + b.expected,
  stored: a.stored + b.stored,
  missing: a.missing + b.missing,
  duplicated: a.duplicated + b.duplicated,
});
export const ZERO: Tally = { expected: 0, stored: 0, missing: 0, duplicated: 0 };

function compare(truth: Map<number, string>, rows: { id: number; v: string }[]): Tally {
  const seen = new Map<number, number>();
  let bad = 0;
  for (const r of rows) {
    seen.set(r.id, (seen.get(r.id) ?? 0) + 1);
    if (truth.get(r.id) !== r.v) bad++; // not on the exchange, or other values
  }
  let dup = 0;
  for (const n of seen.values()) dup += n - 1;
  let missing = 0;
  for (const id of truth.keys()) if (!seen.has(id)) missing++;
  return { expected: truth.size, stored: rows.length, missing, duplicated: dup + bad };
}

function readRows(sqlitePath: string, sql: string, args: unknown[]): { id: number; v: string }[] {
  const db = new Database(sqlitePath, { readonly: true, timeout: 10_000 });
  try {
    const exists = db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(sql.split('"')[1]);
    if (!exists) return [];
    return db.prepare(sql).all(...args) as { id: number; v: string }[];
  } finally {
    db.close();
  }
}

/** 1m klines of `symbols` over [from, to): the simulator's REST API against the store. */
export async function compareKlines(
  sim: Sim,
  sqlitePath: string,
  symbols: string[],
  from: number,
  to: number,
): Promise<Tally> {
  let total = ZERO;
  for (const symbol of symbols) {
    const truth = new Map<number, string>();
    for (let t = from; t < to;) {
      const page = await sim.json<unknown[][]>(
        `/api/v3/klines?symbol=${symbol}&interval=1m&startTime=${t}&endTime=${to - 1}&limit=1000`,
      );
      for (const k of page) truth.set(k[0] as number, `${String(k[4])}|${String(k[5])}|${String(k[8])}`);
      if (page.length < 1000) break;
      t = (page.at(-1)![0] as number) + MINUTE;
    }
    const rows = readRows(
      sqlitePath,
      `SELECT open_time AS id, close || '|' || volume || '|' || trades AS v FROM "market_klines" WHERE series = ? AND open_time >= ? AND open_time < ?`,
      [`spot:${symbol}:klines_1m`, from, to],
    );
    total = add(total, compare(truth, rows));
  }
  return total;
}

/** aggTrades of `symbol` over [from, to) (a live workflow's window). */
export async function compareAggTrades(
  sim: Sim,
  sqlitePath: string,
  symbol: string,
  from: number,
  to: number,
): Promise<Tally> {
  const truth = new Map<number, string>();
  let page = await sim.json<Array<{ a: number; p: string; q: string; T: number }>>(
    `/api/v3/aggTrades?symbol=${symbol}&startTime=${from}&endTime=${Math.min(to - 1, from + 3_599_999)}&limit=1000`,
  );
  for (;;) {
    let more = page.length === 1000;
    for (const a of page) {
      if (a.T >= to) {
        more = false;
        break;
      }
      truth.set(a.a, `${a.p}|${a.q}`);
    }
    if (!more) break;
    page = await sim.json(`/api/v3/aggTrades?symbol=${symbol}&fromId=${page.at(-1)!.a + 1}&limit=1000`);
  }
  const rows = readRows(
    sqlitePath,
    `SELECT agg_id AS id, price || '|' || qty AS v FROM "market_agg_trades" WHERE series = ? AND time >= ? AND time < ?`,
    [`spot:${symbol}:agg_trades`, from, to],
  );
  return compare(truth, rows);
}

// --- the table ------------------------------------------------------------------------------

export interface Row extends Tally {
  scenario: string;
  mode: string;
  faults: string;
  workflows: string;
  seconds: number;
  notes: string;
}

const ARTIFACTS = path.join(REPO_ROOT, 'test-artifacts');
const ROWS_DIR = path.join(ARTIFACTS, 'faults');

/** Saves this file's rows and rewrites test-artifacts/faults.md from every file's rows. */
export function report(file: string, rows: Row[]): void {
  mkdirSync(ROWS_DIR, { recursive: true });
  writeFileSync(path.join(ROWS_DIR, `${file}.json`), JSON.stringify(rows, null, 2));
  // The table is the suite's output (npm run test:faults prints it).
  // eslint-disable-next-line no-console
  console.table(
    rows.map((r) => ({
      scenario: r.scenario,
      mode: r.mode,
      faults: r.faults,
      expected: r.expected,
      stored: r.stored,
      missing: r.missing,
      duplicated: r.duplicated,
      workflows: r.workflows,
      s: r.seconds,
    })),
  );
  const all: Row[] = [];
  for (const f of readdirSync(ROWS_DIR).sort())
    if (f.endsWith('.json')) all.push(...(JSON.parse(readFileSync(path.join(ROWS_DIR, f), 'utf8')) as Row[]));
  const lines = [
    '# Fault table (npm run test:faults)',
    '',
    `Written ${new Date().toISOString()}. Truth: the simulator's REST API over each run's range.`,
    '',
    '| scenario | mode | faults injected | records expected | stored | missing | duplicated | workflows in the right state | s | notes |',
    '|---|---|---|---:|---:|---:|---:|---|---:|---|',
    ...all.map(
      (r) =>
        `| ${r.scenario} | ${r.mode} | ${r.faults} | ${r.expected} | ${r.stored} | ${r.missing} | ${r.duplicated} | ${r.workflows} | ${r.seconds} | ${r.notes.replaceAll('|', '/')} |`,
    ),
    '',
  ];
  writeFileSync(path.join(ARTIFACTS, 'faults.md'), lines.join('\n'));
}

/**
 * A scenario's verdict, recorded in `rows` for the table: it fails when a record is missing or
 * doubled, nothing was expected, the run itself failed, or a workflow ended in the wrong state.
 */
export function checkRow(rows: Row[], row: Row): void {
  rows.push(row);
  expect(row.notes, row.faults).not.toContain('run failed');
  expect(row.expected).toBeGreaterThan(0);
  expect({ missing: row.missing, duplicated: row.duplicated, stored: row.stored }).toEqual({
    missing: 0,
    duplicated: 0,
    stored: row.expected,
  });
  const [right, total] = row.workflows.split(' ')[0]!.split('/');
  expect(right, row.notes).toBe(total);
}
