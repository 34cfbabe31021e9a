/**
 * graph-builder's configuration and names. It reads stored klines and writes graph snapshots:
 * the store is its only data dependency, the bus carries its commands in and its reports out.
 */
import type { z } from 'zod';
import { BaseConfig, env } from '../../shared/runtime/config.ts';
import { IntakeAuthConfig } from '../../shared/runtime/intake-auth.ts';

export const FUNCTION_NAME = 'graph-builder';

export const GraphBuilderConfig = BaseConfig.extend({
  ...IntakeAuthConfig.shape,
  /** Snapshots written to the store per transaction (and per progress report at most). */
  GRAPH_WRITE_CHUNK: env.int(25),
  /** Least time between two progress reports on queue-events. */
  GRAPH_PROGRESS_MS: env.int(1000),
});
export type GraphBuilderConfig = z.infer<typeof GraphBuilderConfig>;

export interface BuilderSettings {
  writeChunk: number;
  progressIntervalMs: number;
}

export const DEFAULT_SETTINGS: BuilderSettings = { writeChunk: 25, progressIntervalMs: 1000 };

export const settingsOf = (c: GraphBuilderConfig): BuilderSettings => ({
  writeChunk: c.GRAPH_WRITE_CHUNK,
  progressIntervalMs: c.GRAPH_PROGRESS_MS,
});
