/**
 * Configuration: one zod schema per function, parsed once at start by `loadConfig(schema, env)`.
 * Every problem is reported at once (style.md "Configuration").
 */
import { z } from 'zod';

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses `env` with `schema`; throws ConfigError listing every problem. */
export function loadConfig<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (result.success) return result.data;
  throw new ConfigError(
    result.error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(env)'}: ${i.message}`),
  );
}

/** Common env helpers. */
export const env = {
  port: (def: number) => z.coerce.number().int().min(0).max(65535).default(def),
  int: (def: number) => z.coerce.number().int().default(def),
  num: (def: number) => z.coerce.number().default(def),
  bool: (def: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(def ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  /** Comma-separated list. */
  list: (def: string[] = []) =>
    z
      .string()
      .default(def.join(','))
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      ),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/** Settings every function shares. */
export const BaseConfig = z.object({
  PORT: env.port(8080),
  /** Interface to listen on; Knative and containers need 0.0.0.0. */
  HOST: z.string().min(1).default('0.0.0.0'),
  LOG_LEVEL: env.logLevel(),
  /** Kafka bootstrap servers; unset = the embedded in-process bus. */
  KAFKA_BROKERS: env.list(),
  KAFKA_CLIENT_ID: z.string().default('streamforge'),
  /** ArangoDB URL; unset = the embedded SQLite store. */
  ARANGO_URL: z.url().optional(),
  ARANGO_DATABASE: z.string().default('streamforge'),
  ARANGO_USERNAME: z.string().default('root'),
  ARANGO_PASSWORD: z.string().default(''),
  SQLITE_PATH: z.string().default('data/streamforge.sqlite'),
  /** Grace period for in-flight work after SIGTERM. */
  SHUTDOWN_GRACE_MS: env.int(10_000),
});
export type BaseConfig = z.infer<typeof BaseConfig>;
