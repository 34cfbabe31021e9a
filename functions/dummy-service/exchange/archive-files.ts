/**
 * The files of the simulated data.binance.vision (binance.md §5): which path names which file,
 * when it is published, and its CSV, produced in chunks from the same rows the REST endpoints
 * return (market-data.ts), so archive and REST agree record for record.
 */
import {
  klineNextOpenTime,
  klineOpenTime,
  KLINE_INTERVALS,
  type KlineInterval,
  type Market,
} from '../../../shared/contracts/common.ts';
import type { ArchiveConfig } from './archive-config.ts';
import type { KlineRow, MarketData } from './market-data.ts';

export type ArchiveType = 'klines' | 'trades' | 'aggTrades';
export type ArchivePeriod = 'daily' | 'monthly';

export interface ArchiveFile {
  /** Object key, e.g. `data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01-01.zip`. */
  key: string;
  /** `BTCUSDT-1m-2024-01-01.zip`; the CSV inside is the same name ending in `.csv`. */
  name: string;
  market: Market;
  period: ArchivePeriod;
  type: ArchiveType;
  symbol: string;
  interval?: KlineInterval;
  /** `2024-01-01` (daily) or `2024-01` (monthly). */
  date: string;
  /** The day or month, [from, to) in ms. */
  from: number;
  to: number;
  /** The exchange clock the rows are taken at: every record of the file is final by then. */
  asOf: number;
  /** When the file appears: the next day 00:00 UTC, or the first Monday of the next month. */
  publishedAt: number;
  /** Spot files from 2025-01-01 carry µs timestamps. */
  micros: boolean;
  /** USD-M files from the configured dates start with a header row. */
  header: boolean;
}

const DAY_MS = 86_400_000;
/** binance.md §5: spot timestamps are µs from this day on. */
export const SPOT_MICROS_FROM = Date.UTC(2025, 0, 1);
/** Intervals with daily files; monthly files also exist for 3d, 1w and 1M (folder `1mo`). */
const DAILY_INTERVALS: readonly KlineInterval[] = KLINE_INTERVALS.filter(
  (i) => i !== '3d' && i !== '1w' && i !== '1M',
);
const MONTHLY_INTERVALS: readonly KlineInterval[] = [...DAILY_INTERVALS, '3d', '1w', '1M'];
const folderOf = (i: KlineInterval): string => (i === '1M' ? '1mo' : i);

const HEADERS: Record<ArchiveType, string> = {
  klines:
    'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n',
  trades: 'id,price,qty,quote_qty,time,is_buyer_maker\n',
  aggTrades: 'agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n',
};

const PATH =
  /^data\/(spot|futures\/um)\/(daily|monthly)\/(klines|trades|aggTrades)\/([A-Z0-9]{2,20})\/(?:([0-9a-z]{2,3})\/)?([A-Za-z0-9-]+\.zip)$/;

/** [from, to) of `2024-01-01` (daily) or `2024-01` (monthly), or undefined if not a real date. */
function periodOf(period: ArchivePeriod, date: string): [number, number] | undefined {
  const m = (period === 'daily' ? /^(\d{4})-(\d{2})-(\d{2})$/ : /^(\d{4})-(\d{2})$/).exec(date);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]) - 1, period === 'daily' ? Number(m[3]) : 1];
  const from = Date.UTC(y, mo, d);
  const check = new Date(from);
  if (y < 1980 || check.getUTCMonth() !== mo || check.getUTCDate() !== d) return undefined;
  return [from, period === 'daily' ? from + DAY_MS : Date.UTC(y, mo + 1, 1)];
}

/** 00:00 UTC of the first Monday at or after t (t is a month start). */
function firstMonday(t: number): number {
  return t + ((8 - new Date(t).getUTCDay()) % 7) * DAY_MS;
}

/**
 * The file an object key names (without `.CHECKSUM`), or undefined when the archive could not
 * have such a key: wrong name for its folder, an interval the period or market lacks, no date.
 * Whether the file exists yet (listing, publication, faults) is the caller's question.
 */
