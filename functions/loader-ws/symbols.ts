/**
 * Which symbols each market lists, shared by every live workflow: one exchangeInfo per market
 * (weight 20 spot, 1 USD-M: docs/binance.md §2, §6) kept for ten minutes, instead of one request
 * per workflow (a hundred workflows starting together would spend 2,000 weight on spot). A symbol
 * the list lacks is asked about again once the list is a minute old (it may have been listed
 * since); still missing, it gets the exchange's answer for an unknown symbol (-1121).
 */
import { z } from 'zod';
import type { Market } from '../../shared/contracts/common.ts';
import type { ExchangeClient } from '../../shared/exchange/rest-client.ts';
import { ExchangeError } from '../../shared/runtime/errors.ts';

const SymbolList = z.object({ symbols: z.array(z.object({ symbol: z.string() })) });

const PATHS: Record<Market, string> = { spot: '/api/v3/exchangeInfo', usdm: '/fapi/v1/exchangeInfo' };

export type SymbolCheck = (market: Market, symbol: string, signal?: AbortSignal) => Promise<void>;

export function createSymbolCheck(
  clients: Record<Market, ExchangeClient>,
  o: { ttlMs?: number; recheckAfterMs?: number; now?: () => number } = {},
): SymbolCheck {
  const ttl = o.ttlMs ?? 600_000;
  const recheck = o.recheckAfterMs ?? 60_000;
  const now = o.now ?? Date.now;
  const cache = new Map<Market, { at: number; symbols: Promise<Set<string>> }>();
  const load = (market: Market) => {
    const entry = {
      at: now(),
      symbols: clients[market]
        .get(PATHS[market], {}, SymbolList, { weight: market === 'spot' ? 20 : 1 })
        .then((info) => new Set(info.symbols.map((s) => s.symbol))),
    };
    // A failed fetch is not kept: the next workflow asks again.
    entry.symbols.catch(() => cache.get(market) === entry && cache.delete(market));
    cache.set(market, entry);
    return entry;
  };
  return async (market, symbol) => {
    let entry = cache.get(market);
    if (!entry || now() - entry.at > ttl) entry = load(market);
    if ((await entry.symbols).has(symbol)) return;
    if (now() - entry.at > recheck && (await load(market).symbols).has(symbol)) return;
    throw new ExchangeError(400, -1121, 'Invalid symbol.', PATHS[market]);
  };
}
