/**
 * One fault run: a fresh simulator and platform (child process, SQLite file in a temp dir), a
 * multi-symbol backfill (3 symbols × 4 days of 1m klines) and optionally a live ws_agg_trades
 * stream, the fault injected at a seeded point, every workflow driven to its end (bounded), then
 * the store compared with the simulator. Each run uses its own days, so a broker shared by several
 * runs never mixes their records.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  BACKFILL_SYMBOLS,
  DAY,
  LIVE_SYMBOL,
  ZERO,
  childrenOf,
  compareAggTrades,
  compareKlines,
  driveToEnd,
  seeded,
  sleep,
  startPlatformProc,
  startSim,
  submit,
  type PlatformProc,
  type Row,
  type Sim,
  type Wf,
} from './harness.ts';

export interface Ctx {
  sim: Sim;
  platform: PlatformProc;
  sqlitePath: string;
  rand: () => number;
  /** Starts the platform again on the same SQLite file and port (after a kill). */
  restart(): Promise<void>;
}

export interface Scenario {
  name: string;
  mode: 'embedded' | 'kafka';
  /** Day offset of the backfill range from 2024-03-01 (distinct per run). */
  slot: number;
  live?: boolean;
  sim?: { latencyMs?: number; malformedRate?: number };
  kafkaBrokers?: string;
  /** Error codes a person can act on by retrying; any other error is a wrong end. */
  retryable?: string[];
  /** Injects the fault; says what it did. */
  inject(ctx: Ctx): Promise<string>;
}

const BASE = Date.UTC(2024, 2, 1);

export async function runScenario(s: Scenario): Promise<Row> {
  const t0 = performance.now();
  const dir = await mkdtemp(path.join(tmpdir(), 'sf-faults-'));
  const sqlitePath = path.join(dir, 'streamforge.sqlite');
  const sim = await startSim({ latencyMs: 150, ...s.sim });
  const rand = seeded(Number(process.env['FAULT_SEED'] ?? 16) + s.slot);
  const port = await import('../../scripts/kafka.mjs').then((m) => m.freePort());
  const start = () =>
    startPlatformProc({ sim, sqlitePath, port, ...(s.kafkaBrokers ? { kafkaBrokers: s.kafkaBrokers } : {}) });
  const ctx: Ctx = {
    sim,
    platform: await start(),
    sqlitePath,
    rand,
    async restart() {
      ctx.platform = await start();
    },
  };
  try {
    const from = BASE + s.slot * 5 * DAY;
    const to = from + 4 * DAY;
    const wfs: Wf[] = await submit(ctx.platform.url, {
      symbols: BACKFILL_SYMBOLS,
      type: 'api_candles_1m',
      start: new Date(from).toISOString(),
      end: new Date(to).toISOString(),
    });
    if (s.live)
      wfs.push(
        ...(await submit(ctx.platform.url, {
          symbol: LIVE_SYMBOL,
          type: 'ws_agg_trades',
          end: new Date(Date.now() + 14_000).toISOString(),
        })),
      );
    const faults = await s.inject(ctx);
    const ends = await driveToEnd(
      ctx.platform.url,
      wfs.map((w) => w.queue_id),
      s.retryable ?? [],
      60_000,
    );
    let tally = await compareKlines(sim, sqlitePath, BACKFILL_SYMBOLS, from, to);
    const live = ends.final.find((w) => w.type === 'ws_agg_trades');
    if (live) {
      const t = await compareAggTrades(sim, sqlitePath, LIVE_SYMBOL, live.start, live.end);
      tally = {
        expected: tally.expected + t.expected,
        stored: tally.stored + t.stored,
        missing: tally.missing + t.missing,
        duplicated: tally.duplicated + t.duplicated,
      };
    }
    return {
      scenario: s.name,
      mode: s.mode,
      faults,
      ...tally,
      workflows: `${ends.right}/${ends.total} completed`,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      notes: ends.notes.join('; '),
    };
  } catch (err) {
    return {
      scenario: s.name,
      mode: s.mode,
      faults: 'run failed',
      ...ZERO,
      workflows: '0/0',
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      notes: String(err instanceof Error ? err.message : err).slice(0, 300),
    };
  } finally {
    await ctx.platform.stop();
    await sim.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Waits (bounded) until the platform runs at least one loader child. */
async function aLoader(p: PlatformProc, timeoutMs = 20_000): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const kids = p.childPids();
    if (kids.length > 0) return kids;
    if (Date.now() > deadline) throw new Error('no loader process appeared');
    await sleep(50);
  }
}

// --- the faults -----------------------------------------------------------------------------

export const killLoader = async (ctx: Ctx): Promise<string> => {
  await aLoader(ctx.platform);
  const delay = Math.round(150 + ctx.rand() * 600);
  await sleep(delay);
  const kids = childrenOf(ctx.platform.pid);
  const victim = kids[Math.floor(ctx.rand() * kids.length)];
  if (victim === undefined) return `no loader left to kill after ${delay} ms`;
  process.kill(victim, 'SIGKILL');
  return `SIGKILL 1 of ${kids.length} loader processes ${delay} ms into the run`;
};

export const killPlatform = async (ctx: Ctx): Promise<string> => {
  await aLoader(ctx.platform);
  const delay = Math.round(300 + ctx.rand() * 1500);
  await sleep(delay);
  const loaders = ctx.platform.childPids().length;
  await ctx.platform.killAll();
  await sleep(500);
  await ctx.restart();
  return `SIGKILL manager+connector+loader-ws+${loaders} loaders (one process group) ${delay} ms into the run; restart on the same SQLite`;
};

export const lockStore = async (ctx: Ctx): Promise<string> => {
  await aLoader(ctx.platform);
  const delay = Math.round(200 + ctx.rand() * 800);
  await sleep(delay);
  const holdMs = 7000; // longer than the store's 5 s busy_timeout: writes fail, not just wait
  const db = new Database(ctx.sqlitePath, { timeout: 10_000 });
  try {
    db.exec('BEGIN EXCLUSIVE');
    await sleep(holdMs);
    db.exec('COMMIT');
  } finally {
    db.close();
  }
  return `SQLite file locked (BEGIN EXCLUSIVE by another connection) for ${holdMs / 1000} s, ${delay} ms into the run`;
};

export const storms = async (ctx: Ctx): Promise<string> => {
  await aLoader(ctx.platform);
  await sleep(Math.round(100 + ctx.rand() * 400));
  await ctx.sim.storm(429, 12, 1);
  await sleep(2500);
  await ctx.sim.storm(418, 6, 2);
  await sleep(3000);
  const st = ctx.sim.exchange.stats();
  return `429 storm (12 requests, Retry-After 1 s), then 418 storm (6 requests, Retry-After 2 s): ${st.rateLimited429}×429, ${st.banned418}×418 served`;
};

export const malformedResponses = async (ctx: Ctx): Promise<string> => {
  await aLoader(ctx.platform);
  await sleep(3000);
  const st = ctx.sim.exchange.stats();
  return `10% of exchange bodies cut in half (${st.faults.malformed} so far)`;
};
