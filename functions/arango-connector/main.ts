/**
 * Entrypoint: the only file that reads the environment. Builds the store and the bus and serves
 * the CloudEvents endpoint its KafkaSource (or the local runner) delivers to.
 */
import { createBus } from '../../shared/bus/create-bus.ts';
import { loadConfig } from '../../shared/runtime/config.ts';
import { verifierFromConfig } from '../../shared/runtime/intake-auth.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { createStore } from '../../shared/store/create-store.ts';
import { createConnector } from './app.ts';
import { ConnectorConfig, FUNCTION_NAME } from './schema.ts';

async function main(): Promise<void> {
  const cfg = loadConfig(ConnectorConfig, process.env);
  const logger = createLogger(FUNCTION_NAME, cfg.LOG_LEVEL);
  const intakeAuth = verifierFromConfig(cfg);
  const store = createStore(cfg, logger);
  const bus = createBus(cfg, logger);
  const connector = createConnector({
    store,
    bus,
    logger,
    maxInFlight: cfg.CONNECTOR_MAX_IN_FLIGHT,
    progressIntervalMs: cfg.CONNECTOR_PROGRESS_INTERVAL_MS,
    intakeAuth,
  });
  await connector.start();
  const server = await serve(connector.app, {
    port: cfg.PORT,
    logger,
    graceMs: cfg.SHUTDOWN_GRACE_MS,
    onDrain: () => connector.functionApp.drain(),
    onShutdown: async () => {
      await connector.stop();
      await bus.close();
      await store.close();
    },
  });
  logger.info({ url: server.url }, 'arango-connector listening');
}

main().catch((err: unknown) => {
  createLogger(FUNCTION_NAME).fatal({ err }, 'arango-connector failed to start');
  process.exit(1);
});
