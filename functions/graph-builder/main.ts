/**
 * graph-builder entrypoint: the only file that reads the environment. Builds the bus publisher
 * and the store, then serves the intake its KafkaSource delivers to.
 */
import { createPublisher } from '../../shared/bus/create-bus.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { verifierFromConfig } from '../../shared/runtime/intake-auth.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { createStore } from '../../shared/store/create-store.ts';
import { createGraphBuilderApp } from './app.ts';
import { FUNCTION_NAME, GraphBuilderConfig, settingsOf } from './schema.ts';

async function main(): Promise<void> {
  let cfg: GraphBuilderConfig;
  try {
    cfg = loadConfig(GraphBuilderConfig, process.env);
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
  const g = createGraphBuilderApp({
    bus,
    store,
    logger,
    settings: settingsOf(cfg),
    intakeAuth: verifierFromConfig(cfg),
  });
  const server = await serve(g.app, {
    port: cfg.PORT,
    logger,
    graceMs: cfg.SHUTDOWN_GRACE_MS,
    onDrain: () => g.functionApp.drain(),
    onShutdown: async () => {
      await g.builder.stop();
      await bus.close();
      await store.close();
    },
  });
  logger.info({ url: server.url }, 'graph-builder listening');
}

main().catch((err: unknown) => {
  createLogger(FUNCTION_NAME).fatal({ err }, 'graph-builder failed to start');
  process.exit(1);
});
