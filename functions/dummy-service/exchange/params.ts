/**
 * Query parameters read the way Binance reads them, and its error bodies (binance.md §3,
 * fixtures rest/errors_observed.json): `{"code":-1121,"msg":"Invalid symbol."}` with HTTP 400.
 */
import { KLINE_INTERVALS, type KlineInterval } from '../../../shared/contracts/common.ts';

/** An answer the exchange gives on purpose: HTTP status + Binance code and message. */
export class BinanceApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    msg: string,
  ) {
    super(msg);
    this.name = 'BinanceApiError';
  }
  body(): string {
    return JSON.stringify({ code: this.code, msg: this.message });
  }
}

export const err = {
  mandatory: (p: string) =>
    new BinanceApiError(400, -1102, `Mandatory parameter '${p}' was not sent, was empty/null, or malformed.`),
  illegal: (p: string, range: string) =>
    new BinanceApiError(
      400,
      -1100,
      `Illegal characters found in parameter '${p}'; legal range is '${range}'.`,
    ),
  badInterval: () => new BinanceApiError(400, -1120, 'Invalid interval.'),
  badSymbol: () => new BinanceApiError(400, -1121, 'Invalid symbol.'),
  startAfterEnd: () => new BinanceApiError(400, -1023, 'Start time is greater than end time.'),
  rangeTooBig: (hours: number) =>
    new BinanceApiError(400, -1127, `More than ${hours} hours between startTime and endTime.`),
  badCombination: () => new BinanceApiError(400, -1128, 'Combination of optional parameters invalid.'),
  invalid: (p: string) => new BinanceApiError(400, -1130, `Data sent for parameter '${p}' is not valid.`),
};

export type Query = Record<string, string | undefined>;

const SYMBOL_RANGE = '^[A-Z0-9-_.]{1,20}$';

/** `symbol`: -1102 when missing, -1100 when it has characters Binance refuses. */
export function readSymbol(q: Query, required = true): string | undefined {
  const s = q['symbol'];
  if (s === undefined || s === '') {
    if (required) throw err.mandatory('symbol');
    return undefined;
  }
  if (!/^[A-Z0-9\-_.]{1,20}$/.test(s)) throw err.illegal('symbol', SYMBOL_RANGE);
  return s;
}

/** Optional non-negative integer (ids, times, limit). */
export function readInt(q: Query, name: string): number | undefined {
  const s = q[name];
  if (s === undefined || s === '') return undefined;
  if (!/^[0-9]{1,20}$/.test(s)) throw err.illegal(name, '^[0-9]{1,20}$');
  return Number(s);
}

/** startTime/endTime: milliseconds, or microseconds (16 digits) on spot (changelog 2024-12-17). */
export function readTime(q: Query, name: string, allowMicros: boolean): number | undefined {
  const v = readInt(q, name);
  return v !== undefined && allowMicros && v >= 1e15 ? Math.floor(v / 1000) : v;
}

/** `limit` with a default, clamped to `max` (binance.md §2: larger values are cut); 0 is refused. */
export function readLimit(q: Query, def: number, max: number): number {
  const v = readInt(q, 'limit');
  if (v === undefined) return def;
  if (v < 1) throw err.invalid('limit');
  return Math.min(v, max);
}

export function readInterval(q: Query, allowed: readonly string[] = KLINE_INTERVALS): KlineInterval {
  const s = q['interval'];
  if (s === undefined || s === '') throw err.mandatory('interval');
  if (!allowed.includes(s)) throw err.badInterval();
  return s as KlineInterval;
}
