/**
 * One entry point from a series (market, symbol, dataset) to its paginator, so a loader does not
 * branch on datasets itself.
 */
import type { Market } from '../contracts/common.ts';
import { KlineInterval } from '../contracts/common.ts';
import type { Dataset } from '../contracts/records.ts';
import { fundingPages } from './funding.ts';
import { klinePages } from './klines.ts';
import type { Page, PaginateOptions } from './pages.ts';
import type { ExchangeClient } from './rest-client.ts';
import { aggTradePages, tradePages } from './trades.ts';

/** The REST clients of both markets (each with its own host and weight budget). */
export interface ExchangeClients {
  spot: ExchangeClient;
  usdm: ExchangeClient;
}

export interface SeriesSpec {
  market: Market;
  symbol: string;
  dataset: Dataset;
}

/** Why a series cannot be paged over REST; null when it can. */
export function unsupportedReason(s: SeriesSpec): string | null {
  if (s.dataset.startsWith('klines_')) {
    const interval = KlineInterval.parse(s.dataset.slice('klines_'.length));
    return s.market === 'usdm' && interval === '1s' ? '1s klines exist on spot only' : null;
  }
  switch (s.dataset) {
    case 'trades':
    case 'agg_trades':
      return s.market === 'spot' ? null : `${s.dataset} are loaded for spot only`;
    case 'funding':
      return s.market === 'usdm' ? null : 'funding rates exist on USD-M only';
    default:
      return `${s.dataset} has no REST history`;
  }
}

/** Pages of one series; throws RangeError for a series {@link unsupportedReason} rejects. */
export function paginate(clients: ExchangeClients, s: SeriesSpec, o: PaginateOptions): AsyncGenerator<Page> {
  const reason = unsupportedReason(s);
  if (reason) throw new RangeError(reason);
  if (s.dataset.startsWith('klines_')) {
    const interval = KlineInterval.parse(s.dataset.slice('klines_'.length));
    return klinePages(clients[s.market], { market: s.market, symbol: s.symbol, interval }, o);
  }
  switch (s.dataset) {
    case 'trades':
      return tradePages(clients.spot, s, o);
    case 'agg_trades':
      return aggTradePages(clients.spot, s, o);
    default:
      return fundingPages(clients.usdm, s, o);
  }
}
