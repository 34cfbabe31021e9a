/**
 * Standalone simulated exchange: `tsx functions/dummy-service/exchange/sim-main.ts`.
 * The only file of the exchange that reads the environment (SimEnv in sim-env.ts lists the
 * variables: SIM_SEED, SIM_SYMBOLS, SIM_TRADES_PER_MINUTE, SIM_WEIGHT_LIMIT, SIM_WEIGHT_WINDOW_MS,
 * SIM_BAN_MS, SIM_FAULT_*, SIM_GAPS, SIM_ARCHIVE_*, SIM_BOOK_LEVELS, SIM_WS_*, PORT default 8090).
 * REST and the WebSocket market streams (ws/server.ts) share the port.
 */
import { loadConfig } from '../../../shared/runtime/config.ts';
import { createLogger } from '../../../shared/runtime/logger.ts';
import { serve } from '../../../shared/runtime/serve.ts';
import { SimEnv } from './sim-env.ts';
import { createExchange } from './exchange.ts';
import { createWsExchange } from './ws/server.ts';

const cfg = loadConfig(SimEnv, process.env);
const logger = createLogger('binance-sim', cfg.logLevel);
const exchange = createExchange({ ...cfg.exchange, logger });
const ws = createWsExchange(exchange);
// WebSocket sockets are not HTTP requests: close them when draining, or the server never closes.
const served = await serve(exchange.app, { port: cfg.port, logger, onDrain: () => void ws.close() });
ws.attach(served.server);
logger.info(
  {
    url: served.url,
    seed: cfg.exchange.seed,
    symbols: cfg.exchange.symbols.map((s) => `${s.market}:${s.symbol}`),
    weight_limit: cfg.exchange.weightLimit,
    weight_window_ms: cfg.exchange.weightWindowMs,
    faults: cfg.exchange.faults,
    ws: cfg.exchange.ws,
  },
  'simulated Binance exchange ready: spot at /api/v3 and /ws, /stream; USD-M at /fapi/v1 and /usdm/ws, /usdm/stream',
);
