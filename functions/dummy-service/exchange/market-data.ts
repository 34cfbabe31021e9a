/**
 * The deterministic market: every configured (market, symbol) series, and the JSON rows the
 * REST endpoints return, in Binance's exact field types and key order (fixtures rest/). The
 * WebSocket streams (ws/) read the same rows and the same order book model (book.ts), so both
 * APIs always agree.
 */
import type { RawKline } from '../../../shared/contracts/binance.ts';
import {
  intervalMs,
  klineNextOpenTime,
  type KlineInterval,
  type Market,
} from '../../../shared/contracts/common.ts';
import { BOOK_BUCKET_MS, bucketOf, BookModel, type Side } from './book.ts';
import { CandleBuilder } from './candles.ts';
import type { ExchangeConfig, SymbolSpec } from './config.ts';
import { fixed, formatterFor, type Formatter } from './format.ts';
import { MINUTE_MS, windowsIn, type Window } from './gaps.ts';
import type { SimAggTrade, SimTrade } from './minute.ts';
import { hashKeys, unit, valueNoise } from './prng.ts';
import { Series } from './series.ts';
import { fromId, fromTime, newest, nextIdAfter } from './trades.ts';

/** A REST kline row: the wire tuple of shared/contracts/binance.ts. */
export type KlineRow = RawKline;

interface Entry {
  series: Series;
  candles: CandleBuilder;
  book: BookModel;
  fmt: Formatter;
}

/** A price level as Binance prints it: [price, qty]. */
export type Level = [string, string];

/** A time selection: at most one of fromId / (startTime, endTime) is used. */
export interface TradeQuery {
  fromId?: number | undefined;
  startTime?: number | undefined;
  endTime?: number | undefined;
  limit: number;
}

const FUNDING_MS = 8 * 3_600_000;

