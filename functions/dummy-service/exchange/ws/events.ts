/**
 * WebSocket event payloads (binance.md §4, §6), built from the REST rows of market-data.ts so
 * that every price and quantity string is the one REST returns. Spot and USD-M differ: futures
 * trades carry `"X":"MARKET"` and no `M`, futures aggTrades no `M` (the REST row already lacks
 * it), futures depth adds `T` and `pu`, futures bookTicker adds `e`, `T`, `E`.
 */
import type { Market } from '../../../../shared/contracts/common.ts';
import type { KlineRow, Level, MarketData } from '../market-data.ts';

type TradeRow = ReturnType<MarketData['trades']>[number];
type AggRow = ReturnType<MarketData['aggTrades']>[number];
type DepthDiff = ReturnType<MarketData['depthDiff']>;
type BookTop = ReturnType<MarketData['bookTop']>;

export function tradeEvent(market: Market, s: string, r: TradeRow, E: number) {
  return market === 'spot'
    ? { e: 'trade', E, s, t: r.id, p: r.price, q: r.qty, T: r.time, m: r.isBuyerMaker, M: r.isBestMatch }
    : { e: 'trade', E, T: r.time, s, t: r.id, p: r.price, q: r.qty, X: 'MARKET', m: r.isBuyerMaker };
}

export function aggTradeEvent(s: string, r: AggRow, E: number) {
  return { e: 'aggTrade', E, s, ...r };
}

/**
 * A kline update; `first` is the id of the candle's first trade (when it has any): f…L are
 * consecutive because trade ids are counts since listing.
 */
export function klineEvent(s: string, i: string, r: KlineRow, first: number, x: boolean, E: number) {
  const n = r[8];
  return {
    e: 'kline',
    E,
    s,
    k: {
      t: r[0],
      T: r[6],
      s,
      i,
      f: n > 0 ? first : -1,
      L: n > 0 ? first + n - 1 : -1,
      o: r[1],
      c: r[4],
      h: r[2],
      l: r[3],
      v: r[5],
      n,
      x,
      q: r[7],
      V: r[9],
      Q: r[10],
      B: '0',
    },
  };
}

export function depthEvent(market: Market, s: string, d: DepthDiff, E: number, T: number) {
  const b: Level[] = d.b;
  const a: Level[] = d.a;
  return market === 'spot'
    ? { e: 'depthUpdate', E, s, U: d.U, u: d.u, b, a }
    : { e: 'depthUpdate', E, T, s, U: d.U, u: d.u, pu: d.pu, b, a };
}

export function bookTickerEvent(market: Market, s: string, t: BookTop, E: number, T: number) {
  const { u, b, B, a, A } = t;
  return market === 'spot' ? { u, s, b, B, a, A } : { e: 'bookTicker', u, s, b, B, a, A, T, E };
}
