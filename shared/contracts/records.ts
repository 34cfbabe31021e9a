/**
 * Normalised market records: what data batches carry and what the store keeps. Every record has
 * a natural key (DESIGN.md "Contracts"), so every write is an UPSERT and replays converge.
 * Field names are snake_case; times are epoch ms; prices and quantities are the exchange's
 * exact decimal strings.
 */
import { z } from 'zod';
import { Decimal, EpochMs, KlineInterval, Market, Symbol } from './common.ts';
import type { RawAggTrade, RawFundingRate, RawKline, RawTrade } from './binance.ts';

const Base = { market: Market, symbol: Symbol };

/** A kline with all 12 Binance fields. */
export const Kline = z.object({
  ...Base,
  interval: KlineInterval,
  open_time: EpochMs,
  open: Decimal,
  high: Decimal,
  low: Decimal,
  close: Decimal,
  volume: Decimal,
  close_time: EpochMs,
  quote_volume: Decimal,
  trades: z.number().int().nonnegative(),
  taker_buy_base: Decimal,
  taker_buy_quote: Decimal,
  ignore: z.string(),
});
export type Kline = z.infer<typeof Kline>;

export const Trade = z.object({
  ...Base,
  id: z.number().int().nonnegative(),
  price: Decimal,
  qty: Decimal,
  quote_qty: Decimal,
  time: EpochMs,
  is_buyer_maker: z.boolean(),
  is_best_match: z.boolean().optional(),
});
export type Trade = z.infer<typeof Trade>;

export const AggTrade = z.object({
  ...Base,
  agg_id: z.number().int().nonnegative(),
  price: Decimal,
  qty: Decimal,
  first_trade_id: z.number().int(),
  last_trade_id: z.number().int(),
  time: EpochMs,
  is_buyer_maker: z.boolean(),
  is_best_match: z.boolean().optional(),
});
export type AggTrade = z.infer<typeof AggTrade>;

const Level = z.tuple([Decimal, Decimal]);

/**
 * A diff-depth event, or a whole book: a record with `first_update_id` 0 is a snapshot (the REST
 * snapshot loader-ws synchronised from, or its periodic copy of the local book) — replace the book
 * with its levels, then apply the diffs after it (docs/api.md, loader-ws/depth.ts).
 */
export const DepthUpdate = z.object({
  ...Base,
  event_time: EpochMs,
  first_update_id: z.number().int(),
  final_update_id: z.number().int(),
  prev_final_update_id: z.number().int().optional(),
  bids: z.array(Level),
  asks: z.array(Level),
});
export type DepthUpdate = z.infer<typeof DepthUpdate>;

export const BookTicker = z.object({
  ...Base,
  update_id: z.number().int(),
  /** Receive time when the exchange sends none (spot). */
  time: EpochMs,
  bid_price: Decimal,
  bid_qty: Decimal,
  ask_price: Decimal,
  ask_qty: Decimal,
});
export type BookTicker = z.infer<typeof BookTicker>;

export const FundingRate = z.object({
  market: z.literal('usdm'),
  symbol: Symbol,
  funding_time: EpochMs,
  funding_rate: Decimal,
  mark_price: Decimal.optional(),
});
export type FundingRate = z.infer<typeof FundingRate>;

/** Record kinds; each has its own topic, CloudEvent type and schema. */
export const RECORD_KINDS = ['kline', 'trade', 'agg_trade', 'depth', 'book_ticker', 'funding'] as const;
export const RecordKind = z.enum(RECORD_KINDS);
export type RecordKind = z.infer<typeof RecordKind>;

export const RECORD_SCHEMAS = {
  kline: Kline,
  trade: Trade,
  agg_trade: AggTrade,
  depth: DepthUpdate,
  book_ticker: BookTicker,
  funding: FundingRate,
} as const;

export interface RecordOfKind {
  kline: Kline;
  trade: Trade;
  agg_trade: AggTrade;
  depth: DepthUpdate;
  book_ticker: BookTicker;
  funding: FundingRate;
}
export type MarketRecord = RecordOfKind[RecordKind];

/**
 * Dataset names as the read API shows them: `klines_<interval>`, `trades`, `agg_trades`,
 * `funding`, `depth`, `book_ticker`.
 */
export const Dataset = z.union([
  z.templateLiteral(['klines_', KlineInterval]),
  z.enum(['trades', 'agg_trades', 'funding', 'depth', 'book_ticker']),
]);
export type Dataset = z.infer<typeof Dataset>;

/** One stored series: market + symbol + dataset. */
export interface SeriesId {
  market: z.infer<typeof Market>;
  symbol: string;
  dataset: Dataset;
}

