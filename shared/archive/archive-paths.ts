/**
 * Where data.binance.vision keeps a file, and what it covers (binance.md §5):
 * `data/<market>/<period>/<type>/<SYMBOL>/[<interval>/]<SYMBOL>-<interval|type>-<date>.zip`,
 * market `spot` or `futures/um` (USD-M), period `daily` (date `YYYY-MM-DD`) or `monthly`
 * (`YYYY-MM`). Klines sit in an interval folder and carry the interval in the name, with `1mo`
 * for `1M`; trades and aggTrades have no interval folder and carry their type in the name.
 * Daily files exist for `1s`…`1d` only; `3d`, `1w`, `1M` are monthly only; `1s` is spot only.
 */
import { KlineInterval, Symbol, type Market } from '../contracts/common.ts';
import type { Dataset } from '../contracts/records.ts';
import { InvalidInputError } from '../runtime/errors.ts';
import type { ArchiveKind } from './csv-rows.ts';

/** Datasets the archive has files of. */
export type ArchiveDataset = `klines_${KlineInterval}` | 'trades' | 'agg_trades';
export type ArchivePeriod = 'daily' | 'monthly';

/** One file of the archive. */
export interface ArchiveFile {
  market: Market;
  dataset: ArchiveDataset;
  symbol: string;
  period: ArchivePeriod;
  /** `YYYY-MM-DD` for a daily file, `YYYY-MM` for a monthly one (UTC). */
  date: string;
}

const MONTHLY_ONLY: ReadonlySet<KlineInterval> = new Set(['3d', '1w', '1M']);
const DAY = 86_400_000;

export function isArchiveDataset(dataset: Dataset): dataset is ArchiveDataset {
  return dataset.startsWith('klines_') || dataset === 'trades' || dataset === 'agg_trades';
}

/** The record kind of a dataset's rows. */
export function archiveKind(dataset: ArchiveDataset): ArchiveKind {
  return dataset === 'trades' ? 'trade' : dataset === 'agg_trades' ? 'agg_trade' : 'kline';
}

function interval(dataset: ArchiveDataset): KlineInterval | undefined {
  return dataset.startsWith('klines_') ? KlineInterval.parse(dataset.slice('klines_'.length)) : undefined;
}

/** The periods the archive has files of for this market and dataset (none: `1s` on USD-M). */
export function archivePeriods(market: Market, dataset: ArchiveDataset): readonly ArchivePeriod[] {
  const iv = interval(dataset);
  if (iv === '1s' && market !== 'spot') return [];
  return iv !== undefined && MONTHLY_ONLY.has(iv) ? ['monthly'] : ['daily', 'monthly'];
}

/** Whether the archive has daily files of this dataset (klines `1s`…`1d`, trades, aggTrades). */
export function hasDailyFiles(dataset: ArchiveDataset): boolean {
  const iv = interval(dataset);
  return iv === undefined || !MONTHLY_ONLY.has(iv);
}

/** UTC [start, end) in epoch ms of a `YYYY-MM-DD` day or a `YYYY-MM` month; throws on any other date. */
function span(period: ArchivePeriod, date: string): { start: number; end: number } {
  const m = (period === 'daily' ? /^(\d{4})-(\d{2})-(\d{2})$/ : /^(\d{4})-(\d{2})$/).exec(date);
  const [y, mo, d] = m ? [Number(m[1]), Number(m[2]), period === 'daily' ? Number(m[3]) : 1] : [0, 0, 0];
  const start = Date.UTC(y, mo - 1, d);
  const t = new Date(start);
  if (!m || y < 1970 || t.getUTCFullYear() !== y || t.getUTCMonth() !== mo - 1 || t.getUTCDate() !== d)
    throw new InvalidInputError(
      `archive ${period} file date must be ${period === 'daily' ? 'YYYY-MM-DD' : 'YYYY-MM'}, got ${JSON.stringify(date)}`,
    );
  return { start, end: period === 'daily' ? start + DAY : Date.UTC(y, mo, 1) };
}

function check(f: ArchiveFile): void {
  if (!Symbol.safeParse(f.symbol).success)
    throw new InvalidInputError(`symbol must match [A-Z0-9]{2,20}, got ${JSON.stringify(f.symbol)}`);
  if (!archivePeriods(f.market, f.dataset).includes(f.period))
    throw new InvalidInputError(`the archive has no ${f.period} ${f.market} ${f.dataset} files`);
  span(f.period, f.date);
}

/** The part of the name after the symbol: the interval (`1mo` for `1M`) or the type. */
function tag(dataset: ArchiveDataset): string {
  const iv = interval(dataset);
  if (iv !== undefined) return iv === '1M' ? '1mo' : iv;
  return dataset === 'trades' ? 'trades' : 'aggTrades';
}

/** `BTCUSDT-1h-2023-10.zip`, `BTCUSDT-aggTrades-2024-01-01.zip`. */
export function archiveFileName(f: ArchiveFile): string {
  check(f);
  return `${f.symbol}-${tag(f.dataset)}-${f.date}.zip`;
}

/** `data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2023-10.zip`, relative to the archive's base URL. */
export function archivePath(f: ArchiveFile): string {
  const name = archiveFileName(f);
  const market = f.market === 'spot' ? 'spot' : 'futures/um';
  const iv = interval(f.dataset);
  const folder = iv !== undefined ? `klines/${f.symbol}/${tag(f.dataset)}` : `${tag(f.dataset)}/${f.symbol}`;
  return `data/${market}/${f.period}/${folder}/${name}`;
}

/** The path of the file's `.CHECKSUM`. */
export function checksumPath(f: ArchiveFile): string {
  return `${archivePath(f)}.CHECKSUM`;
}

/** The name of the CSV inside the zip: the zip's own base name. */
export function csvEntryName(f: ArchiveFile): string {
  return archiveFileName(f).replace(/\.zip$/, '.csv');
}

/**
 * UTC [start, end) in epoch ms of the records a file holds: the times (kline open times, trade
 * times) of its day or month.
 */
export function archiveRange(f: ArchiveFile): { start: number; end: number } {
  check(f);
  return span(f.period, f.date);
}

/** The file of `period` holding time `t` (epoch ms). */
export function archiveFileAt(at: Omit<ArchiveFile, 'date'>, t: number): ArchiveFile {
  const iso = new Date(t).toISOString();
  const f: ArchiveFile = { ...at, date: at.period === 'daily' ? iso.slice(0, 10) : iso.slice(0, 7) };
  check(f);
  return f;
}
