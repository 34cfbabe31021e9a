/**
 * Live aggTrade capture side by side (issue 13 "Measure"): StreamForge's loader-ws, ccxt pro and
 * cryptofeed capture BTCUSDT aggTrades at the same time, for the same window, from one simulated
 * Binance with the same WebSocket faults, and the table says what each delivered against what the
 * exchange made in the window.
 *
 *   npx tsx bench/ws-peers.ts        BENCH_SECONDS=90 (window)  BENCH_WARMUP_SECONDS=10
 *                                    BENCH_PYTHON=python3  BENCH_CCXT_STREAM=aggTrade (or trade)
 *
 * How:
 * - The exchange is a child process, `functions/dummy-service/exchange/sim-main.ts` under this
 *   process's tsx, on a free port: BTCUSDT at 6000 aggTrades/min, SIM_WEIGHT_LIMIT 6000 (Binance's
 *   own limit; no client comes near it), SIM_GAPS=none, and the faults: every socket dropped every
 *   5 s (1006), a 2 s silent stall every 7 s (what happens during it is never sent), connections
 *   cut at 20 s.
 * - StreamForge runs in this process: createLiveLoader (production DEFAULT_SETTINGS) on a memory
 *   bus and an in-memory SQLite store, one `ws_agg_trades` workflow with start = t0, end = t1;
 *   delivered = the agg ids (row column 0) published on `binance-agg-trade`, after it reports
 *   "loader finished".
 * - ccxt runs in a child process (this file with BENCH_PEER=ccxt): `ccxt.pro.binance` with the
 *   public REST base and the spot WS URL pointed at the simulator, loadMarkets of spot only, and a
 *   user's loop `watchTrades('BTC/USDT', …, { name: 'aggTrade' })` that counts errors and calls
 *   again; delivered = trade `id` (the aggTrade `a`). Its reconnects are ccxt's defaults
 *   (options.ws.backoff: 1 s doubling up to 60 s, reset only after 30 s without a dial).
 * - cryptofeed runs as `bench/peers/cryptofeed_peer.py` (TRADES on its Binance feed, which is the
 *   @aggTrade stream; id = `a`), endpoints pointed at the simulator; a row "n/a (reason)" when it
 *   cannot run (e.g. `pip install cryptofeed` missing).
 * - The peers start BENCH_WARMUP_SECONDS before t0, so they are connected when the window opens;
 *   StreamForge's workflow starts at t0 (its REST refill covers its own start-up). Every client's
 *   deliveries are counted for trade times in [t0, t1); the simulator's WS counters are reset at t0
 *   and read at t1.
 * - Truth: the simulator's REST `aggTrades` from startTime t0 (then fromId) up to t1 (for a trade
 *   stream: `historicalTrades` from the first aggTrade's `f`). missing = truth − delivered;
 *   duplicated = deliveries − unique.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { pino } from 'pino';
import { createLiveLoader } from '../functions/loader-ws/handler.ts';
import { DEFAULT_SETTINGS } from '../functions/loader-ws/schema.ts';
import { createMemoryBus } from '../shared/bus/memory-bus.ts';
import { EventTypes, Topics, canonicalCollection } from '../shared/contracts/events.ts';
import type { QueueCommand } from '../shared/contracts/workflow.ts';
import { createExchangeClient } from '../shared/exchange/rest-client.ts';
import { createWeightBudget } from '../shared/exchange/weight-budget.ts';
import { makeEvent } from '../shared/runtime/cloudevents.ts';
import { createSqliteStore } from '../shared/store/sqlite-store.ts';

const ROOT = path.resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 90);
const WARMUP_S = Number(process.env['BENCH_WARMUP_SECONDS'] ?? 10);
const PYTHON = process.env['BENCH_PYTHON'] ?? 'python3';
const CCXT_STREAM = process.env['BENCH_CCXT_STREAM'] === 'trade' ? 'trade' : 'aggTrade';
/** Peers keep running this long past t1, for events of the window still on their way. */
const GRACE_MS = 3000;
const SYMBOL = 'BTCUSDT';
const SIM_ENV = {
  SIM_WEIGHT_LIMIT: '6000',
  SIM_SYMBOLS: `${SYMBOL}=6000`,
  SIM_GAPS: 'none',
  SIM_WS_DISCONNECT_EVERY_MS: '5000',
  SIM_WS_STALL_EVERY_MS: '7000',
  SIM_WS_STALL_MS: '2000',
  SIM_WS_MAX_CONNECTION_MS: '20000',
  LOG_LEVEL: 'warn',
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One delivery: the id the client reported and the trade time. */
interface Delivery {
  id: number;
  time: number;
}

/** `<id> <time>` lines (ids and times are integers); `#` lines are the peer's notes. */
function parseLines(text: string): { got: Delivery[]; notes: string[] } {
  const got: Delivery[] = [];
  const notes: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) notes.push(line.slice(1).trim());
    else {
      const [a, b] = line.trim().split(' ');
      if (a !== undefined && b !== undefined) got.push({ id: Number(a), time: Number(b) });
    }
  }
  return { got, notes };
}

