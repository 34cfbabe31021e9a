/**
 * The manager's configuration schema (parsed once by main.ts from the environment) and the
 * plain settings the rest of the manager works with.
 */
import { z } from 'zod';
import { ArtifactConfigShape, artifactJobEnv } from '../../shared/artifacts/config.ts';
import { DEFAULT_RANGE_LIMITS, type RangeLimits } from '../../shared/contracts/request-rules.ts';
import { Target } from '../../shared/contracts/workflow.ts';
import { BaseConfig, env } from '../../shared/runtime/config.ts';
import { IntakeAuthConfig } from '../../shared/runtime/intake-auth.ts';

/** `target=value` pairs, comma-separated (JOB_IMAGES, JOB_TEMPLATES). */
const targetMap = (name: string, what: string, valid: RegExp, def = '') =>
  z
    .string()
    .default(def)
    .transform((v, ctx) => {
      const out: Partial<Record<Target, string>> = {};
      for (const pair of v
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)) {
        const [target, value, ...rest] = pair.split('=');
        const t = Target.safeParse(target?.trim());
        if (!t.success || !value || rest.length > 0 || !valid.test(value.trim())) {
          ctx.addIssue({ code: 'custom', message: `${name} entry "${pair}" must be <target>=<${what}>` });
          continue;
        }
        out[t.data] = value.trim();
      }
      return out;
    });

export const ManagerConfig = BaseConfig.extend({
  ...IntakeAuthConfig.shape,
  /** Where model artifacts are read (predict) and gnn-trainer Jobs write them (docs/artifacts.md). */
  ...ArtifactConfigShape,
  /** Bearer token for mutating endpoints; required when the API listens beyond loopback. */
  API_TOKEN: z.string().min(1).optional(),
  /** Serve the API beyond loopback without a token anyway (behind a proxy that authenticates). */
  API_ALLOW_ANONYMOUS: env.bool(false),
  /** Also require the token for reads. */
  API_TOKEN_READS: env.bool(false),
  /** A non-terminal workflow with no queue-event for this long ends in `error` (`stalled`). */
  STALL_TIMEOUT_MS: env.int(600_000).pipe(z.number().int().positive()),
  /** How often the watchdog looks; default: a quarter of the stall timeout, at most 30 s. */
  WATCHDOG_INTERVAL_MS: z.coerce.number().int().positive().optional(),
  /** Grace after a failed job exit, so that its in-flight final error event wins. */
  JOB_EXIT_GRACE_MS: env.int(2000).pipe(z.number().int().nonnegative()),
  JOB_LAUNCHER: z.enum(['child', 'kubernetes']).default('child'),
  JOB_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
    .default('streamforge'),
  /** `target=image` pairs: the only images a Job may run. */
  JOB_IMAGES: targetMap('JOB_IMAGES', 'image', /^[\w./:@-]+$/),
  /** The batch/v1 Job template (YAML) the Kubernetes launcher renders. */
  JOB_TEMPLATE: z.string().default('knative/jobs/loader-job.yaml'),
  /** `target=path` pairs: a target's own Job template (resources, deadline, secrets) instead of JOB_TEMPLATE. */
  JOB_TEMPLATES: targetMap(
    'JOB_TEMPLATES',
    'path',
    /^[\w./-]+\.ya?ml$/,
    'gnn-trainer=knative/jobs/trainer-job.yaml',
  ),
  /** Seconds between polls of Job status (Kubernetes launcher). */
  JOB_POLL_INTERVAL_MS: env.int(10_000),
  /** Jobs (child processes or Kubernetes Jobs) running at once; more workflows wait as `pending`. */
  MAX_RUNNING_JOBS: env.int(4).pipe(z.number().int().positive()),
  /** Workflows one client may create per minute (429 with Retry-After beyond). */
  CREATE_RATE_PER_MINUTE: env.int(200).pipe(z.number().int().positive()),
  /** Most candles one workflow may ask for (request-rules.ts). */
  MAX_RANGE_CANDLES: env.int(DEFAULT_RANGE_LIMITS.maxCandles).pipe(z.number().int().positive()),
  /** Most days of trades or aggTrades one workflow may ask for. */
  MAX_RANGE_TRADE_DAYS: env.int(DEFAULT_RANGE_LIMITS.maxTradeDays).pipe(z.number().int().positive()),
  BINANCE_API_URL: z.url().default('https://api.binance.com'),
  BINANCE_FAPI_URL: z.url().default('https://fapi.binance.com'),
});
export type ManagerConfig = z.infer<typeof ManagerConfig>;

