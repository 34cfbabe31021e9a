/**
 * loader-ws configuration (read by main.ts only) and the exchange's WebSocket limits it obeys
 * (docs/binance.md §4 spot, §6 USD-M).
 */
import { z } from 'zod';
import type { Market } from '../../shared/contracts/common.ts';
import { BaseConfig, env } from '../../shared/runtime/config.ts';
import { IntakeAuthConfig } from '../../shared/runtime/intake-auth.ts';

export const FUNCTION_NAME = 'loader-ws';

/** Per market: streams per connection, incoming messages per second, connection attempts per window. */
export interface WsLimits {
  maxStreams: number;
  messagesPerSecond: number;
  /** The server's ping interval: a healthy connection is never silent much longer. */
  pingIntervalMs: number;
}

export const WS_LIMITS: Readonly<Record<Market, WsLimits>> = {
  spot: { maxStreams: 1024, messagesPerSecond: 5, pingIntervalMs: 20_000 },
  usdm: { maxStreams: 200, messagesPerSecond: 10, pingIntervalMs: 180_000 },
};

/** 300 connection attempts per 5 minutes per IP (both markets, docs/binance.md §4). */
export const CONNECT_LIMIT = { attempts: 300, windowMs: 5 * 60_000 } as const;

/** Every connection is dropped at 24 h: rotate well before. */
export const DAY_MS = 86_400_000;

export const LoaderWsConfig = BaseConfig.extend({
  ...IntakeAuthConfig.shape,
  BINANCE_API_URL: z.url().default('https://api.binance.com'),
  BINANCE_FAPI_URL: z.url().default('https://fapi.binance.com'),
  BINANCE_WS_URL: z.url().default('wss://stream.binance.com:9443'),
  BINANCE_FWS_URL: z.url().default('wss://fstream.binance.com'),
  BINANCE_WEIGHT_LIMIT: z.coerce.number().int().positive().default(6000),
  BINANCE_WEIGHT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
  BINANCE_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
  /** A micro-batch is published at this many records, or this long after its first record. */
  WS_BATCH_MAX_RECORDS: env.int(1000),
  WS_BATCH_MAX_MS: env.int(100),
  /** Records a workflow may hold unpublished; beyond it live records are shed and refilled over REST. */
  WS_MAX_BUFFERED: env.int(50_000),
  /** Make-before-break rotation after this connection age (jittered down by up to 10 %). */
  WS_ROTATE_AFTER_MS: env.int(23 * 3_600_000),
  /** Old and new connection both deliver for this long during a rotation. */
  WS_ROTATE_OVERLAP_MS: env.int(2_000),
  /** A connection silent this long (no data, no ping) is replaced; 0 = derived from its streams. */
  WS_SILENCE_MS: env.int(0),
  /** Reconnect backoff: full jitter over base · 2^attempt, capped. */
  WS_BACKOFF_BASE_MS: env.int(250),
  WS_BACKOFF_MAX_MS: env.int(30_000),
  /** ws_depth: publish the local book as a snapshot record this often. */
  WS_DEPTH_SNAPSHOT_MS: env.int(60_000),
  /** ws_depth: compare the local book with a fresh REST snapshot this often; 0 = never. */
  WS_DEPTH_VERIFY_MS: env.int(0),
  /** Minimum time between two progress events of a workflow. */
  LOADER_PROGRESS_MS: env.int(1000),
});
export type LoaderWsConfig = z.infer<typeof LoaderWsConfig>;

/** What the live loader needs from its configuration (tests build it directly). */
export interface LiveSettings {
  batchMaxRecords: number;
  batchMaxMs: number;
  maxBuffered: number;
  rotateAfterMs: number;
  rotateOverlapMs: number;
  silenceMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  depthSnapshotMs: number;
  depthVerifyMs: number;
  progressIntervalMs: number;
}

export const DEFAULT_SETTINGS: LiveSettings = {
  batchMaxRecords: 1000,
  batchMaxMs: 100,
  maxBuffered: 50_000,
  rotateAfterMs: 23 * 3_600_000,
  rotateOverlapMs: 2_000,
  silenceMs: 0,
  backoffBaseMs: 250,
  backoffMaxMs: 30_000,
  depthSnapshotMs: 60_000,
  depthVerifyMs: 0,
  progressIntervalMs: 1000,
};

export function settingsOf(c: LoaderWsConfig): LiveSettings {
  return {
    batchMaxRecords: c.WS_BATCH_MAX_RECORDS,
    batchMaxMs: c.WS_BATCH_MAX_MS,
    maxBuffered: c.WS_MAX_BUFFERED,
    rotateAfterMs: c.WS_ROTATE_AFTER_MS,
    rotateOverlapMs: c.WS_ROTATE_OVERLAP_MS,
    silenceMs: c.WS_SILENCE_MS,
    backoffBaseMs: c.WS_BACKOFF_BASE_MS,
    backoffMaxMs: c.WS_BACKOFF_MAX_MS,
    depthSnapshotMs: c.WS_DEPTH_SNAPSHOT_MS,
    depthVerifyMs: c.WS_DEPTH_VERIFY_MS,
    progressIntervalMs: c.LOADER_PROGRESS_MS,
  };
}
