/**
 * loader-api Job entrypoint: the only file that reads the environment. Builds the bus, the store
 * and the exchange clients, runs the loader and exits with its code (handler.ts). SIGTERM (the
 * launcher's stop, or Kubernetes deleting the Job) ends the run cleanly with a `cancelled` event.
 */
import { createPublisher } from '../../shared/bus/create-bus.ts';
import { budgetFor } from '../../shared/exchange/weight-budget.ts';
import { createExchangeClient } from '../../shared/exchange/rest-client.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createStore } from '../../shared/store/create-store.ts';
import type { ExitCode } from '../../shared/loader/run.ts';
import { runLoader } from './handler.ts';
import { LoaderConfig } from './schema.ts';

async function main(): Promise<ExitCode> {
  let cfg: LoaderConfig;
  try {
    cfg = loadConfig(LoaderConfig, process.env);
  } catch (err) {
    // A configuration that can never work must not turn into a restart loop.
    createLogger('loader-api').error(
      { problems: err instanceof ConfigError ? err.problems : String(err) },
      'invalid configuration',
    );
    return 2;
  }
  const logger = createLogger('loader-api', cfg.LOG_LEVEL);
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort(new Error(sig)));

  const bus = createPublisher(cfg, logger);
  const store = createStore(cfg, logger);
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
      { commandJson: cfg.STREAMFORGE_COMMAND, signal: stop.signal },
    );
  } catch (err) {
    logger.error({ err }, 'loader crashed');
    return 1;
  } finally {
    await bus.close().catch((err: unknown) => logger.warn({ err }, 'closing the bus failed'));
    await store.close().catch((err: unknown) => logger.warn({ err }, 'closing the store failed'));
  }
}

process.exitCode = await main();
// Nothing else may keep the Job alive (keep-alive sockets, timers of adapters).
process.exit();