export function createMarketData(config: ExchangeConfig) {
  const entries = new Map<string, Entry>();
  for (const spec of config.symbols) {
    const series = new Series(config.seed, spec, config.gaps);
    entries.set(`${spec.market}:${spec.symbol}`, {
      series,
      candles: new CandleBuilder(series),
      book: new BookModel(series, config.bookLevels),
      fmt: formatterFor(spec),
    });
  }
  const entry = (market: Market, symbol: string): Entry | undefined => entries.get(`${market}:${symbol}`);
  const must = (market: Market, symbol: string): Entry => {
    const e = entry(market, symbol);
    if (!e) throw new Error(`unknown ${market} symbol ${symbol}`);
    return e;
  };

  const tradeJson = (e: Entry, t: SimTrade) => ({
    id: t.id,
    price: e.fmt.price(t.p),
    qty: e.fmt.qty(t.q),
    quoteQty: e.fmt.quote(t.p * t.q),
    time: t.t,
    isBuyerMaker: t.isBuyerMaker,
    isBestMatch: true,
  });
  const aggJson = (e: Entry, a: SimAggTrade) => {
    const row = { a: a.a, p: e.fmt.price(a.p), q: e.fmt.qty(a.q), f: a.f, l: a.l, T: a.t, m: a.isBuyerMaker };
    // USD-M aggregated trades carry no `M` (binance.md §6).
    return e.series.spec.market === 'spot' ? { ...row, M: true } : row;
  };

  const levels = (e: Entry, side: Side, limit: number): Level[] => {
    const n = Math.min(limit, side.prices.length);
    const out = new Array<Level>(n);
    for (let i = 0; i < n; i++) out[i] = [e.fmt.price(side.prices[i]!), e.fmt.qty(side.qtys[i]!)];
    return out;
  };
  const changes = (e: Entry, diff: Array<[number, number]>): Level[] =>
    diff.map(([p, q]) => [e.fmt.price(p), e.fmt.qty(q)]);

  function selectTrades<K extends 'trade' | 'agg'>(e: Entry, kind: K, q: TradeQuery, now: number) {
    if (q.fromId !== undefined) return fromId(e.series, kind, q.fromId, q.limit, now);
    if (q.startTime !== undefined)
      return fromTime(e.series, kind, q.startTime, q.endTime ?? now, q.limit, now);
    return newest(e.series, kind, q.endTime ?? now, q.limit, now);
  }

  /** Funding rate in 1e-8 units and mark price of the funding at slot k (k·8h). */
  function funding(e: Entry, k: number) {
    const key = hashKeys(e.series.key, 11);
    const rate = Math.round(
      10_000 + 25_000 * valueNoise(key, k, 6) + 5_000 * (2 * unit(hashKeys(key, k)) - 1),
    );
    const mark = Math.round(e.series.price((k * FUNDING_MS) / MINUTE_MS) * 1e8);
    return {
      symbol: e.series.spec.symbol,
      fundingRate: fixed(rate, 8, 8),
      fundingTime: k * FUNDING_MS,
      markPrice: fixed(mark, 8, 8),
    };
  }

  return {
    config,
    /** Configured symbols of a market. */
    symbols: (market: Market): SymbolSpec[] => config.symbols.filter((s) => s.market === market),
    has: (market: Market, symbol: string): boolean => entry(market, symbol) !== undefined,
    series: (market: Market, symbol: string): Series => must(market, symbol).series,
    candles: (market: Market, symbol: string): CandleBuilder => must(market, symbol).candles,

    klines(
      market: Market,
      symbol: string,
      interval: KlineInterval,
      q: { startTime?: number | undefined; endTime?: number | undefined; limit: number },
      now: number,
    ): KlineRow[] {
      const e = must(market, symbol);
      const f = e.fmt;
      const span = interval === '1M' ? 0 : intervalMs(interval);
      // Plain indexing, no destructuring: this runs once per row of every page.
      return e.candles.select(interval, q, now).map((row): KlineRow => {
        const t = row[0];
        const c = row[1];
        return [
          t,
          f.price(c.o),
          f.price(c.h),
          f.price(c.l),
          f.price(c.c),
          f.qty(c.v),
          (span > 0 ? t + span : klineNextOpenTime(interval, t)) - 1,
          f.quote(c.q),
          c.n,
          f.qty(c.vb),
          f.quote(c.qb),
          '0',
        ];
      });
    },

    trades(market: Market, symbol: string, q: TradeQuery, now: number) {
      const e = must(market, symbol);
      return selectTrades(e, 'trade', q, now).map((t) => tradeJson(e, t));
    },

    aggTrades(market: Market, symbol: string, q: TradeQuery, now: number) {
      const e = must(market, symbol);
      return selectTrades(e, 'agg', q, now).map((a) => aggJson(e, a));
    },

    /** USD-M funding every 8 h at 00:00/08:00/16:00 UTC from listing; oldest first. */
    fundingRate(
      symbols: string[],
      q: { startTime?: number | undefined; endTime?: number | undefined; limit: number },
      now: number,
    ) {
      const rows: Array<ReturnType<typeof funding>> = [];
      for (const symbol of symbols) {
        const e = must('usdm', symbol);
        const first = Math.ceil((e.series.listing * MINUTE_MS) / FUNDING_MS);
        const last = Math.floor(Math.min(q.endTime ?? now, now) / FUNDING_MS);
        let from = Math.max(
          first,
          q.startTime === undefined ? last - q.limit + 1 : Math.ceil(q.startTime / FUNDING_MS),
        );
        const to = Math.min(last, from + q.limit - 1);
        for (; from <= to; from++) rows.push(funding(e, from));
      }
      rows.sort((a, b) => a.fundingTime - b.fundingTime || a.symbol.localeCompare(b.symbol));
      return q.startTime === undefined ? rows.slice(-q.limit) : rows.slice(0, q.limit);
    },

    /** Order book snapshot: the top `limit` levels of the book model's bucket at `now` (book.ts). */
    depth(market: Market, symbol: string, limit: number, now: number) {
      const e = must(market, symbol);
      const k = bucketOf(now);
      const book = e.book.book(k);
      const lastUpdateId = e.book.lastUpdateId(k);
      const bids = levels(e, book.bids, limit);
      const asks = levels(e, book.asks, limit);
      return market === 'spot'
        ? { lastUpdateId, bids, asks }
        : { lastUpdateId, E: now, T: k * BOOK_BUCKET_MS, bids, asks };
    },

    /**
     * The diff-depth content for buckets (from, to]: update ids U…u, the previous event's u (`pu`)
     * and the levels of book(to) that differ from book(from), as Binance prints them.
     */
    depthDiff(market: Market, symbol: string, from: number, to: number) {
      const e = must(market, symbol);
      const d = e.book.diff(from, to);
      const pu = e.book.lastUpdateId(from);
      return { U: pu + 1, u: e.book.lastUpdateId(to), pu, b: changes(e, d.bids), a: changes(e, d.asks) };
    },

    /** Best bid and ask of bucket k's book with its update id (the bookTicker content). */
    bookTop(market: Market, symbol: string, k: number) {
      const e = must(market, symbol);
      const book = e.book.book(k);
      const [bid] = levels(e, book.bids, 1);
      const [ask] = levels(e, book.asks, 1);
      return {
        u: e.book.lastUpdateId(k),
        b: bid?.[0] ?? '0',
        B: bid?.[1] ?? '0',
        a: ask?.[0] ?? '0',
        A: ask?.[1] ?? '0',
      };
    },

    /** Ids the next trade and aggregated trade after time t get (= counts up to t). */
    nextIds: (market: Market, symbol: string, t: number): { trade: number; agg: number } => {
      const s = must(market, symbol).series;
      return { trade: nextIdAfter(s, 'trade', t), agg: nextIdAfter(s, 'agg', t) };
    },

    /** Gap windows of (market, symbol) overlapping [from, to), in ms. */
    gapsIn: (symbol: string, market: Market, from: number, to: number): Window[] =>
      windowsIn(must(market, symbol).series.gaps, from, to),

    /** First millisecond with data (listing time rounded up to the minute). */
    listingTime: (symbol: string, market: Market): number => must(market, symbol).series.listing * MINUTE_MS,
  };
}

export type MarketData = ReturnType<typeof createMarketData>;
