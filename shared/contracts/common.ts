import { z } from 'zod';

/** Exchange decimal string, kept exactly as Binance sends it (no float rounding). */
/** The exchange's decimal strings; also checked in plain code by isRawKline (binance.ts). */
export const DECIMAL_PATTERN = /^-?\d+(\.\d+)?$/;
export const Decimal = z.string().regex(DECIMAL_PATTERN, 'expected a decimal string such as "0.02345000"');

/** Epoch milliseconds (Binance default time unit). */
export const EpochMs = z.number().int().nonnegative();

/** Markets StreamForge loads: Binance spot and USD-M futures. */
export const Market = z.enum(['spot', 'usdm']);
export type Market = z.infer<typeof Market>;

/** Binance symbol as StreamForge accepts it at its edges. */
export const Symbol = z.string().regex(/^[A-Z0-9]{2,20}$/, 'symbol must match [A-Z0-9]{2,20}, e.g. BTCUSDT');

/** Every kline interval Binance knows (case-sensitive; `1s` is spot only). */
export const KLINE_INTERVALS = [
  '1s',
  '1m',
  '3m',
  '5m',
  '15m',
  '30m',
  '1h',
  '2h',
  '4h',
  '6h',
  '8h',
  '12h',
  '1d',
  '3d',
  '1w',
  '1M',
] as const;
export const KlineInterval = z.enum(KLINE_INTERVALS);
export type KlineInterval = z.infer<typeof KlineInterval>;

const MINUTE = 60_000;
const FIXED_INTERVAL_MS: Record<Exclude<KlineInterval, '1M'>, number> = {
  '1s': 1000,
  '1m': MINUTE,
  '3m': 3 * MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': 60 * MINUTE,
  '2h': 120 * MINUTE,
  '4h': 240 * MINUTE,
  '6h': 360 * MINUTE,
  '8h': 480 * MINUTE,
  '12h': 720 * MINUTE,
  '1d': 1440 * MINUTE,
  '3d': 3 * 1440 * MINUTE,
  '1w': 7 * 1440 * MINUTE,
};

/**
 * Open time of the candle that contains `t`. Weeks open on Monday 00:00 UTC (binance.md §2:
 * 1499040000000 is a Monday); months on the 1st; every other interval is aligned to the epoch.
 */
export function klineOpenTime(interval: KlineInterval, t: number): number {
  if (interval === '1M') {
    const d = new Date(t);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
  }
  const ms = FIXED_INTERVAL_MS[interval];
  if (interval === '1w') {
    const monday = 4 * 1440 * MINUTE; // 1970-01-05 was a Monday
    return Math.floor((t - monday) / ms) * ms + monday;
  }
  return Math.floor(t / ms) * ms;
}

/** Open time of the candle after the one opening at `openTime`. */
export function klineNextOpenTime(interval: KlineInterval, openTime: number): number {
  if (interval === '1M') {
    const d = new Date(openTime);
    return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
  }
  return openTime + FIXED_INTERVAL_MS[interval];
}

/** Fixed length of an interval in ms (`1M` has none: months differ). */
export function intervalMs(interval: Exclude<KlineInterval, '1M'>): number {
  return FIXED_INTERVAL_MS[interval];
}

/** Half-open time range [from, to) in epoch ms. */
export const TimeRange = z
  .object({ from: EpochMs, to: EpochMs })
  .refine((r) => r.to > r.from, { message: 'range end must be after its start' });
export type TimeRange = z.infer<typeof TimeRange>;

/** Names of Kafka topics and store collections: a safe character set on both systems. */
export const SafeName = z
  .string()
  .regex(
    /^[a-zA-Z][a-zA-Z0-9_-]{0,119}$/,
    'names may use letters, digits, "_" and "-", starting with a letter',
  );
