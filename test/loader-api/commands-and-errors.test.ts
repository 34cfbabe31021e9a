/**
 * How a loader run starts and ends: its command from the environment, its stop as SIGTERM, bad commands (exit 2, never a crash loop), and exchange failures carried into the
 * workflow's error event with the exchange's code and message or the endpoint that broke.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { runLoader } from '../../functions/loader-api/handler.ts';
import type { ExitCode } from '../../shared/loader/run.ts';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { Topics } from '../../shared/contracts/events.ts';
import type { QueueCommand } from '../../shared/contracts/workflow.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import type { ExchangeOptions } from '../../functions/dummy-service/exchange/exchange.ts';
import {
  collect,
  command,
  makeDeps,
  memoryBus,
  startSim,
  until,
  type DepsOptions,
  type Sim,
} from './helpers.ts';

const T0 = Date.UTC(2024, 0, 1);
const DAY = 86_400_000;
const kline1m = (c: Partial<QueueCommand> = {}) =>
  command({ type: 'api_candles_1m', start: T0, end: T0 + DAY, kafka_topic: Topics.data('kline'), ...c });

let sim: Sim | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

interface Run {
  code: ExitCode;
  got: Awaited<ReturnType<typeof collect>>;
  bus: EventBus;
}

/** Runs one loader on a fresh bus and store; `during` acts on the bus while it runs. */
async function run(
  simOpts: ExchangeOptions,
  input: { commandJson?: string },
  o: DepsOptions & {
    during?: (bus: EventBus, got: Run['got'], abort: AbortController) => Promise<void>;
  } = {},
): Promise<Run> {
  sim = await startSim(simOpts);
  const bus = memoryBus();
  const store = createSqliteStore({ path: ':memory:' });
  const got = await collect(bus, Topics.data('kline'));
  const abort = new AbortController();
  const deps = makeDeps(sim, bus, store, o);
  const [code] = await Promise.all([
    runLoader(deps, { ...input, signal: abort.signal }),
    o.during?.(bus, got, abort),
  ]);
  if (code !== 2) await until(() => got.events.some((e) => e.finished || e.message === 'loader finished'));
  await store.close();
  return { code, got, bus };
}

describe('exchange failures', () => {
  it('an unknown symbol fails the workflow with the exchange code and message (-1121), exit 1', async () => {
    const c = kline1m({ symbol: 'NOPEUSDT' });
    const { code, got } = await run({}, { commandJson: JSON.stringify(c) });
    expect(code).toBe(1);
    const err = got.events.find((e) => e.status === 'error');
    expect(err).toMatchObject({
      queue_id: c.queue_id,
      finished: true,
      producer: 'loader-api',
      error: { code: -1121, message: 'Invalid symbol.', source: 'GET /api/v3/klines' },
    });
    expect(got.batches).toHaveLength(0);
  });

  it('malformed bodies are retried, then the error names the endpoint', async () => {
    const { code, got } = await run(
      { faults: { malformedRate: 1 } },
      { commandJson: JSON.stringify(kline1m()) },
      { maxTries: 4 },
    );
    expect(code).toBe(1);
    const err = got.events.find((e) => e.status === 'error')!;
    expect(err.error).toMatchObject({ code: 'MALFORMED_RESPONSE', source: 'GET /api/v3/time' });
    expect(err.error!.message).toContain('GET /api/v3/time');
    expect((await sim!.stats()).requests).toBe(4);
  });

  it('5xx answers and connection resets are retried until the load completes', async () => {
    const { code, got } = await run(
      { faults: { rate5xx: 0.25, resetRate: 0.15 } },
      { commandJson: JSON.stringify(kline1m({ end: T0 + 4 * DAY })) },
      { maxTries: 12 },
    );
    expect(code).toBe(0);
    await until(
      () => got.batches.length === got.events.find((e) => e.message === 'loader finished')?.batches_published,
    );
    expect(got.batches.reduce((n, b) => n + b.rows.length, 0)).toBe(4 * 1440);
    const s = await sim!.stats();
    expect(s.faults.http5xx).toBeGreaterThan(0);
    expect(s.faults.reset).toBeGreaterThan(0);
  });
});

describe('commands', () => {
  it('a command failing its schema: error event for its workflow, exit 2', async () => {
    const bad = { ...kline1m(), symbol: 'btc usdt', start: 'yesterday' };
    const { code, got } = await run({}, { commandJson: JSON.stringify(bad) });
    expect(code).toBe(2);
    await until(() => got.events.length > 0);
    expect(got.events[0]).toMatchObject({
      queue_id: bad.queue_id,
      status: 'error',
      finished: true,
      symbol: 'BTCUSDT',
      error: { code: 'INVALID_COMMAND' },
    });
    expect(got.events[0]!.error!.message).toMatch(/symbol|start/);
  });

  it('a command with no recoverable workflow (not JSON): exit 2 and nothing published', async () => {
    const { code, got } = await run({}, { commandJson: '{"command":' });
    expect(code).toBe(2);
    expect(got.events).toEqual([]);
  });

  it('a dataset the REST loader cannot load (USD-M trades): error event, exit 2', async () => {
    const c = command({ type: 'api_trades', market: 'usdm', start: T0, end: T0 + DAY });
    const { code, got } = await run({}, { commandJson: JSON.stringify(c) });
    expect(code).toBe(2);
    await until(() => got.events.length > 0);
    expect(got.events[0]?.error).toMatchObject({
      code: 'INVALID_COMMAND',
      message: 'api_trades on usdm: trades are loaded for spot only',
    });
  });

  it('without STREAMFORGE_COMMAND a Job exits 2 and publishes nothing: its command is its environment', async () => {
    const { code, got } = await run({}, {});
    expect(code).toBe(2);
    expect(got.events).toEqual([]);
    expect(got.batches).toEqual([]);
  });

  it('SIGTERM (the abort signal) ends the run with a cancelled event', async () => {
    const c = kline1m({ end: T0 + 40 * DAY });
    const { code, got } = await run(
      { faults: { latencyMs: 40 } },
      { commandJson: JSON.stringify(c) },
      {
        concurrency: 1,
        during: async (_bus, seen, abort) => {
          await until(() => seen.batches.length >= 1);
          abort.abort(new Error('SIGTERM'));
        },
      },
    );
    expect(code).toBe(0);
    expect(got.events.at(-1)).toMatchObject({
      status: 'cancelled',
      finished: true,
      message: 'stopped by SIGTERM',
    });
  });
});

describe('store failures', () => {
  it('a store that stays away fails the workflow with DEPENDENCY_UNAVAILABLE and its message, exit 1', async () => {
    sim = await startSim({});
    const bus = memoryBus();
    const store = createSqliteStore({ path: ':memory:' });
    await store.close(); // every call now fails with the store's 503 (DependencyError)
    const got = await collect(bus, Topics.events);
    const c = kline1m();
    const code = await runLoader(makeDeps(sim, bus, store), {
      commandJson: JSON.stringify(c),
      signal: new AbortController().signal,
    });
    expect(code).toBe(1);
    await until(() => got.events.some((e) => e.status === 'error'));
    expect(got.events.find((e) => e.status === 'error')).toMatchObject({
      queue_id: c.queue_id,
      finished: true,
      error: { code: 'DEPENDENCY_UNAVAILABLE', message: 'sqlite store is closed', source: 'loader-api' },
    });
  });
});
