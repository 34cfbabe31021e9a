/**
 * Request weights of the endpoints the loaders call (binance.md §2 spot, §6 USD-M). They are the
 * reservation a request makes in the weight budget before it is sent; the exchange's used-weight
 * header then tells the truth.
 */
import type { Market } from '../contracts/common.ts';

/** Spot weights (current values, binance.md §2). */
export const SPOT_WEIGHTS = {
  ping: 1,
  time: 1,
  exchangeInfo: 20,
  klines: 2,
  aggTrades: 4,
  trades: 25,
  historicalTrades: 25,
} as const;

/** USD-M weights that do not depend on `limit` (binance.md §6). */
export const USDM_WEIGHTS = {
  ping: 1,
  time: 1,
  exchangeInfo: 1,
  aggTrades: 20,
  fundingRate: 1,
} as const;

/** Largest `limit` per request. */
export const MAX_LIMIT = {
  spotKlines: 1000,
  usdmKlines: 1500,
  aggTrades: 1000,
  historicalTrades: 1000,
  fundingRate: 1000,
} as const;

/** USD-M klines weight by `limit`: [1,100) → 1, [100,500) → 2, [500,1000] → 5, > 1000 → 10. */
export function usdmKlinesWeight(limit: number): number {
  if (limit < 100) return 1;
  if (limit < 500) return 2;
  if (limit <= 1000) return 5;
  return 10;
}

/** Weight of one klines request with `limit` on `market`. */
export function klinesWeight(market: Market, limit: number): number {
  return market === 'spot' ? SPOT_WEIGHTS.klines : usdmKlinesWeight(limit);
}

/**
 * The klines `limit` that buys the most candles per unit of weight (ties: the larger limit, fewer
 * requests). Spot: 1000 (flat weight 2). USD-M: 499 at weight 2 is 249.5 candles per weight,
 * against 200 for 1000 at weight 5 and 150 for 1500 at weight 10 — when the IP's weight is the
 * bottleneck (many loaders), 499 loads 25% more candles per minute than 1000 and 66% more than
 * 1500. The loader is weight-bound exactly when it matters, so it pays with more requests.
 */
export function cheapestKlinesLimit(market: Market): number {
  const max: number = market === 'spot' ? MAX_LIMIT.spotKlines : MAX_LIMIT.usdmKlines;
  const candidates = [99, 499, 1000, 1500].filter((l) => l <= max);
  let best = max;
  let bestRate = max / klinesWeight(market, max);
  for (const l of candidates) {
    const rate = l / klinesWeight(market, l);
    if (rate > bestRate) {
      best = l;
      bestRate = rate;
    }
  }
  return best;
}
