/**
 * A whole stored range as a file, produced page by page: the store is read with keyset paging
 * (`rangeQuery` after the last record of the previous page), each page is encoded and its bytes
 * yielded before the next page is read. A consumer that stops pulling (a slow client: the HTTP
 * server waits for `drain`) stops the reading, so memory holds about one page and, for Parquet,
 * one row group, whatever the range's size.
 */
import { datasetKind, seriesKey, type SeriesId } from '../contracts/records.ts';
import { canonicalCollection } from '../contracts/events.ts';
import type { Store } from '../store/store.ts';
import { exportColumns } from './columns.ts';
import { csvHeader, csvRows } from './csv.ts';
import { parquetEncoder } from './parquet.ts';

export const EXPORT_FORMATS = ['csv', 'parquet'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
};

/** Records read from the store per query. */
export const EXPORT_PAGE_ROWS = 5000;

export interface ExportRequest {
  series: SeriesId;
  format: ExportFormat;
  /** Inclusive start, epoch ms. */
  from?: number | undefined;
  /** Exclusive end, epoch ms. */
  to?: number | undefined;
  /** Default EXPORT_PAGE_ROWS. */
  pageRows?: number;
  /** Parquet rows per row group (default parquet.ts PARQUET_ROW_GROUP_ROWS). */
  rowGroupRows?: number;
}

/** `spot-BTCUSDT-klines_1m-20240801T000000Z-20240802T000000Z.parquet` (the bounds when given). */
export function exportFilename(r: Pick<ExportRequest, 'series' | 'format' | 'from' | 'to'>): string {
  const t = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, '');
  const parts = [r.series.market, r.series.symbol, r.series.dataset];
  if (r.from !== undefined || r.to !== undefined) {
    parts.push(r.from === undefined ? 'start' : t(r.from), r.to === undefined ? 'end' : t(r.to));
  }
  return `${parts.join('-')}.${r.format}`;
}

/**
 * The file's bytes, in order. Pages the store lazily: nothing is read before the first pull, and
 * each pull reads at most one page. Store errors are thrown from the pull that met them.
 */
export async function* exportBytes(
  store: Store,
  r: ExportRequest,
): AsyncGenerator<Uint8Array, void, undefined> {
  const kind = datasetKind(r.series.dataset);
  const collection = canonicalCollection(kind);
  const columns = exportColumns(kind);
  const pageRows = r.pageRows ?? EXPORT_PAGE_ROWS;
  const series = seriesKey(r.series);
  const parquet =
    r.format === 'parquet'
      ? parquetEncoder(columns, {
          ...(r.rowGroupRows === undefined ? {} : { rowGroupRows: r.rowGroupRows }),
          metadata: {
            'streamforge.series': series,
            'streamforge.decimals': 'exact decimal strings (docs/export.md)',
            ...(r.from === undefined ? {} : { 'streamforge.from': String(r.from) }),
            ...(r.to === undefined ? {} : { 'streamforge.to': String(r.to) }),
          },
        })
      : undefined;
  if (!parquet) yield csvHeader(columns);
  let after: { time: number; key: string } | undefined;
  for (;;) {
    const rows = await store.rangeQuery(collection, {
      series,
      from: r.from,
      to: r.to,
      limit: pageRows,
      ...(after ? { after } : {}),
    });
    const docs = rows.map((x) => x.doc);
    if (parquet) {
      for (const chunk of parquet.write(docs)) yield chunk;
    } else if (docs.length > 0) {
      yield csvRows(columns, docs);
    }
    const last = rows[rows.length - 1];
    if (rows.length < pageRows || last === undefined) break;
    after = { time: last.time, key: last.key };
  }
  if (parquet) for (const chunk of parquet.end()) yield chunk;
}
