/**
 * Spot trade paginators. aggTrades: the first page by time (`startTime`/`endTime`, inclusive),
 * the rest by `fromId` (binance.md §2). trades: `historicalTrades` by `fromId`, starting from the
 * first trade id of the first aggregate trade at or after the range start (`f`), because
 * historicalTrades cannot be asked by time.
 *
 * Each request depends on the previous answer (the next id), so pages come one after another;
 * the next request is sent before a page is handed out, so it overlaps with publishing. Trades
 * have no gaps in the kline sense (a quiet second is not missing data): none are reported.
 */
import { z } from 'zod';
import { RawAggTrade, RawTrade } from '../contracts/binance.ts';
import { aggTradeFromRaw, tradeFromRaw } from '../contracts/records.ts';
import { rowFromRecord, type RowValue } from '../contracts/rows.ts';
import { linkedAbort, type Page, type PageCursor, type PaginateOptions } from './pages.ts';
import type { ExchangeClient } from './rest-client.ts';
import { MAX_LIMIT, SPOT_WEIGHTS } from './weights.ts';

export interface TradeSeries {
  symbol: string;
}

const RawAggTrades = z.array(RawAggTrade);
const RawTrades = z.array(RawTrade);

/**
 * The shared paging loop: `first` asks by time, `next` by id. Only an empty answer or a row at or
 * past `to` ends the range: a short answer may just be a server capping `limit` lower than asked
 * (missing data, not the end), so the loop asks again from the next id. Page boundaries fall on the last row's time: rows of the same millisecond may straddle two
 * pages, so a page settles `[cursor.from, lastTime)` and the next one starts at `lastTime`.
 */
async function* idPaged<R>(
  o: PaginateOptions,
  first: (from: number, to: number) => Promise<R[]>,
  next: (fromId: number) => Promise<R[]>,
  idOf: (r: R) => number,
  timeOf: (r: R) => number,
  map: (r: R) => RowValue[],
): AsyncGenerator<Page<RowValue[]>> {
  const to = Math.min(o.range.to, o.now());
  let cursor: PageCursor = o.resume ?? { from: o.range.from };
  if (cursor.from >= to) return;
  let pending: Promise<R[]> = cursor.fromId === undefined ? first(cursor.from, to) : next(cursor.fromId);
  for (;;) {
    const rows = await pending;
    const inRange = rows.filter((r) => timeOf(r) >= cursor.from && timeOf(r) < to);
    const last = rows.at(-1);
    if (last === undefined || timeOf(last) >= to) {
      yield { rows: inRange.map(map), covers: { from: cursor.from, to }, gaps: [], next: null };
      return;
    }
    const following: PageCursor = { from: Math.max(cursor.from, timeOf(last)), fromId: idOf(last) + 1 };
    pending = next(following.fromId!);
    pending.catch(() => undefined); // awaited on the next turn; the consumer may stop first
    yield {
      rows: inRange.map(map),
      covers: { from: cursor.from, to: following.from },
      gaps: [],
      next: following,
    };
    cursor = following;
  }
}

/** Spot aggTrades of `o.range`, up to the exchange clock's now. */
export async function* aggTradePages(
  client: ExchangeClient,
  s: TradeSeries,
  o: PaginateOptions,
): AsyncGenerator<Page<RowValue[]>> {
  const link = linkedAbort(o.signal);
  const limit = MAX_LIMIT.aggTrades;
  const req = { weight: SPOT_WEIGHTS.aggTrades, signal: link.signal };
  const at = { market: 'spot' as const, symbol: s.symbol };
  try {
    yield* idPaged(
      o,
      (from, to) =>
        client.get(
          '/api/v3/aggTrades',
          { symbol: s.symbol, startTime: from, endTime: to - 1, limit },
          RawAggTrades,
          req,
        ),
      (fromId) => client.get('/api/v3/aggTrades', { symbol: s.symbol, fromId, limit }, RawAggTrades, req),
      (r) => r.a,
      (r) => r.T,
      (r) => rowFromRecord('agg_trade', aggTradeFromRaw(r, at)),
    );
  } finally {
    link.abort();
  }
}

/** Spot trades of `o.range` through historicalTrades, up to the exchange clock's now. */
export async function* tradePages(
  client: ExchangeClient,
  s: TradeSeries,
  o: PaginateOptions,
): AsyncGenerator<Page<RowValue[]>> {
  const link = linkedAbort(o.signal);
  const limit = MAX_LIMIT.historicalTrades;
  const at = { market: 'spot' as const, symbol: s.symbol };
  const history = (fromId: number): Promise<RawTrade[]> =>
    client.get('/api/v3/historicalTrades', { symbol: s.symbol, fromId, limit }, RawTrades, {
      weight: SPOT_WEIGHTS.historicalTrades,
      signal: link.signal,
    });
  try {
    yield* idPaged(
      o,
      async (from, to) => {
        // The first trade at or after `from` is the first trade of the first aggTrade there.
        const agg = await client.get(
          '/api/v3/aggTrades',
          { symbol: s.symbol, startTime: from, endTime: to - 1, limit: 1 },
          RawAggTrades,
          {
            weight: SPOT_WEIGHTS.aggTrades,
            signal: link.signal,
          },
        );
        const firstAgg = agg[0];
        if (!firstAgg || firstAgg.T >= to) return [];
        return history(firstAgg.f);
      },
      history,
      (r) => r.id,
      (r) => r.time,
      (r) => rowFromRecord('trade', tradeFromRaw(r, at)),
    );
  } finally {
    link.abort();
  }
}
