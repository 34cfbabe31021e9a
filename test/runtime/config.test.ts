import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { BaseConfig, ConfigError, env, loadConfig } from '../../shared/runtime/config.ts';

const defaults: BaseConfig = {
  PORT: 8080,
  HOST: '0.0.0.0',
  LOG_LEVEL: 'info',
  KAFKA_BROKERS: [],
  KAFKA_CLIENT_ID: 'streamforge',
  ARANGO_DATABASE: 'streamforge',
  ARANGO_USERNAME: 'root',
  ARANGO_PASSWORD: '',
  SQLITE_PATH: 'data/streamforge.sqlite',
  SHUTDOWN_GRACE_MS: 10_000,
};

describe('loadConfig(BaseConfig, env)', () => {
  const ok: { name: string; env: Record<string, string | undefined>; expected: BaseConfig }[] = [
    { name: 'empty env: the embedded defaults', env: {}, expected: defaults },
    {
      name: 'Kafka and Arango set',
      env: {
        PORT: '9090',
        LOG_LEVEL: 'debug',
        KAFKA_BROKERS: 'kafka-0:9092, kafka-1:9092,',
        ARANGO_URL: 'http://arango:8529',
        ARANGO_PASSWORD: 's3cret',
        SHUTDOWN_GRACE_MS: '2500',
      },
      expected: {
        ...defaults,
        PORT: 9090,
        LOG_LEVEL: 'debug',
        KAFKA_BROKERS: ['kafka-0:9092', 'kafka-1:9092'],
        ARANGO_URL: 'http://arango:8529',
        ARANGO_PASSWORD: 's3cret',
        SHUTDOWN_GRACE_MS: 2500,
      },
    },
    { name: 'port 0 means any free port', env: { PORT: '0' }, expected: { ...defaults, PORT: 0 } },
    { name: 'unknown variables are ignored', env: { PATH: '/usr/bin', HOME: '/root' }, expected: defaults },
  ];
  for (const c of ok) {
    it(c.name, () => {
      expect(loadConfig(BaseConfig, c.env)).toEqual(c.expected);
    });
  }

  it('an env with several problems lists every one of them', () => {
    let err: unknown;
    try {
      loadConfig(BaseConfig, {
        PORT: 'eighty',
        LOG_LEVEL: 'loud',
        ARANGO_URL: 'not a url',
        SHUTDOWN_GRACE_MS: '1.5',
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems.map((p) => p.split(':')[0])).toEqual([
      'PORT',
      'LOG_LEVEL',
      'ARANGO_URL',
      'SHUTDOWN_GRACE_MS',
    ]);
    expect((err as ConfigError).message).toContain('LOG_LEVEL');
  });

  it('out-of-range port is a problem', () => {
    expect(() => loadConfig(BaseConfig, { PORT: '70000' })).toThrow(/PORT/);
  });

  it('a function extends BaseConfig with its own settings, booleans included', () => {
    const Cfg = BaseConfig.extend({ DRY_RUN: env.bool(false), RATE: env.num(1.5), TOPICS: env.list(['a']) });
    const table: [Record<string, string>, { DRY_RUN: boolean; RATE: number; TOPICS: string[] }][] = [
      [{}, { DRY_RUN: false, RATE: 1.5, TOPICS: ['a'] }],
      [
        { DRY_RUN: 'yes', RATE: '2', TOPICS: 'x,y' },
        { DRY_RUN: true, RATE: 2, TOPICS: ['x', 'y'] },
      ],
      [{ DRY_RUN: '0' }, { DRY_RUN: false, RATE: 1.5, TOPICS: ['a'] }],
    ];
    for (const [input, expected] of table) expect(loadConfig(Cfg, input)).toMatchObject(expected);
    expect(() => loadConfig(Cfg, { DRY_RUN: 'maybe' })).toThrow(/DRY_RUN/);
  });

  it('a top-level refinement problem is reported as (env)', () => {
    const Cfg = z
      .object({ A: z.string().optional(), B: z.string().optional() })
      .refine((c) => c.A ?? c.B, 'set A or B');
    expect(() => loadConfig(Cfg, {})).toThrow(/\(env\): set A or B/);
  });
});
