/**
 * Stream names (binance.md §4): `<symbol>@trade`, `@aggTrade`, `@bookTicker`, `@depth`,
 * `@depth@100ms` (`@depth@1000ms` = `@depth`), `@kline_<interval>` (no `1s` on USD-M). Symbols
 * are lower-case in names, upper-case in payloads; a symbol must be configured for the market.
 */
import { KLINE_INTERVALS, type KlineInterval, type Market } from '../../../../shared/contracts/common.ts';

export type StreamKind = 'trade' | 'aggTrade' | 'kline' | 'bookTicker' | 'depth';
export const STREAM_KINDS: readonly StreamKind[] = ['trade', 'aggTrade', 'kline', 'bookTicker', 'depth'];

export interface StreamSpec {
  /** The name as the client wrote it (lower-case symbol): the `stream` of combined messages. */
  name: string;
  market: Market;
  /** Upper-case symbol. */
  symbol: string;
  kind: StreamKind;
  interval?: KlineInterval;
  /** Diff depth period, ms. */
  speedMs?: 100 | 1000;
}

/** Parses a stream name; a string is the error message (code 2 "Invalid request: …"). */
export function parseStream(
  name: string,
  market: Market,
  known: (market: Market, symbol: string) => boolean,
): StreamSpec | string {
  const at = name.indexOf('@');
  const sym = at > 0 ? name.slice(0, at) : '';
  const rest = at > 0 ? name.slice(at + 1) : '';
  const base = { name, market, symbol: sym.toUpperCase() };
  let spec: StreamSpec | undefined;
  if (rest === 'trade' || rest === 'aggTrade' || rest === 'bookTicker') spec = { ...base, kind: rest };
  else if (rest === 'depth' || rest === 'depth@1000ms') spec = { ...base, kind: 'depth', speedMs: 1000 };
  else if (rest === 'depth@100ms') spec = { ...base, kind: 'depth', speedMs: 100 };
  else if (rest.startsWith('kline_')) {
    const interval = rest.slice(6) as KlineInterval;
    if (KLINE_INTERVALS.includes(interval) && !(market === 'usdm' && interval === '1s'))
      spec = { ...base, kind: 'kline', interval };
  }
  if (!spec || !/^[a-z0-9]{2,20}$/.test(sym)) return `Invalid request: unknown stream '${name}'`;
  if (!known(market, spec.symbol))
    return `Invalid request: unknown symbol '${spec.symbol}' in stream '${name}'`;
  return spec;
}