export function describeFile(key: string, cfg: ArchiveConfig): ArchiveFile | undefined {
  const m = PATH.exec(key);
  if (!m) return undefined;
  const market: Market = m[1] === 'spot' ? 'spot' : 'usdm';
  const period = m[2] as ArchivePeriod;
  const type = m[3] as ArchiveType;
  const symbol = m[4]!;
  const folder = m[5];
  const name = m[6]!;
  let interval: KlineInterval | undefined;
  if (type === 'klines') {
    const allowed = period === 'daily' ? DAILY_INTERVALS : MONTHLY_INTERVALS;
    interval = allowed.find((i) => folderOf(i) === folder);
    if (!interval || (interval === '1s' && market !== 'spot')) return undefined;
  } else if (folder !== undefined) return undefined;
  const prefix = `${symbol}-${type === 'klines' ? folderOf(interval!) : type}-`;
  if (!name.startsWith(prefix)) return undefined;
  const date = name.slice(prefix.length, -'.zip'.length);
  const range = periodOf(period, date);
  if (!range) return undefined;
  const [from, to] = range;
  // Klines: up to the close of the last candle opening in the period (3d and 1w cross month ends).
  const asOf = interval ? klineNextOpenTime(interval, klineOpenTime(interval, to - 1)) - 1 : to - 1;
  const published = period === 'daily' ? to : firstMonday(to);
  return {
    key,
    name,
    market,
    period,
    type,
    symbol,
    ...(interval ? { interval } : {}),
    date,
    from,
    to,
    asOf,
    publishedAt: Math.max(published, asOf + 1),
    micros: market === 'spot' && from >= SPOT_MICROS_FROM,
    header: market === 'usdm' && from >= Date.parse(`${cfg.headerFrom[type]}T00:00:00Z`),
  };
}

/** Records per call into market-data: bounds memory whatever the file's size. */
const CHUNK_ROWS = 4096;

const klineLine = (r: KlineRow, us: boolean): string =>
  `${us ? `${r[0]}000` : r[0]},${r[1]},${r[2]},${r[3]},${r[4]},${r[5]},${us ? `${r[6]}999` : r[6]},${r[7]},${r[8]},${r[9]},${r[10]},${r[11]}\n`;

/**
 * The file's CSV in chunks of at most CHUNK_ROWS records: the REST rows of its period, paged
 * like a client would page them. Klines by open time; trades and aggTrades by time for the first
 * page, then by id (many records can share a millisecond).
 */
export function* csvChunks(data: MarketData, f: ArchiveFile): Generator<string> {
  if (f.header) yield HEADERS[f.type];
  const us = f.micros;
  const bool = f.market === 'spot' ? (b: boolean) => (b ? 'True' : 'False') : (b: boolean) => String(b);
  const end = f.to - 1;
  if (f.type === 'klines') {
    let startTime = f.from;
    for (;;) {
      const rows = data.klines(
        f.market,
        f.symbol,
        f.interval!,
        { startTime, endTime: end, limit: CHUNK_ROWS },
        f.asOf,
      );
      if (rows.length > 0) yield rows.map((r) => klineLine(r, us)).join('');
      if (rows.length < CHUNK_ROWS) return;
      startTime = rows[rows.length - 1]![0] + 1;
    }
  }
  const first = { startTime: f.from, endTime: end, limit: CHUNK_ROWS };
  const time = (t: number) => (us ? `${t}000` : String(t));
  if (f.type === 'trades') {
    const spot = f.market === 'spot';
    let rows = data.trades(f.market, f.symbol, first, f.asOf);
    while (rows.length > 0) {
      yield rows
        .map(
          (t) =>
            `${t.id},${t.price},${t.qty},${t.quoteQty},${time(t.time)},${bool(t.isBuyerMaker)}${spot ? `,${bool(t.isBestMatch)}` : ''}\n`,
        )
        .join('');
      if (rows.length < CHUNK_ROWS) return;
      rows = data.trades(
        f.market,
        f.symbol,
        { fromId: rows[rows.length - 1]!.id + 1, limit: CHUNK_ROWS },
        f.asOf,
      );
    }
    return;
  }
  let rows = data.aggTrades(f.market, f.symbol, first, f.asOf);
  while (rows.length > 0) {
    yield rows
      .map(
        (a) =>
          `${a.a},${a.p},${a.q},${a.f},${a.l},${time(a.T)},${bool(a.m)}${'M' in a ? `,${bool(a.M)}` : ''}\n`,
      )
      .join('');
    if (rows.length < CHUNK_ROWS) return;
    rows = data.aggTrades(
      f.market,
      f.symbol,
      { fromId: rows[rows.length - 1]!.a + 1, limit: CHUNK_ROWS },
      f.asOf,
    );
  }
}
