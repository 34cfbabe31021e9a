/**
 * dummy-service entrypoint: the only file that reads the environment. Builds the bus (Kafka when
 * KAFKA_BROKERS is set, else in-process), serves the app (with the simulated exchange's REST
 * API and its WebSocket market streams on the same port) and drains on SIGTERM.
 */
import { createBus } from '../../shared/bus/create-bus.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { verifierFromConfig, type IntakeVerifier } from '../../shared/runtime/intake-auth.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { createDummyApp } from './app.ts';
import { DEFAULT_LOAD_BUDGET, DummyConfig, EMBEDDED_LOAD_BUDGET } from './schema.ts';
import { createExchange } from './exchange/exchange.ts';
import { SimEnv } from './exchange/sim-env.ts';
import { createWsExchange } from './exchange/ws/server.ts';

function config(): { cfg: DummyConfig; sim: SimEnv; intakeAuth: IntakeVerifier } {
  try {
    // Both schemas read the same env; the simulator's own PORT is ignored here (one port).
    const cfg = loadConfig(DummyConfig, process.env);
    return { cfg, sim: loadConfig(SimEnv, process.env), intakeAuth: verifierFromConfig(cfg) };
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    createLogger('dummy-service').fatal({ problems: err.problems }, err.message);
    process.exit(2);
  }
}

const { cfg, sim, intakeAuth } = config();
const logger = createLogger('dummy-service', cfg.LOG_LEVEL);
const bus = createBus(cfg, logger);
const exchange = createExchange({ ...sim.exchange, logger: logger.child({ component: 'binance-sim' }) });
const ws = createWsExchange(exchange);
const fn = createDummyApp({
  bus,
  exchange: exchange.app,
  logger,
  checkTopic: cfg.CHECK_TOPIC,
  checkTimeoutMs: cfg.CHECK_TIMEOUT_MS,
  loadBudget: cfg.KAFKA_BROKERS.length > 0 ? DEFAULT_LOAD_BUDGET : EMBEDDED_LOAD_BUDGET,
  intakeAuth,
});
const served = await serve(fn.app, {
  port: cfg.PORT,
  logger,
  graceMs: cfg.SHUTDOWN_GRACE_MS,
  onDrain: () => {
    fn.drain();
    // WebSocket sockets are not HTTP requests: close them now, or the server never closes.
    void ws.close();
  },
  onShutdown: () => bus.close(),
});
ws.attach(served.server);
