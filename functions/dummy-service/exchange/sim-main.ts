/**
 * Standalone simulated exchange: `tsx functions/dummy-service/exchange/sim-main.ts`.
 * The only file of the exchange that reads the environment (SimEnv in config.ts lists the
 * variables: SIM_SEED, SIM_SYMBOLS, SIM_WEIGHT_LIMIT, SIM_WEIGHT_WINDOW_MS, SIM_BAN_MS,
 * SIM_FAULT_*, SIM_GAPS, PORT default 8090).
 */
import { loadConfig } from '../../../shared/runtime/config.ts';
import { createLogger } from '../../../shared/runtime/logger.ts';
import { serve } from '../../../shared/runtime/serve.ts';
import { SimEnv } from './sim-env.ts';
import { createExchange } from './exchange.ts';

const cfg = loadConfig(SimEnv, process.env);
const logger = createLogger('binance-sim', cfg.logLevel);
const exchange = createExchange({ ...cfg.exchange, logger });
const served = await serve(exchange.app, { port: cfg.port, logger });
logger.info(
  {
    url: served.url,
    seed: cfg.exchange.seed,
    symbols: cfg.exchange.symbols.map((s) => `${s.market}:${s.symbol}`),
    weight_limit: cfg.exchange.weightLimit,
    weight_window_ms: cfg.exchange.weightWindowMs,
    faults: cfg.exchange.faults,
  },
  'simulated Binance exchange ready: spot at /api/v3, USD-M at /fapi/v1',
);
