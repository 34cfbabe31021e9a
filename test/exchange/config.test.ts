/** SimEnv: the simulator's environment → ExchangeConfig, every problem reported at once. */
import { describe, expect, it } from 'vitest';
import { ExchangeConfig } from '../../functions/dummy-service/exchange/config.ts';
import { SimEnv } from '../../functions/dummy-service/exchange/sim-env.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';

const load = (env: Record<string, string>) => loadConfig(SimEnv, env);

describe('SimEnv', () => {
  it('defaults mirror Binance and the platform symbols', () => {
    const c = load({});
    expect(c.port).toBe(8090);
    expect(c.exchange.symbols.map((s) => `${s.market}:${s.symbol}`)).toEqual([
      'spot:BTCUSDT',
      'spot:ETHUSDT',
      'spot:ETHBTC',
      'usdm:BTCUSDT',
      'usdm:ETHUSDT',
    ]);
    expect(c.exchange).toMatchObject({
      seed: 1,
      weightLimit: 6000,
      futuresWeightLimit: 6000,
      weightWindowMs: 60_000,
      banMs: 120_000,
      banAfter: 3,
      faults: { rate5xx: 0, latencyMs: 0, latencyJitterMs: 0, malformedRate: 0, resetRate: 0 },
      gaps: { perYear: 2, windows: [] },
    });
  });

  it.each([
    [
      { SIM_SEED: '9', PORT: '0' },
      { port: 0, exchange: { seed: 9 } },
    ],
    [
      { SIM_SYMBOLS: 'ETHBTC, usdm:SOLUSDT' },
      {
        exchange: {
          symbols: [
            { symbol: 'ETHBTC', market: 'spot', priceDecimals: 5 },
            { symbol: 'SOLUSDT', market: 'usdm', baseAsset: 'SOL', quoteAsset: 'USDT' },
          ],
        },
      },
    ],
    [
      { SIM_WEIGHT_LIMIT: '0', SIM_WEIGHT_WINDOW_MS: '2000' },
      { exchange: { weightLimit: 0, weightWindowMs: 2000, banMs: 4000 } },
    ],
    [
      { SIM_FUTURES_WEIGHT_LIMIT: '2400', SIM_BAN_MS: '500', SIM_BAN_AFTER: '1' },
      { exchange: { futuresWeightLimit: 2400, banMs: 500, banAfter: 1 } },
    ],
    [
      {
        SIM_FAULT_LATENCY_MS: '100+50',
        SIM_FAULT_5XX_RATE: '0.1',
        SIM_FAULT_RESET_RATE: '0.01',
        SIM_FAULT_MALFORMED_RATE: '0.02',
      },
      {
        exchange: {
          faults: { latencyMs: 100, latencyJitterMs: 50, rate5xx: 0.1, resetRate: 0.01, malformedRate: 0.02 },
        },
      },
    ],
    [{ SIM_GAPS: 'none' }, { exchange: { gaps: { perYear: 0, windows: [] } } }],
    [
      { SIM_GAPS: '1,spot:BTCUSDT=2024-03-01T02:00:00Z/2024-03-01T05:00:00Z,*=1700000000000/1700003600000' },
      {
        exchange: {
          gaps: {
            perYear: 1,
            windows: [
              {
                market: 'spot',
                symbol: 'BTCUSDT',
                from: Date.UTC(2024, 2, 1, 2),
                to: Date.UTC(2024, 2, 1, 5),
              },
              { from: 1700000000000, to: 1700003600000 },
            ],
          },
        },
      },
    ],
  ])('%o', (env, expected) => {
    expect(load(env)).toMatchObject(expected);
  });

  it('lists every problem at once', () => {
    try {
      load({
        SIM_WEIGHT_LIMIT: '-5',
        SIM_FAULT_LATENCY_MS: 'slow',
        SIM_GAPS: 'BTCUSDT=yesterday/today',
        SIM_FAULT_5XX_RATE: '2',
      });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const problems = (e as ConfigError).problems.join('\n');
      expect(problems).toMatch(/SIM_FAULT_LATENCY_MS/);
      expect(problems).toMatch(/SIM_GAPS/);
      expect(problems).toMatch(/SIM_WEIGHT_LIMIT/);
      expect(problems).toMatch(/SIM_FAULT_5XX_RATE/);
    }
    expect(() => load({ SIM_SYMBOLS: 'BTCUSDT,BTCUSDT' })).toThrow(/SIM_SYMBOLS.*duplicate/);
  });
});

describe('ExchangeConfig', () => {
  it('takes symbol overrides and rejects spot precisions that cannot print exact quote volumes', () => {
    const c = ExchangeConfig.parse({ symbols: [{ symbol: 'BTCUSDT', tradesPerMinute: 5 }] });
    expect(c.symbols[0]).toMatchObject({
      symbol: 'BTCUSDT',
      market: 'spot',
      tradesPerMinute: 5,
      priceDecimals: 2,
    });
    expect(() =>
      ExchangeConfig.parse({ symbols: [{ symbol: 'XUSDT', priceDecimals: 6, qtyDecimals: 4 }] }),
    ).toThrow(/priceDecimals \+ qtyDecimals/);
    expect(() => ExchangeConfig.parse({ symbols: ['BTCUSDT', 'BTCUSDT'] })).toThrow(/duplicate/);
  });
});
