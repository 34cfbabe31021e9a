/**
 * Compact rows: how data batches carry records (issue 10 "Compact data batches"). A batch names
 * its series once (market, symbol, dataset); each record travels as a row, the values of its
 * kind's columns in a fixed order. For klines that order is the exchange's own 12-field row
 * (binance.md §2), so a REST page is already in wire form. An optional field is `null` in a row
 * when absent.
 *
 * The record schemas (records.ts) stay the source of truth: each row schema is derived from its
 * record schema's fields, and `recordFromRow` / `rowFromRecord` convert between the two without
 * loss. The stores keep rows in typed columns (SQLite) or as one document per record (ArangoDB).
 */
import { z } from 'zod';
import { compileTupleCheck } from './fast-parse.ts';
import { KlineInterval } from './common.ts';
import { RECORD_SCHEMAS, datasetKind, type RecordKind, type RecordOfKind, type SeriesId } from './records.ts';

/** Per kind: the record fields a row carries, in row order. The first is the natural id. */
export const ROW_COLUMNS = {
  kline: [
    'open_time',
    'open',
    'high',
    'low',
    'close',
    'volume',
    'close_time',
    'quote_volume',
    'trades',
    'taker_buy_base',
    'taker_buy_quote',
    'ignore',
  ],
  trade: ['id', 'price', 'qty', 'quote_qty', 'time', 'is_buyer_maker', 'is_best_match'],
  agg_trade: [
    'agg_id',
    'price',
    'qty',
    'first_trade_id',
    'last_trade_id',
    'time',
    'is_buyer_maker',
    'is_best_match',
  ],
  funding: ['funding_time', 'funding_rate', 'mark_price'],
  book_ticker: ['update_id', 'time', 'bid_price', 'bid_qty', 'ask_price', 'ask_qty'],
  depth: ['final_update_id', 'event_time', 'first_update_id', 'prev_final_update_id', 'bids', 'asks'],
} as const satisfies { [K in RecordKind]: readonly (keyof RecordOfKind[K] & string)[] };

/** Column of the record's time on the series axis. */
export const TIME_COLUMN = {
  kline: 'open_time',
  trade: 'time',
  agg_trade: 'time',
  funding: 'funding_time',
  book_ticker: 'time',
  depth: 'event_time',
} as const satisfies { [K in RecordKind]: (typeof ROW_COLUMNS)[K][number] };

/** Tag between symbol and id in natural keys (`spot:BTCUSDT:t:123`); klines use their interval. */
const KEY_TAG: Record<Exclude<RecordKind, 'kline'>, string> = {
  trade: 't',
  agg_trade: 'a',
  funding: 'f',
  depth: 'd',
  book_ticker: 'b',
};

/** A row as it travels: the column values in ROW_COLUMNS order. */
export type Row = readonly unknown[];

/** What a validated row holds at a column: its record field's type, `null` for an absent optional. */
export type RowValue = string | number | boolean | null | unknown[];

type Shape = Record<string, z.core.$ZodType>;

interface RowSpec {
  columns: readonly string[];
  /** Columns whose record field is optional (null in a row when absent). */
  optional: boolean[];
  schema: z.ZodType<unknown[]>;
  check: (row: unknown) => boolean;
  timeIndex: number;
  /** The record schema's fields in its order, each with its row index (-1: a series field). */
  fields: [string, number][];
}

const specs = new Map<RecordKind, RowSpec>();

/** The row schema and compiled check of a kind, derived once from its record schema. */
export function rowSpec(kind: RecordKind): RowSpec {
  let spec = specs.get(kind);
  if (spec) return spec;
  const shape = (RECORD_SCHEMAS[kind] as unknown as { shape: Shape }).shape;
  const columns: readonly string[] = ROW_COLUMNS[kind];
  const optional: boolean[] = [];
  const elements = columns.map((c) => {
    const field = shape[c] as z.ZodType;
    const isOptional = field instanceof z.ZodOptional;
    optional.push(isOptional);
    return isOptional ? (field.unwrap() as z.ZodType).nullable() : field;
  });
  const schema = z.tuple(elements as [z.ZodType, ...z.ZodType[]]) as unknown as z.ZodType<unknown[]>;
  spec = {
    columns,
    optional,
    schema,
    check: compileTupleCheck(elements) ?? ((row) => schema.safeParse(row).success),
    timeIndex: columns.indexOf(TIME_COLUMN[kind]),
    fields: Object.keys(shape).map((name) => [name, columns.indexOf(name)]),
  };
  specs.set(kind, spec);
  return spec;
}

