/**
 * The columns of an exported series (docs/export.md): one column per field of the record schema
 * (shared/contracts/records.ts), in the schema's order, so a file row is a `/records` item.
 * Types by field, checked by the compiler against the record types, so a field added to a record
 * schema does not build until it has an export type here.
 */
import { z } from 'zod';
import { RECORD_SCHEMAS, type RecordKind, type RecordOfKind } from '../contracts/records.ts';

/**
 * - `timestamp`: epoch ms (Parquet INT64 TIMESTAMP(MILLIS, UTC); CSV the integer)
 * - `int64`: a whole number (Parquet INT64)
 * - `decimal`: the exchange's exact decimal string (Parquet STRING, not DECIMAL: docs/export.md)
 * - `string`, `boolean`
 * - `levels`: depth levels `[[price, qty], ...]` (Parquet LIST<STRUCT<price, qty>>; CSV JSON)
 */
export type ColumnType = 'timestamp' | 'int64' | 'decimal' | 'string' | 'boolean' | 'levels';

export interface ExportColumn {
  name: string;
  type: ColumnType;
  /** The record field is optional: absent → null (Parquet OPTIONAL; CSV an empty field). */
  nullable: boolean;
}

type Types = { [K in RecordKind]: { [F in keyof RecordOfKind[K] & string]-?: ColumnType } };

const SERIES = { market: 'string', symbol: 'string' } as const;

const TYPES: Types = {
  kline: {
    ...SERIES,
    interval: 'string',
    open_time: 'timestamp',
    open: 'decimal',
    high: 'decimal',
    low: 'decimal',
    close: 'decimal',
    volume: 'decimal',
    close_time: 'timestamp',
    quote_volume: 'decimal',
    trades: 'int64',
    taker_buy_base: 'decimal',
    taker_buy_quote: 'decimal',
    ignore: 'string',
  },
  trade: {
    ...SERIES,
    id: 'int64',
    price: 'decimal',
    qty: 'decimal',
    quote_qty: 'decimal',
    time: 'timestamp',
    is_buyer_maker: 'boolean',
    is_best_match: 'boolean',
  },
  agg_trade: {
    ...SERIES,
    agg_id: 'int64',
    price: 'decimal',
    qty: 'decimal',
    first_trade_id: 'int64',
    last_trade_id: 'int64',
    time: 'timestamp',
    is_buyer_maker: 'boolean',
    is_best_match: 'boolean',
  },
  depth: {
    ...SERIES,
    event_time: 'timestamp',
    first_update_id: 'int64',
    final_update_id: 'int64',
    prev_final_update_id: 'int64',
    bids: 'levels',
    asks: 'levels',
  },
  book_ticker: {
    ...SERIES,
    update_id: 'int64',
    time: 'timestamp',
    bid_price: 'decimal',
    bid_qty: 'decimal',
    ask_price: 'decimal',
    ask_qty: 'decimal',
  },
  funding: {
    market: 'string',
    symbol: 'string',
    funding_time: 'timestamp',
    funding_rate: 'decimal',
    mark_price: 'decimal',
  },
};

const cache = new Map<RecordKind, readonly ExportColumn[]>();

/** The export columns of a kind, in its record schema's field order. */
export function exportColumns(kind: RecordKind): readonly ExportColumn[] {
  let cols = cache.get(kind);
  if (cols) return cols;
  const shape = (RECORD_SCHEMAS[kind] as unknown as { shape: Record<string, z.ZodType> }).shape;
  const types = TYPES[kind] as Record<string, ColumnType>;
  cols = Object.entries(shape).map(([name, field]) => {
    const type = types[name];
    if (type === undefined) throw new Error(`no export type for ${kind}.${name}`);
    return { name, type, nullable: field instanceof z.ZodOptional };
  });
  cache.set(kind, cols);
  return cols;
}
