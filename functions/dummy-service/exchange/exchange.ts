/**
 * The simulated Binance exchange: deterministic market data, per-IP request weight with 429/418,
 * and fault injection, behind Binance's REST paths (routes.ts) and its data.binance.vision
 * archive (archive.ts). `createExchange` exposes the generator and counters for tests;
 * `createExchangeApp` is just its hono app, ready to be mounted in dummy-service or served alone
 * (sim-main.ts). The WebSocket market streams are a separate part on the same exchange
 * (ws/server.ts `createWsExchange(exchange)`), which registers itself in `ws` so that the
 * /sim/ws/* routes reach it.
 */
import type { Hono } from 'hono';
import type { Market } from '../../../shared/contracts/common.ts';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { freshArchiveCounters, type ArchiveCounters } from './archive.ts';
import { ExchangeConfig, type ExchangeConfigInput } from './config.ts';
import { FaultInjector } from './faults.ts';
import { createMarketData, type MarketData } from './market-data.ts';
import type { ExchangeEnv } from './pipeline.ts';
import { exchangeRoutes } from './routes.ts';
import { WeightLimiter } from './weights.ts';
import type { WsFault } from './ws/config.ts';

/** What the /sim/ws/* routes need of the WebSocket server; createWsExchange registers it. */
export interface WsControl {
  inject(f: WsFault): void;
  stats(): object;
  reset(): void;
}

export interface ExchangeOptions extends ExchangeConfigInput {
  /** Exchange clock (ms); default Date.now. Tests pin it to make "the open candle" reproducible. */
  now?: () => number;
  logger?: Logger;
}

export interface ExchangeCounters {
  requests: Record<Market, number>;
  byStatus: Record<string, number>;
  faults: { latency: number; reset: number; http5xx: number; malformed: number };
  /** data.binance.vision requests (not weighed, not in `requests`). */
  archive: ArchiveCounters;
}

export interface Exchange {
  readonly config: ExchangeConfig;
  readonly data: MarketData;
  readonly limiters: Record<Market, WeightLimiter>;
  readonly faults: FaultInjector;
  readonly counters: ExchangeCounters;
  readonly logger: Logger | undefined;
  now(): number;
  /** Sequence number of the next request (drives the deterministic faults). */
  nextSeq(): number;
  /** Snapshot served by GET /sim/stats. */
  stats(): ReturnType<typeof statsOf>;
  /** Clears weight windows, bans, counters (the WebSocket ones too) and the fault sequence (POST /sim/reset). */
  reset(): void;
  /** Gap windows (ms, half-open) of a series overlapping [from, to): the truth for tests. */
  gapsIn: MarketData['gapsIn'];
  listingTime: MarketData['listingTime'];
  /** The WebSocket server of this exchange once created (ws/server.ts), else undefined. */
  readonly ws: { current: WsControl | undefined };
  /**
   * A 429/418 storm on demand (POST /sim/faults): the next `remaining` weighed requests are
   * answered with `status` and `Retry-After: retryAfterS`, whatever the weight used.
   */
  readonly storm: { current: RateStorm | undefined };
  readonly app: Hono<ExchangeEnv>;
}

/** A burst of rate-limit answers (faults.ts `RateStorm` schema). */
export interface RateStorm {
  status: 429 | 418;
  remaining: number;
  retryAfterS: number;
}

/** Everything but the app: what the routes work with. */
export type ExchangeCore = Omit<Exchange, 'app'>;

const freshCounters = (): ExchangeCounters => ({
  requests: { spot: 0, usdm: 0 },
  byStatus: {},
  faults: { latency: 0, reset: 0, http5xx: 0, malformed: 0 },
  archive: freshArchiveCounters(),
});

function statsOf(ex: ExchangeCore) {
  const now = ex.now();
  const c = ex.counters;
  const spot = ex.limiters.spot.stats(now);
  const usdm = ex.limiters.usdm.stats(now);
  return {
    now,
    requests: c.requests.spot + c.requests.usdm,
    requestsByMarket: c.requests,
    byStatus: c.byStatus,
    rateLimited429: c.byStatus['429'] ?? 0,
    banned418: c.byStatus['418'] ?? 0,
    faults: c.faults,
    archive: c.archive,
    weightWindowMs: ex.config.weightWindowMs,
    weightLimit: { spot: ex.config.weightLimit, usdm: ex.config.futuresWeightLimit },
    windows: { spot: spot.windows, usdm: usdm.windows },
    bans: { spot: spot.bans, usdm: usdm.bans },
  };
}

export function createExchange(opts: ExchangeOptions = {}): Exchange {
  const { now = Date.now, logger, ...input } = opts;
  const config = ExchangeConfig.parse(input);
  const data = createMarketData(config);
  const limiter = (limit: number) =>
    new WeightLimiter({
      limit,
      windowMs: config.weightWindowMs,
      banMs: config.banMs,
      banAfter: config.banAfter,
    });
  const limiters = { spot: limiter(config.weightLimit), usdm: limiter(config.futuresWeightLimit) };
  const counters = freshCounters();
  let seq = 0;
  const ws: ExchangeCore['ws'] = { current: undefined };
  const storm: ExchangeCore['storm'] = { current: undefined };
  const core: ExchangeCore = {
    config,
    data,
    limiters,
    faults: new FaultInjector(config.faults, config.seed),
    counters,
    logger,
    now,
    nextSeq: () => seq++,
    stats: () => statsOf(core),
    reset() {
      seq = 0;
      Object.assign(counters, freshCounters());
      limiters.spot.reset();
      limiters.usdm.reset();
      storm.current = undefined;
      ws.current?.reset();
    },
    gapsIn: data.gapsIn,
    listingTime: data.listingTime,
    ws,
    storm,
  };
  return { ...core, app: exchangeRoutes(core) };
}

/** The exchange's hono app (Binance REST paths + /sim/stats, /sim/reset, /sim/gaps). */
export function createExchangeApp(opts: ExchangeOptions = {}): Hono<ExchangeEnv> {
  return createExchange(opts).app;
}
