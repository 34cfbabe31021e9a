/**
 * dummy-service entrypoint: the only file that reads the environment. Builds the bus (Kafka when
 * KAFKA_BROKERS is set, else in-process), serves the app and drains on SIGTERM.
 */
import { createBus } from '../../shared/bus/create-bus.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { createDummyApp } from './app.ts';
import { DEFAULT_LOAD_BUDGET, DummyConfig, EMBEDDED_LOAD_BUDGET } from './schema.ts';

function config(): DummyConfig {
  try {
    return loadConfig(DummyConfig, process.env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('dummy-service').fatal({ problems: err.problems }, err.message);
    process.exit(2);
  }
}

const cfg = config();
const logger = createLogger('dummy-service', cfg.LOG_LEVEL);
const bus = createBus(cfg, logger);
const fn = createDummyApp({
  bus,
  logger,
  checkTopic: cfg.CHECK_TOPIC,
  checkTimeoutMs: cfg.CHECK_TIMEOUT_MS,
  loadBudget: cfg.KAFKA_BROKERS.length > 0 ? DEFAULT_LOAD_BUDGET : EMBEDDED_LOAD_BUDGET,
});
await serve(fn.app, {
  port: cfg.PORT,
  logger,
  graceMs: cfg.SHUTDOWN_GRACE_MS,
  onDrain: fn.drain,
  onShutdown: () => bus.close(),
});
