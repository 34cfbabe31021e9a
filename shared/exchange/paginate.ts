/**
 * One entry point from a series (market, symbol, dataset) to its paginator, so a loader does not
 * branch on datasets itself.
 */
import { KlineInterval, type Market } from '../contracts/common.ts';
import { unsupportedSeries } from '../contracts/request-rules.ts';
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

/** Pages of one series; throws RangeError for a series the request rules reject (request-rules.ts). */
export function paginate(clients: ExchangeClients, s: SeriesSpec, o: PaginateOptions): AsyncGenerator<Page> {
  const reason = unsupportedSeries(s.market, s.dataset);
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
