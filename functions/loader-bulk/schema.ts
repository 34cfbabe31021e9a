/**
 * What loader-bulk reads: the history loaders' environment (shared/loader/config.ts) plus where
 * the archive is and how it is read.
 */
import { z } from 'zod';
import { HistoryLoaderConfig } from '../../shared/loader/config.ts';

export const BulkLoaderConfig = HistoryLoaderConfig.extend({
  /** The public archive, or the simulator's (`functions/dummy-service` serves the same tree). */
  BINANCE_ARCHIVE_URL: z.url().default('https://data.binance.vision'),
  /** Files downloaded ahead of the one being parsed. */
  ARCHIVE_PREFETCH: z.coerce.number().int().min(0).max(16).default(2),
  /** Where downloads wait while they are verified and parsed; default the OS temp dir. */
  ARCHIVE_TMP_DIR: z.string().min(1).optional(),
});
export type BulkLoaderConfig = z.infer<typeof BulkLoaderConfig>;
