/**
 * loader-ws entrypoint: the only file that reads the environment. Builds the bus, the store and
 * one REST client per market (one weight budget each, shared by every live workflow's refills),
 * resumes the registered live workflows and serves the intake its KafkaSource delivers to.
 */
import { createPublisher } from '../../shared/bus/create-bus.ts';
import { createExchangeClient } from '../../shared/exchange/rest-client.ts';
import { budgetFor } from '../../shared/exchange/weight-budget.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { verifierFromConfig } from '../../shared/runtime/intake-auth.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { createStore } from '../../shared/store/create-store.ts';
import { createLoaderWs } from './app.ts';
import { FUNCTION_NAME, LoaderWsConfig, settingsOf } from './schema.ts';

async function main(): Promise<void> {
  let cfg: LoaderWsConfig;
  try {
    cfg = loadConfig(LoaderWsConfig, process.env);
  } catch (err) {
    createLogger(FUNCTION_NAME).fatal(
      { problems: err instanceof ConfigError ? err.problems : String(err) },
      'invalid configuration',
    );
    process.exit(2);
  }
  const logger = createLogger(FUNCTION_NAME, cfg.LOG_LEVEL);
  const store = createStore(cfg, logger);
  const bus = createPublisher(cfg, logger);
  const client = (market: 'spot' | 'usdm') => {
    const baseUrl = market === 'spot' ? cfg.BINANCE_API_URL : cfg.BINANCE_FAPI_URL;
    return createExchangeClient({
      baseUrl,
      budget: budgetFor(`${market} ${baseUrl}`, {
        limit: cfg.BINANCE_WEIGHT_LIMIT,
        windowMs: cfg.BINANCE_WEIGHT_WINDOW_MS,
        margin: 0.05,
        maxInflightRequests: 4,
      }),
      logger: logger.child({ component: 'exchange', market }),
      timeoutMs: cfg.BINANCE_TIMEOUT_MS,
    });
  };
  const ws = createLoaderWs({
    bus,
    store,
    logger,
    settings: settingsOf(cfg),
    clients: { spot: client('spot'), usdm: client('usdm') },
    wsUrls: { spot: cfg.BINANCE_WS_URL, usdm: cfg.BINANCE_FWS_URL },
    intakeAuth: verifierFromConfig(cfg),
  });
  await ws.start();
  const server = await serve(ws.app, {
    port: cfg.PORT,
    logger,
    graceMs: cfg.SHUTDOWN_GRACE_MS,
    onDrain: () => ws.functionApp.drain(),
    onShutdown: async () => {
      await ws.stop();
      await bus.close();
      await store.close();
    },
  });
  logger.info({ url: server.url }, 'loader-ws listening');
}

main().catch((err: unknown) => {
  createLogger(FUNCTION_NAME).fatal({ err }, 'loader-ws failed to start');
  process.exit(1);
});
