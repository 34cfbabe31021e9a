/**
 * What dummy-service accepts and answers: the bus check, the load generator and the tally of
 * CloudEvents it received. Types come from these schemas.
 */
import { z } from '@hono/zod-openapi';
import { SafeName } from '../../shared/contracts/common.ts';
import { BaseConfig, env } from '../../shared/runtime/config.ts';
import { IntakeAuthConfig } from '../../shared/runtime/intake-auth.ts';

/** Bounds of POST /load: it holds one HTTP request open for at most a minute. */
export const LOAD_LIMITS = { maxRate: 50_000, maxDurationS: 60, maxRecordSize: 512 * 1024 } as const;

/** Budget of one run (rate × duration, and × record size), so a run cannot exhaust memory. */
export interface LoadBudget {
  maxEvents: number;
  maxBytes: number;
}
export const DEFAULT_LOAD_BUDGET: LoadBudget = { maxEvents: 1_000_000, maxBytes: 256 * 1024 * 1024 };
/** The in-process bus keeps what no consumer group has read: a smaller budget in embedded mode. */
export const EMBEDDED_LOAD_BUDGET: LoadBudget = { maxEvents: 200_000, maxBytes: 64 * 1024 * 1024 };

export const LoadRequest = z
  .strictObject({
    // A shared schema: created before zod-openapi's extension, so it has no `.openapi()`.
    topic: SafeName,
    /** Events per second. */
    rate: z.number().positive().max(LOAD_LIMITS.maxRate).openapi({ example: 1000 }),
    duration_s: z.number().positive().max(LOAD_LIMITS.maxDurationS).openapi({ example: 10 }),
    /** Size of each event's JSON data in bytes (a padding field fills it up). */
    record_size: z.number().int().min(1).max(LOAD_LIMITS.maxRecordSize).default(256),
    /** Partition key of every event; default none (spread over partitions). */
    key: z.string().min(1).max(256).optional(),
  })
  .openapi('LoadRequest');
export type LoadRequest = z.infer<typeof LoadRequest>;

export const LoadResult = z
  .object({
    topic: z.string(),
    sent: z.number().int(),
    errors: z.number().int(),
    achieved_rate: z.number(),
    duration_ms: z.number(),
    first_error: z.string().optional(),
  })
  .openapi('LoadResult');
export type LoadResult = z.infer<typeof LoadResult>;

export const CheckResult = z
  .object({
    ok: z.boolean(),
    topic: z.string(),
    /** bus.ping() time. */
    ping_ms: z.number().optional(),
    /** Publish → consumed back, for a probe on the check topic (includes joining a new consumer group). */
    latency_ms: z.number().optional(),
    /** Where the check failed: ping, topic, publish or consume. */
    stage: z.enum(['ping', 'topic', 'publish', 'consume']).optional(),
    error: z.string().optional(),
  })
  .openapi('CheckResult');
export type CheckResult = z.infer<typeof CheckResult>;

export const EventTallySnapshot = z
  .object({
    received: z.number().int(),
    by_type: z.record(z.string(), z.number().int()),
    recent: z.array(
      z.object({
        id: z.string(),
        type: z.string(),
        source: z.string(),
        subject: z.string().optional(),
        time: z.string().optional(),
        queue_id: z.string().optional(),
      }),
    ),
  })
  .openapi('EventTally');
export type EventTallySnapshot = z.infer<typeof EventTallySnapshot>;

/** dummy-service settings (main.ts reads them). */
export const DummyConfig = BaseConfig.extend({
  ...IntakeAuthConfig.shape,
  /** Topic of the round-trip probe of GET /check. */
  CHECK_TOPIC: SafeName.default('streamforge-check'),
  CHECK_TIMEOUT_MS: env.int(10_000),
});
export type DummyConfig = z.infer<typeof DummyConfig>;
