/** loader-api configuration: a table of environments and the configs (or problems) they give. */
import { describe, expect, it } from 'vitest';
import { LoaderConfig } from '../../functions/loader-api/schema.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';

describe('loader-api loadConfig', () => {
  it.each([
    {
      env: {},
      want: {
        BINANCE_API_URL: 'https://api.binance.com',
        BINANCE_FAPI_URL: 'https://fapi.binance.com',
        BINANCE_WEIGHT_LIMIT: undefined,
        BINANCE_WEIGHT_WINDOW_MS: undefined,
        BINANCE_WEIGHT_MARGIN: 0.05,
        LOADER_CONCURRENCY: 4,
        STREAMFORGE_COMMAND: undefined,
      },
    },
    {
      env: {
        BINANCE_API_URL: 'http://127.0.0.1:8090',
        BINANCE_FAPI_URL: 'http://127.0.0.1:8090',
        BINANCE_WEIGHT_LIMIT: '1200',
        BINANCE_WEIGHT_WINDOW_MS: '10000',
        BINANCE_WEIGHT_MARGIN: '0.1',
        LOADER_CONCURRENCY: '8',
        STREAMFORGE_COMMAND: '{"command":"start"}',
      },
      want: {
        BINANCE_API_URL: 'http://127.0.0.1:8090',
        BINANCE_WEIGHT_LIMIT: 1200,
        BINANCE_WEIGHT_WINDOW_MS: 10_000,
        BINANCE_WEIGHT_MARGIN: 0.1,
        LOADER_CONCURRENCY: 8,
        STREAMFORGE_COMMAND: '{"command":"start"}',
      },
    },
  ])('$env → config', ({ env, want }) => {
    const cfg: Record<string, unknown> = loadConfig(LoaderConfig, env);
    expect(Object.fromEntries(Object.keys(want).map((k) => [k, cfg[k]]))).toEqual(want);
  });

  it('lists every problem at once', () => {
    const env = {
      BINANCE_API_URL: 'not a url',
      BINANCE_WEIGHT_LIMIT: '-5',
      BINANCE_WEIGHT_MARGIN: '0.9',
      LOADER_CONCURRENCY: '0',
    };
    const err = (() => {
      try {
        loadConfig(LoaderConfig, env);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(problems.sort()).toEqual([
      'BINANCE_API_URL',
      'BINANCE_WEIGHT_LIMIT',
      'BINANCE_WEIGHT_MARGIN',
      'LOADER_CONCURRENCY',
    ]);
  });
});