/** Series id as one string, `spot:BTCUSDT:klines_1m`: the store indexes records by it. */
export function seriesKey(s: SeriesId): string {
  return `${s.market}:${s.symbol}:${s.dataset}`;
}

export function parseSeriesKey(key: string): SeriesId {
  const [market, symbol, dataset] = key.split(':');
  return { market: Market.parse(market), symbol: Symbol.parse(symbol), dataset: Dataset.parse(dataset) };
}

export function datasetKind(dataset: Dataset): RecordKind {
  if (dataset.startsWith('klines_')) return 'kline';
  switch (dataset) {
    case 'trades':
      return 'trade';
    case 'agg_trades':
      return 'agg_trade';
    case 'funding':
      return 'funding';
    case 'depth':
      return 'depth';
    default:
      return 'book_ticker';
  }
}

/** Where a record belongs, its natural key and its time: all the store needs to index it. */
export interface RecordIdentity {
  series: SeriesId;
  /** Natural key, valid as an ArangoDB `_key` (letters, digits, `:` `_` `-`). */
  key: string;
  /** The record's time on the series axis (open time, trade time, funding time). */
  time: number;
}

/**
 * Per kind, what makes a record's identity: its dataset, the tag and id of its natural key
 * `<market>:<symbol>:<tag>:<id>`, and its time.
 */
interface Identity<R> {
  dataset: (r: R) => Dataset;
  tag: (r: R) => string;
  id: (r: R) => number;
  time: (r: R) => number;
}

const IDENTITIES: { [K in RecordKind]: Identity<RecordOfKind[K]> } = {
  kline: {
    dataset: (k) => `klines_${k.interval}`,
    tag: (k) => k.interval,
    id: (k) => k.open_time,
    time: (k) => k.open_time,
  },
  trade: { dataset: () => 'trades', tag: () => 't', id: (t) => t.id, time: (t) => t.time },
  agg_trade: { dataset: () => 'agg_trades', tag: () => 'a', id: (a) => a.agg_id, time: (a) => a.time },
  funding: {
    dataset: () => 'funding',
    tag: () => 'f',
    id: (f) => f.funding_time,
    time: (f) => f.funding_time,
  },
  depth: { dataset: () => 'depth', tag: () => 'd', id: (d) => d.final_update_id, time: (d) => d.event_time },
  book_ticker: { dataset: () => 'book_ticker', tag: () => 'b', id: (b) => b.update_id, time: (b) => b.time },
};

/** Natural key and series of a record. One function so the loader, sink and API agree. */
export function identify<K extends RecordKind>(kind: K, r: RecordOfKind[K]): RecordIdentity {
  const d = IDENTITIES[kind] as Identity<RecordOfKind[K]>;
  return {
    series: { market: r.market, symbol: r.symbol, dataset: d.dataset(r) },
    key: `${r.market}:${r.symbol}:${d.tag(r)}:${d.id(r)}`,
    time: d.time(r),
  };
}

// --- Normalisers from the raw exchange payloads (tardis-node style: one mapper per message) ---

type MarketSymbol = { market: z.infer<typeof Market>; symbol: string };

export function klineFromRaw(row: RawKline, at: MarketSymbol & { interval: KlineInterval }): Kline {
  return {
    market: at.market,
    symbol: at.symbol,
    interval: at.interval,
    open_time: row[0],
    open: row[1],
    high: row[2],
    low: row[3],
    close: row[4],
    volume: row[5],
    close_time: row[6],
    quote_volume: row[7],
    trades: row[8],
    taker_buy_base: row[9],
    taker_buy_quote: row[10],
    ignore: row[11],
  };
}

export function tradeFromRaw(t: RawTrade, at: MarketSymbol): Trade {
  return {
    market: at.market,
    symbol: at.symbol,
    id: t.id,
    price: t.price,
    qty: t.qty,
    quote_qty: t.quoteQty,
    time: t.time,
    is_buyer_maker: t.isBuyerMaker,
    ...(t.isBestMatch === undefined ? {} : { is_best_match: t.isBestMatch }),
  };
}

export function aggTradeFromRaw(a: RawAggTrade, at: MarketSymbol): AggTrade {
  return {
    market: at.market,
    symbol: at.symbol,
    agg_id: a.a,
    price: a.p,
    qty: a.q,
    first_trade_id: a.f,
    last_trade_id: a.l,
    time: a.T,
    is_buyer_maker: a.m,
    ...(a.M === undefined ? {} : { is_best_match: a.M }),
  };
}

export function fundingFromRaw(f: RawFundingRate): FundingRate {
  return {
    market: 'usdm',
    symbol: f.symbol,
    funding_time: f.fundingTime,
    funding_rate: f.fundingRate,
    ...(f.markPrice ? { mark_price: f.markPrice } : {}),
  };
}