// ===================================================================== the ccxt peer (child)

async function ccxtPeer(): Promise<void> {
  const base = process.env['BENCH_SIM_URL']!;
  const until = Number(process.env['BENCH_UNTIL']);
  const { default: ccxt } = await import('ccxt');
  const ex = new ccxt.pro.binance();
  const api = ex.urls['api'] as Record<string, unknown> & { ws: Record<string, string> };
  api['public'] = `${base}/api/v3`;
  // ccxt connects to `<ws.spot>/<stream index>` (`/ws/0`), which the simulator refuses (400,
  // unknown stream '0'), and it tells spot from futures by '/stream' in the URL (real:
  // stream.binance.com): the query string carries both past the simulator's router.
  api.ws.spot = `${base.replace(/^http/, 'ws')}/ws?ccxt=/stream`;
  ex.options['fetchMarkets'] = { types: ['spot'] };
  // Node ccxt refuses ws:// URLs until its http agent is loaded.
  await ex.loadHttpProxyAgent();
  await ex.loadMarkets();
  // ccxt.version lags the package (4.5.84 says '4.5.83'): name the installed package.
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'node_modules/ccxt/package.json'), 'utf8')) as {
    version: string;
  };
  const out: string[] = [`# version ${pkg.version}`];
  const errors = new Map<string, number>();
  let erroredAt: number | undefined;
  const resumes: number[] = [];
  const deadline = new Promise<'deadline'>((r) => setTimeout(() => r('deadline'), until - Date.now()));
  while (Date.now() < until) {
    try {
      const trades = await Promise.race([
        ex.watchTrades('BTC/USDT', undefined, undefined, { name: CCXT_STREAM }),
        deadline,
      ]);
      if (trades === 'deadline') break;
      for (const t of trades) out.push(`${t.id} ${t.timestamp}`);
      if (erroredAt !== undefined && trades.length > 0) {
        resumes.push(Date.now() - erroredAt);
        erroredAt = undefined;
      }
    } catch (e) {
      const key = `${(e as Error).constructor.name}: ${(e as Error).message.slice(0, 120)}`;
      errors.set(key, (errors.get(key) ?? 0) + 1);
      erroredAt ??= Date.now();
    }
  }
  out.push(`# errors ${[...errors.values()].reduce((a, b) => a + b, 0)}`);
  for (const [k, n] of errors) out.push(`# error ${n}× ${k}`);
  // Errors with no trade between them count from the first.
  out.push(`# ms from an error to the next trade: ${resumes.join(', ') || '-'}`);
  await ex.close();
  process.stdout.write(out.join('\n') + '\n', () => process.exit(0));
}

// ===================================================================== the bench (parent)

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Child {
  proc: ChildProcess;
  stdout: string;
  stderr: string;
  exited: Promise<number | null>;
  error?: string;
}

/** Every child this process started, ended on the way out whatever happens. */
const children = new Set<ChildProcess>();
function endChildren(): void {
  for (const p of children) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
}

