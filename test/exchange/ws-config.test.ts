/**
 * The WebSocket server's configuration: SIM_WS_* and the trade-rate variables in SimEnv, the
 * `ws` defaults of ExchangeConfig (Binance's values per market), and the raised rate cap.
 */
import { describe, expect, it } from 'vitest';
import { ExchangeConfig } from '../../functions/dummy-service/exchange/config.ts';
import { SimEnv } from '../../functions/dummy-service/exchange/sim-env.ts';
import { createExchange } from '../../functions/dummy-service/exchange/exchange.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';

const load = (env: Record<string, string>) => loadConfig(SimEnv, env);

describe('WebSocket configuration', () => {
  it('defaults are Binance spot / USD-M values, faults off', () => {
    expect(ExchangeConfig.parse({}).ws).toEqual({
      spot: { pingIntervalMs: 20_000, pongTimeoutMs: 60_000, maxStreams: 1024, maxIncomingPerSecond: 5 },
      usdm: { pingIntervalMs: 180_000, pongTimeoutMs: 600_000, maxStreams: 200, maxIncomingPerSecond: 10 },
      connectLimit: 300,
      connectWindowMs: 300_000,
      maxConnectionMs: 86_400_000,
      tickMs: 25,
      disconnectEveryMs: 0,
      stallEveryMs: 0,
      stallMs: 2000,
      depthBreakEveryMs: 0,
      dropRate: 0,
    });
    expect(load({}).exchange.ws).toEqual(ExchangeConfig.parse({}).ws);
  });

  it('SIM_WS_* set the server; ping/pong apply to both markets', () => {
    const ws = load({
      SIM_WS_MAX_CONNECTION_MS: '20000',
      SIM_WS_DISCONNECT_EVERY_MS: '60000',
      SIM_WS_STALL_EVERY_MS: '30000',
      SIM_WS_STALL_MS: '1500',
      SIM_WS_DROP_RATE: '0.01',
      SIM_WS_DEPTH_BREAK_EVERY_MS: '45000',
      SIM_WS_PING_INTERVAL_MS: '1000',
      SIM_WS_PONG_TIMEOUT_MS: '3000',
      SIM_WS_CONNECT_LIMIT: '10',
    }).exchange.ws;
    expect(ws).toMatchObject({
      maxConnectionMs: 20_000,
      disconnectEveryMs: 60_000,
      stallEveryMs: 30_000,
      stallMs: 1500,
      dropRate: 0.01,
      depthBreakEveryMs: 45_000,
      connectLimit: 10,
      spot: { pingIntervalMs: 1000, pongTimeoutMs: 3000, maxStreams: 1024 },
      usdm: { pingIntervalMs: 1000, pongTimeoutMs: 3000, maxStreams: 200 },
    });
    expect(() => load({ SIM_WS_DROP_RATE: '2', SIM_WS_STALL_MS: 'x' })).toThrow(ConfigError);
  });

  it('SIM_SYMBOLS items take a per-symbol rate; SIM_TRADES_PER_MINUTE sets the others; cap 120,000', () => {
    const c = load({ SIM_SYMBOLS: 'BTCUSDT=30000,ETHBTC,usdm:BTCUSDT=120000', SIM_TRADES_PER_MINUTE: '900' });
    expect(c.exchange.symbols.map((s) => [s.market, s.symbol, s.tradesPerMinute])).toEqual([
      ['spot', 'BTCUSDT', 30_000],
      ['spot', 'ETHBTC', 900],
      ['usdm', 'BTCUSDT', 120_000],
    ]);
    // Without SIM_TRADES_PER_MINUTE the profile's rate stays.
    expect(load({ SIM_SYMBOLS: 'ETHBTC' }).exchange.symbols[0]!.tradesPerMinute).toBe(
      ExchangeConfig.parse({ symbols: ['ETHBTC'] }).symbols[0]!.tradesPerMinute,
    );
    expect(() => load({ SIM_SYMBOLS: 'BTCUSDT=130000' })).toThrow(/SIM_SYMBOLS/);
    expect(() => load({ SIM_SYMBOLS: 'BTCUSDT=fast' })).toThrow(/SIM_SYMBOLS.*BTCUSDT=fast/);
  });

  it('a 120,000-per-minute symbol streams ~2,000 aggregated trades per second from REST data', () => {
    const ex = createExchange({
      symbols: [{ symbol: 'BTCUSDT', tradesPerMinute: 120_000 }],
      gaps: { perYear: 0 },
    });
    const t = Date.UTC(2025, 5, 21, 12, 0, 30);
    const start = ex.data.nextIds('spot', 'BTCUSDT', t).agg;
    const rows = ex.data.aggTrades('spot', 'BTCUSDT', { fromId: start, limit: 1000 }, t + 1000);
    expect(rows.length).toBeGreaterThan(500);
    expect(rows[0]!.a).toBe(start);
    expect(rows[0]!.T).toBeGreaterThan(t);
  });
});
