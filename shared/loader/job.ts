/**
 * A history loader Job's run from its parsed configuration: builds the publisher, the store and
 * the exchange clients (one weight budget per market and IP), runs the loader with its spec and
 * closes everything. Each loader's main.ts parses the environment and calls this; nothing here
 * reads the environment.
 */
import { createPublisher } from '../bus/create-bus.ts';
import { budgetFor } from '../exchange/weight-budget.ts';
import { createExchangeClient } from '../exchange/rest-client.ts';
import { createLogger } from '../runtime/logger.ts';
import { createStore } from '../store/create-store.ts';
import { patientStore } from '../store/patient-store.ts';
import type { HistoryLoaderConfig } from './config.ts';
import { runLoader, type ExitCode, type LoaderSpec } from './run.ts';

export async function runLoaderJob(
  spec: LoaderSpec,
  cfg: HistoryLoaderConfig,
  signal: AbortSignal,
): Promise<ExitCode> {
  const logger = createLogger(spec.name, cfg.LOG_LEVEL);
  const bus = createPublisher(cfg, logger);
  // A Job has no dispatcher to redeliver for it: it waits out a short store outage itself.
  const store = patientStore(createStore(cfg, logger), {
    maxWaitMs: cfg.STORE_PATIENCE_MS,
    signal,
    onWait: ({ method, attempt, waitMs, err }) =>
      logger.warn({ method, attempt, wait_ms: waitMs, error: err.message }, 'store unavailable; waiting'),
  });
  const budget = (market: string) =>
    budgetFor(`${market} ${market === 'spot' ? cfg.BINANCE_API_URL : cfg.BINANCE_FAPI_URL}`, {
      limit: cfg.BINANCE_WEIGHT_LIMIT ?? 6000,
      windowMs: cfg.BINANCE_WEIGHT_WINDOW_MS ?? 60_000,
      margin: cfg.BINANCE_WEIGHT_MARGIN,
      maxInflightRequests: cfg.LOADER_CONCURRENCY,
    });
  const client = (market: 'spot' | 'usdm') =>
    createExchangeClient({
      baseUrl: market === 'spot' ? cfg.BINANCE_API_URL : cfg.BINANCE_FAPI_URL,
      budget: budget(market),
      logger: logger.child({ component: 'exchange', market }),
      timeoutMs: cfg.BINANCE_TIMEOUT_MS,
    });
  try {
    return await runLoader(
      spec,
      {
        bus,
        store,
        exchange: { spot: client('spot'), usdm: client('usdm') },
        clock: { now: () => Date.now() },
        logger,
        concurrency: cfg.LOADER_CONCURRENCY,
        progressIntervalMs: cfg.LOADER_PROGRESS_MS,
        weightFromExchange: {
          limit: cfg.BINANCE_WEIGHT_LIMIT === undefined,
          window: cfg.BINANCE_WEIGHT_WINDOW_MS === undefined,
        },
      },
      { commandJson: cfg.STREAMFORGE_COMMAND, signal },
    );
  } catch (err) {
    logger.error({ err }, 'loader crashed');
    return 1;
  } finally {
    await bus.close().catch((err: unknown) => logger.warn({ err }, 'closing the bus failed'));
    await store.close().catch((err: unknown) => logger.warn({ err }, 'closing the store failed'));
  }
}