function run(cmd: string, args: string[], env: Record<string, string>): Child {
  const proc = spawn(cmd, args, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(proc);
  const c: Child = { proc, stdout: '', stderr: '', exited: Promise.resolve(null) };
  proc.stdout.setEncoding('utf8').on('data', (s: string) => (c.stdout += s));
  proc.stderr.setEncoding('utf8').on('data', (s: string) => (c.stderr += s));
  c.exited = new Promise((resolve) => {
    proc.on('error', (err) => {
      c.error = err.message;
      resolve(null);
    });
    proc.on('close', (code) => resolve(code));
  });
  return c;
}

/** Waits for the child's exit until `ms`, then ends it (SIGTERM, then SIGKILL). */
async function finish(c: Child, ms: number): Promise<number | null> {
  const within = async (t: number) => {
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      c.exited.then((code) => ({ code })),
      new Promise<undefined>((res) => (timer = setTimeout(() => res(undefined), t))),
    ]);
    clearTimeout(timer);
    return r;
  };
  const first = await within(ms);
  if (first) return first.code;
  c.proc.kill('SIGTERM');
  const second = await within(5000);
  if (second) return second.code;
  c.proc.kill('SIGKILL');
  return c.exited;
}

async function main(): Promise<void> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const wsUrl = `ws://127.0.0.1:${port}`;
  const json = async <T>(p: string, init?: RequestInit): Promise<T> => {
    const res = await fetch(`${url}${p}`, init);
    if (!res.ok) throw new Error(`${p}: HTTP ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };

  // ---- the exchange
  const sim = run(process.execPath, [...process.execArgv, 'functions/dummy-service/exchange/sim-main.ts'], {
    PORT: String(port),
    ...SIM_ENV,
  });
  for (let i = 0; ; i++) {
    const ok = await fetch(`${url}/api/v3/ping`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    if (i > 300 || sim.proc.exitCode !== null)
      throw new Error(`the simulator did not start: ${sim.stderr}${sim.stdout}`.slice(0, 2000));
    await sleep(100);
  }

  const t0 = Date.now() + WARMUP_S * 1000;
  const t1 = t0 + SECONDS * 1000;
  const until = t1 + GRACE_MS;
  console.log(
    `simulator ${url}  window ${SECONDS} s from ${new Date(t0).toISOString()}  faults: drop all sockets every 5 s, ` +
      `2 s stall every 7 s, max connection 20 s`,
  );

  // ---- the peers, connected before t0
  const ccxtChild = run(process.execPath, [...process.execArgv, path.join(ROOT, 'bench/ws-peers.ts')], {
    BENCH_PEER: 'ccxt',
    BENCH_SIM_URL: url,
    BENCH_UNTIL: String(until),
    BENCH_CCXT_STREAM: CCXT_STREAM,
  });
  const cfLog = path.join(process.env['TMPDIR'] ?? '/tmp', `ws-peers-cryptofeed-${process.pid}.log`);
  const cfChild = run(
    PYTHON,
    [
      path.join(ROOT, 'bench/peers/cryptofeed_peer.py'),
      '--base',
      url,
      '--seconds',
      String((until - Date.now()) / 1000),
      '--log',
      cfLog,
    ],
    {},
  );

  // ---- StreamForge in this process
  const silent = pino({ level: 'silent' });
  const bus = createMemoryBus({ logger: silent });
  const store = createSqliteStore({ path: ':memory:' });
  const client = () =>
    createExchangeClient({
      baseUrl: url,
      budget: createWeightBudget({ limit: 6000, windowMs: 60_000, margin: 0.05, maxInflightRequests: 4 }),
      timeoutMs: 5000,
    });
  const live = createLiveLoader({
    bus,
    store,
    logger: silent,
    settings: DEFAULT_SETTINGS,
    clients: { spot: client(), usdm: client() },
    wsUrls: { spot: wsUrl, usdm: `${wsUrl}/usdm` },
  });
  await live.start();
  const day = new Date(t0).toISOString().slice(0, 10).replaceAll('-', '');
  const queueId = `wf-btcusdt-ws_agg_trades-${day}-${randomBytes(3).toString('hex')}`;
  const sf: Delivery[] = [];
  let sfEnd: { status?: string; message?: string; progress?: { live?: Record<string, unknown> } } | undefined;
  const sub = await bus.subscribe({
    groupId: 'bench-ws-peers',
    topics: [Topics.data('agg_trade'), Topics.events],
    from: 'earliest',
    handler: (m) => {
      if (m.topic === Topics.events) {
        const e = m.event.data as typeof sfEnd & { queue_id?: string; finished?: boolean };
        if (e?.queue_id === queueId && (e.message === 'loader finished' || e.finished)) sfEnd = e;
      } else {
        for (const r of (m.event.data as { rows: number[][] }).rows) sf.push({ id: r[0]!, time: r[5]! });
      }
      return Promise.resolve();
    },
  });

  await sleep(t0 - Date.now());
  await json('/sim/ws/reset', { method: 'POST' });
  const command: QueueCommand = {
    command: 'start',
    queue_id: queueId,
    target: 'loader-ws',
    symbol: SYMBOL,
    type: 'ws_agg_trades',
    market: 'spot',
    time_range: 'live',
    start: t0,
    end: t1,
    kafka_topic: Topics.data('agg_trade'),
    collection_name: canonicalCollection('agg_trade'),
    telemetry_id: 'bench',
    attempt: 1,
    timestamp: new Date().toISOString(),
  };
  await live.handleEvent(makeEvent({ type: EventTypes.commandStart, source: '/bench', data: command }));
  await sleep(t1 - Date.now());
  const wsStats = await json<Record<string, unknown>>('/sim/ws/stats');

  // ---- wait for everyone
  const [ccxtCode, cfCode] = await Promise.all([
    finish(ccxtChild, until - Date.now() + 30_000),
    finish(cfChild, until - Date.now() + 30_000),
  ]);
  for (let i = 0; !sfEnd && i < 600; i++) await sleep(100);
  const sfStats = live.stats().pools.spot;
  const sfTotals = live.totals().get('agg_trade');
  await live.stop();
  await sub.close();
  await bus.close();
  await store.close();

  // ---- the truth
  const aggTruth: Array<{ a: number; f: number; T: number }> = [];
  for (let q = `startTime=${t0}&endTime=${t1 - 1}`; ;) {
    const rows = await json<Array<{ a: number; f: number; T: number }>>(
      `/api/v3/aggTrades?symbol=${SYMBOL}&${q}&limit=1000`,
    );
    const inside = rows.filter((r) => r.T >= t0 && r.T < t1);
    aggTruth.push(...inside);
    if (rows.length < 1000 || inside.length < rows.length) break;
    q = `fromId=${rows.at(-1)!.a + 1}`;
  }
  const truth = { aggTrade: new Set(aggTruth.map((r) => r.a)), trade: new Set<number>() };
  if (CCXT_STREAM === 'trade' && aggTruth[0]) {
    for (let from = aggTruth[0].f; ;) {
      const rows = await json<Array<{ id: number; time: number }>>(
        `/api/v3/historicalTrades?symbol=${SYMBOL}&fromId=${from}&limit=1000`,
      );
      const inside = rows.filter((r) => r.time >= t0 && r.time < t1);
      for (const r of inside) truth.trade.add(r.id);
      if (rows.length < 1000 || inside.length < rows.length) break;
      from = rows.at(-1)!.id + 1;
    }
  }
  sim.proc.kill('SIGTERM');
  await finish(sim, 10_000);

  // ---- the table
  interface Row {
    client: string;
    got?: Delivery[];
    truth: Set<number>;
    na?: string;
    notes: string[];
  }
  const ccxtOut = parseLines(ccxtChild.stdout);
  const cfOut = parseLines(cfChild.stdout);
  const lastLine = (s: string) =>
    s
      .trim()
      .split('\n')
      .filter((l) => l.trim() && !l.startsWith(' '))
      .at(-1) ?? '';
  const cfReconnects = (cfChild.stderr.match(/reconnecting in/g) ?? []).length;
  rmSync(cfLog, { force: true });
  const cfVersion = cfOut.notes.find((n) => n.startsWith('version'));
  const rows: Row[] = [
    {
      client: 'StreamForge loader-ws',
      ...(sfEnd?.message === 'loader finished'
        ? { got: sf }
        : {
            na: `workflow did not finish: ${sfEnd ? `${sfEnd.status} ${sfEnd.message}` : 'no final event'}`,
          }),
      truth: truth.aggTrade,
      notes: [
        `@aggTrade; reconnects ${sfStats.reconnects}, REST gap fills ${sfTotals?.gap_fills ?? 0} ` +
          `(${sfTotals?.filled_records ?? 0} records), duplicates dropped ${sfTotals?.duplicates ?? 0}, ` +
          `unfilled gaps ${sfTotals?.unfilled_gaps ?? 0}`,
      ],
    },
    {
      client: `ccxt pro ${ccxtOut.notes.find((n) => n.startsWith('version'))?.split(' ')[1] ?? ''}`.trim(),
      ...(ccxtCode === 0
        ? { got: ccxtOut.got }
        : { na: ccxtChild.error ?? `exit ${ccxtCode}: ${lastLine(ccxtChild.stderr)}` }),
      truth: truth[CCXT_STREAM],
      notes: [
        `@${CCXT_STREAM} (params.name '${CCXT_STREAM}')`,
        ...ccxtOut.notes.filter((n) => !n.startsWith('version')),
      ],
    },
    {
      client: `cryptofeed ${cfVersion?.split(' ')[1] ?? ''}`.trim(),
      ...(cfCode === 0
        ? { got: cfOut.got }
        : { na: cfChild.error ?? `exit ${cfCode}: ${lastLine(cfChild.stderr)}` }),
      truth: truth.aggTrade,
      notes: [`@aggTrade (TRADES); ${cfReconnects} "reconnecting in" warnings in its log`],
    },
  ];

  /** The missing aggTrades as runs of consecutive ids: how many, and the longest in trade time. */
  const outages = (got: Set<number>): string => {
    const runs: number[] = [];
    let from: number | undefined;
    let prev = t0;
    for (const r of aggTruth) {
      if (!got.has(r.a)) from ??= prev;
      else if (from !== undefined) {
        runs.push(r.T - from);
        from = undefined;
      }
      prev = r.T;
    }
    if (from !== undefined) runs.push(t1 - from);
    if (runs.length === 0) return 'no outage';
    const secs = (ms: number) => (ms / 1000).toFixed(1);
    const total = runs.reduce((a, b) => a + b, 0);
    return `missed ${runs.length} stretches, ${secs(total)} s of ${SECONDS} s in all, longest ${secs(Math.max(...runs))} s`;
  };
  const header = ['client', 'delivered unique', 'missing', 'duplicated', '% of exchange'];
  const table: string[][] = [header];
  const foreign: string[] = [];
  for (const r of rows) {
    if (!r.got) {
      table.push([r.client, `n/a (${r.na})`, '', '', '']);
      continue;
    }
    const inWindow = r.got.filter((d) => d.time >= t0 && d.time < t1).map((d) => d.id);
    const unique = new Set(inWindow);
    let hit = 0;
    for (const id of unique) if (r.truth.has(id)) hit++;
    const extra = unique.size - hit;
    if (extra > 0)
      foreign.push(`${r.client}: ${extra} delivered ids the exchange did not make in the window`);
    if (r.truth === truth.aggTrade) r.notes.push(outages(unique));
    table.push([
      r.client,
      String(unique.size),
      String(r.truth.size - hit),
      String(inWindow.length - unique.size),
      r.truth.size ? `${((100 * hit) / r.truth.size).toFixed(2)} %` : '-',
    ]);
  }
  // n/a rows are printed as they are: they do not widen the columns.
  const measured = table.filter((row) => row[2] !== '');
  const widths = header.map((_, i) => Math.max(...measured.map((row) => (row[i] ?? '').length)));
  const fmt = (row: string[]) =>
    row.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  console.log(
    `\nexchange made ${truth.aggTrade.size} aggTrades in the window` +
      (CCXT_STREAM === 'trade' ? ` (${truth.trade.size} trades)` : ''),
  );
  console.log(fmt(table[0]!));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table.slice(1)) console.log(row[2] === '' ? row.slice(0, 2).join('  ') : fmt(row));
  console.log('');
  for (const r of rows) if (r.got) for (const n of r.notes) console.log(`  ${r.client}: ${n}`);
  for (const f of foreign) console.log(`  note: ${f}`);
  const s = wsStats as { sent?: Record<string, number> } & Record<string, number>;
  console.log(
    `\nsimulator /sim/ws/stats over the window: disconnects ${s['disconnects']}, stalls ${s['stalls']}, ` +
      `max-connection cuts ${s['maxConnectionCuts']}, connections opened ${s['connectionsOpened']}, ` +
      `refused ${s['refused']}, rejected ${s['rejected']}, aggTrade messages sent ${s.sent?.['aggTrade']}`,
  );
}

if (process.env['BENCH_PEER'] === 'ccxt') await ccxtPeer();
else {
  process.once('SIGINT', () => {
    endChildren();
    process.exit(130);
  });
  try {
    await main();
  } finally {
    endChildren();
  }
}
