/**
 * Options of the simulated data.binance.vision archive (archive.ts): its faults, the futures
 * header dates and the file cache. Part of ExchangeConfig (`archive`), filled from SIM_ARCHIVE_*
 * by sim-env.ts.
 */
import { z } from 'zod';
import type { Market } from '../../../shared/contracts/common.ts';

const MARKET = '(?:(spot|usdm):)?';
/** `[market:]SYMBOL:YYYY-MM-DD` — every daily file of that symbol and day is missing. */
export const MISSING_DAILY = new RegExp(`^${MARKET}([A-Z0-9]{2,20}):(\\d{4}-\\d{2}-\\d{2})$`);
/** `[market:]SYMBOL:YYYY-MM` — every monthly file of that symbol and month is not published yet. */
export const UNPUBLISHED_MONTHLY = new RegExp(`^${MARKET}([A-Z0-9]{2,20}):(\\d{4}-\\d{2})$`);
/** `[market:]<file>.zip` — that file's CHECKSUM lists another hash. */
export const BAD_CHECKSUM = new RegExp(`^${MARKET}([A-Za-z0-9-]+\\.zip)$`);

const isoDay = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
  .refine((s) => new Date(Date.parse(`${s}T00:00:00Z`) || 0).toISOString().startsWith(s), 'not a date');
const list = (re: RegExp, example: string) => z.array(z.string().regex(re, `expected e.g. ${example}`));

/** The fault lists (also checked field by field in sim-env.ts). */
export const ArchiveFaultLists = {
  missingDaily: list(MISSING_DAILY, 'BTCUSDT:2024-01-03 or usdm:BTCUSDT:2024-01-03'),
  unpublishedMonthly: list(UNPUBLISHED_MONTHLY, 'BTCUSDT:2024-01 or usdm:BTCUSDT:2024-01'),
  badChecksum: list(BAD_CHECKSUM, 'BTCUSDT-1m-2024-01-04.zip or usdm:BTCUSDT-trades-2024-01.zip'),
};

export const ArchiveConfig = z
  .object({
    missingDaily: ArchiveFaultLists.missingDaily.default([]),
    unpublishedMonthly: ArchiveFaultLists.unpublishedMonthly.default([]),
    badChecksum: ArchiveFaultLists.badChecksum.default([]),
    /**
     * Deflate level of the zips (fflate, pure JS, so the bytes are the same on every machine):
     * 6 = zlib's default; 1 deflates a month of 1m klines in about half the time, 9% larger.
     */
    zipLevel: z.number().int().min(0).max(9).default(6),
    /** Download speed per response in bytes/s; 0 = as fast as it can be generated. */
    bytesPerSecond: z.number().int().nonnegative().default(0),
    /** USD-M CSVs carry a header row on files whose day/month starts on or after these (binance.md §5). */
    headerFrom: z
      .object({
        klines: isoDay.default('2022-05-01'),
        trades: isoDay.default('2022-08-11'),
        aggTrades: isoDay.default('2022-08-11'),
      })
      .prefault({}),
    /** Finished zips up to maxFileBytes are kept (LRU, at most maxBytes in all); larger ones keep only their hash. */
    cache: z
      .object({
        maxBytes: z
          .number()
          .int()
          .nonnegative()
          .default(64 * 1024 * 1024),
        maxFileBytes: z
          .number()
          .int()
          .nonnegative()
          .default(8 * 1024 * 1024),
      })
      .prefault({}),
  })
  .prefault({});
export type ArchiveConfig = z.output<typeof ArchiveConfig>;

/** Whether a `[market:]rest` fault entry names (market, rest). */
export function faultListed(entries: readonly string[], re: RegExp, market: Market, rest: string[]): boolean {
  return entries.some((e) => {
    const m = re.exec(e);
    return m !== null && (m[1] === undefined || m[1] === market) && rest.every((r, i) => m[i + 2] === r);
  });
}