/**
 * Arrays of rows `checkRows` accepted, so a store handed one does not check every row again
 * (`wasChecked`): one check per row on the sink's path. An array changed after the check is the
 * caller's bug, as with any validated value.
 */
const checkedArrays = new WeakSet<readonly Row[]>();

/** Whether `rows` is the `good` array of a `checkRows` call (of that kind: the caller's to keep). */
export function wasChecked(rows: readonly unknown[]): boolean {
  return checkedArrays.has(rows as readonly Row[]);
}

/**
 * Validates rows of a kind: the index of every row accepted, and zod's issues for every other.
 * The compiled check decides; zod runs only on a rejected row, for its issues.
 */
export function checkRows(
  kind: RecordKind,
  rows: readonly unknown[],
): { good: Row[]; bad: { index: number; row: unknown; issues: z.core.$ZodIssue[] }[] } {
  const { check, schema } = rowSpec(kind);
  const good: Row[] = [];
  const bad: { index: number; row: unknown; issues: z.core.$ZodIssue[] }[] = [];
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (check(row)) good.push(row as Row);
    else {
      const r = schema.safeParse(row);
      // The compiled check may only be stricter than zod (never looser); zod has the last word.
      if (r.success) good.push(row as Row);
      else bad.push({ index: i, row, issues: r.error.issues });
    }
  }
  checkedArrays.add(good);
  return { good, bad };
}

/** The series fields a record of `series` carries besides its row (klines: the interval too). */
function seriesFields(s: SeriesId): Record<string, unknown> {
  const kind = datasetKind(s.dataset);
  if (kind === 'kline')
    return {
      market: s.market,
      symbol: s.symbol,
      interval: KlineInterval.parse(s.dataset.slice('klines_'.length)),
    };
  return { market: s.market, symbol: s.symbol };
}

/** The record a validated row of `series` stands for, fields in the record schema's order. */
export function recordFromRow<K extends RecordKind>(kind: K, series: SeriesId, row: Row): RecordOfKind[K] {
  const { fields, optional } = rowSpec(kind);
  const fromSeries = seriesFields(series);
  const out: Record<string, unknown> = {};
  for (const [name, i] of fields) {
    if (i < 0) out[name] = fromSeries[name];
    else if (!(optional[i] && (row[i] === null || row[i] === undefined))) out[name] = row[i];
  }
  return out as RecordOfKind[K];
}

/** A record's row (optional fields absent → null). Its series is the caller's. */
export function rowFromRecord<K extends RecordKind>(kind: K, record: RecordOfKind[K]): RowValue[] {
  const r = record as unknown as Record<string, RowValue | undefined>;
  return rowSpec(kind).columns.map((c) => r[c] ?? null);
}

/**
 * Natural key and time of the rows of one series, identical to `identify()` of their records
 * (records.ts): `<market>:<symbol>:<tag>:<id>` with the id in column 0.
 */
export function rowIdentifier(
  kind: RecordKind,
  series: SeriesId,
): { prefix: string; key: (row: Row) => string; time: (row: Row) => number } {
  const tag = kind === 'kline' ? series.dataset.slice('klines_'.length) : KEY_TAG[kind];
  const prefix = `${series.market}:${series.symbol}:${tag}:`;
  const t = rowSpec(kind).timeIndex;
  return {
    prefix,
    key: (row) => `${prefix}${row[0] as number}`,
    time: (row) => row[t] as number,
  };
}
