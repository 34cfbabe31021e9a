/**
 * The environment every history loader Job reads (loader-api, loader-bulk): exchange URLs and
 * weight budget, read-ahead, progress pacing, its command and, in embedded mode, the ingress.
 */
import { z } from 'zod';
import { BaseConfig, env } from '../runtime/config.ts';

export const HistoryLoaderConfig = BaseConfig.extend({
  BINANCE_API_URL: z.url().default('https://api.binance.com'),
  BINANCE_FAPI_URL: z.url().default('https://fapi.binance.com'),
  /** REQUEST_WEIGHT per window; unset = exchangeInfo `rateLimits` (6000 when it says nothing). */
  BINANCE_WEIGHT_LIMIT: z.coerce.number().int().positive().optional(),
  /** Weight window length; unset = exchangeInfo's (Binance: calendar minutes, 60 000). */
  BINANCE_WEIGHT_WINDOW_MS: z.coerce.number().int().positive().optional(),
  /**
   * Share of the limit left for other processes' requests in flight (weight-budget.ts explains
   * the arithmetic: 0.05 keeps three loaders per IP safe with the default in-flight cap).
   */
  BINANCE_WEIGHT_MARGIN: z.coerce.number().min(0).max(0.5).default(0.05),
  BINANCE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /**
   * Requests in flight per loader process, which is also its read-ahead: while one page is being
   * published, up to this many later pages are being fetched or wait, parsed, to be published
   * (klines; id-paged trades read one page ahead). Memory holds at most this many pages plus the
   * one being published; the weight budget caps in-flight requests at the same number.
   */
  LOADER_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(4),
  /** Minimum time between two progress events. */
  LOADER_PROGRESS_MS: env.int(1000),
  /**
   * How long one store call (checkpoint, coverage) keeps retrying a store that is unavailable
   * before the loader gives up with `STORE_UNAVAILABLE` (shared/store/patient-store.ts).
   */
  STORE_PATIENCE_MS: env.int(60_000),
  /** The start command as JSON: a Job gets its command from its environment, its stop as SIGTERM. */
  STREAMFORGE_COMMAND: z.string().min(1).optional(),
  /** Embedded mode: the parent's ingress, where this child publishes (shared/bus/create-bus.ts). */
  STREAMFORGE_INGRESS_URL: z.url().optional(),
});
export type HistoryLoaderConfig = z.infer<typeof HistoryLoaderConfig>;