/** What the manager needs to run, independent of where the values came from. */
export interface ManagerSettings {
  apiToken?: string | undefined;
  apiTokenReads: boolean;
  stallTimeoutMs: number;
  watchdogIntervalMs: number;
  jobExitGraceMs: number;
  /** target → image allow-list. */
  jobImages: Partial<Record<Target, string>>;
  /** Refuse a workflow whose target has no allowed image (the Kubernetes launcher needs one). */
  requireImage: boolean;
  /** How much one workflow may ask for. */
  rangeLimits: RangeLimits;
  /** Jobs running at once; more workflows wait as `pending`. */
  maxRunningJobs: number;
  /** Workflows one client may create per minute. */
  createRatePerMinute: number;
  /** Extra environment for every job (exchange URLs, ingress, store path). */
  jobEnv: Record<string, string>;
  /** Comment lines on the status page's event stream this often (ui-routes.ts). */
  heartbeatMs: number;
}

export const DEFAULT_SETTINGS: ManagerSettings = {
  apiTokenReads: false,
  stallTimeoutMs: 600_000,
  watchdogIntervalMs: 30_000,
  jobExitGraceMs: 2000,
  jobImages: {},
  requireImage: false,
  rangeLimits: DEFAULT_RANGE_LIMITS,
  maxRunningJobs: 4,
  createRatePerMinute: 200,
  jobEnv: {},
  heartbeatMs: 15_000,
};

export function settingsFromConfig(
  cfg: ManagerConfig,
  extraJobEnv: Record<string, string> = {},
): ManagerSettings {
  return {
    apiToken: cfg.API_TOKEN,
    apiTokenReads: cfg.API_TOKEN_READS,
    stallTimeoutMs: cfg.STALL_TIMEOUT_MS,
    watchdogIntervalMs: cfg.WATCHDOG_INTERVAL_MS ?? Math.min(30_000, Math.ceil(cfg.STALL_TIMEOUT_MS / 4)),
    jobExitGraceMs: cfg.JOB_EXIT_GRACE_MS,
    jobImages: cfg.JOB_IMAGES,
    requireImage: cfg.JOB_LAUNCHER === 'kubernetes',
    rangeLimits: { maxCandles: cfg.MAX_RANGE_CANDLES, maxTradeDays: cfg.MAX_RANGE_TRADE_DAYS },
    maxRunningJobs: cfg.MAX_RUNNING_JOBS,
    createRatePerMinute: cfg.CREATE_RATE_PER_MINUTE,
    jobEnv: {
      BINANCE_API_URL: cfg.BINANCE_API_URL,
      BINANCE_FAPI_URL: cfg.BINANCE_FAPI_URL,
      // gnn-trainer writes where predict reads; keys come from a Secret, never the Job's spec.
      ...artifactJobEnv(cfg, { secrets: false }),
      ...extraJobEnv,
    },
    heartbeatMs: DEFAULT_SETTINGS.heartbeatMs,
  };
}

/** Hosts that only this machine can reach. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The user-facing API needs its token whenever others can reach it: listening beyond loopback
 * without API_TOKEN is a configuration error unless API_ALLOW_ANONYMOUS says so.
 */
export function apiExposureProblem(
  host: string,
  cfg: Pick<ManagerConfig, 'API_TOKEN' | 'API_ALLOW_ANONYMOUS'>,
): string | null {
  if (isLoopback(host) || cfg.API_TOKEN !== undefined || cfg.API_ALLOW_ANONYMOUS) return null;
  return (
    `API_TOKEN: required when the API listens on ${host} (beyond loopback); set API_TOKEN, ` +
    'or HOST=127.0.0.1, or API_ALLOW_ANONYMOUS=true behind a proxy that authenticates'
  );
}
