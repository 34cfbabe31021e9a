/**
 * Read API over stored data (issue 5, item 5), served by the queue-manager on its port:
 *   GET /series                                        one entry per stored series
 *   GET /series/{market}/{symbol}/{dataset}            count, first, last, covered, gaps
 *   GET /series/{market}/{symbol}/{dataset}/records    a page of records in time order
 *   GET /series/{market}/{symbol}/{dataset}/export     the whole range as CSV or Parquet, streamed
 * Times are epoch ms as the exchange gives them; decimal strings are returned untouched.
 * Paging is keyset-based on (time, key), so pages neither skip nor repeat while data is added.
 */
import { ISO_DATE, ISO_TIME } from '../../shared/contracts/time-text.ts';
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { Market, Symbol } from '../../shared/contracts/common.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { rowIdentifier } from '../../shared/contracts/rows.ts';
import {
  Dataset,
  RECORD_KINDS,
  datasetKind,
  parseSeriesKey,
  seriesKey,
} from '../../shared/contracts/records.ts';
import { NotFoundError } from '../../shared/runtime/errors.ts';
import { readCoverage } from '../../shared/store/coverage.ts';
import { CONTENT_TYPES, EXPORT_FORMATS, exportBytes, exportFilename } from '../../shared/export/stream.ts';
import type { Store } from '../../shared/store/store.ts';
import { common, error, fromStore, ok, rejectInvalid } from './route-kit.ts';

const MAX_LIMIT = 5000;

// Shared schemas are built before @hono/zod-openapi extends zod, so they carry no `.openapi()`;
// `.meta()` returns a fresh instance, and the path parameters are documented from the object keys.
export const SeriesParams = z.object({
  market: Market.meta({ description: 'Exchange market', example: 'spot' }),
  symbol: Symbol.meta({ description: 'Binance symbol (`[A-Z0-9]{2,20}`)', example: 'BTCUSDT' }),
  dataset: Dataset.meta({
    description: '`klines_<interval>`, `trades`, `agg_trades`, `funding`, `depth` or `book_ticker`',
    example: 'klines_1m',
  }),
});

/**
 * `from`/`to` as the spec states them: epoch milliseconds (up to 15 digits), or an ISO-8601 date
 * (UTC midnight) or date-time. Every string it matches is an instant Date.parse reads, so the
 * pattern is the whole rule for one value.
 */
const TIME_PATTERN = new RegExp(`^(?:[0-9]{1,15}|${ISO_DATE}(?:${ISO_TIME})?)$`);

export const timeParam = (description: string, example: string) =>
  z
    .string()
    .regex(
      TIME_PATTERN,
      'expected epoch milliseconds or ISO-8601 (e.g. 1704067200000, 2024-01-01, 2024-01-01T00:00:00Z)',
    )
    .transform((s) => (/^[0-9]+$/.test(s) ? Number(s) : Date.parse(s)))
    .openapi({ type: 'string', pattern: TIME_PATTERN.source, description, example });

/**
 * Paging cursor: `<time>_<id>` of the last record of the previous page (its time and the id its
 * natural key ends in). Any string of this form is a position in the series' (time, key) order,
 * so the pattern is the whole rule; clients should pass back `next_cursor` as it is.
 */
const CURSOR_PATTERN = /^(-?[0-9]{1,15})_(-?[0-9]{1,15})$/;
interface Cursor {
  time: number;
  id: number;
}

/** The cursor after a record; an internal error for a record whose time or key it cannot hold. */
export function encodeCursor(record: { time: number; key: string }): string {
  const id = record.key.slice(record.key.lastIndexOf(':') + 1);
  const cursor = `${record.time}_${id}`;
  if (!CURSOR_PATTERN.test(cursor)) throw new Error(`record ${record.key} cannot be a cursor position`);
  return cursor;
}

const CursorParam = z
  .string()
  .regex(CURSOR_PATTERN, 'not a cursor returned by this API (next_cursor, e.g. 1704067200000_1704067200000)')
  .transform((s): Cursor => {
    const [, time, id] = CURSOR_PATTERN.exec(s) ?? [];
    return { time: Number(time), id: Number(id) };
  })
  .openapi({
    type: 'string',
    pattern: CURSOR_PATTERN.source,
    description: '`next_cursor` of the previous page (`<time>_<id>` of its last record)',
    example: '1704067200000_1704067200000',
  });

const LIMIT_PATTERN = /^[0-9]+$/;
const RecordsQuery = z
  .object({
    from: timeParam('Inclusive start: epoch ms or ISO-8601', '2024-01-01T00:00:00Z').optional(),
    to: timeParam(
      'Exclusive end: epoch ms or ISO-8601. With `from`, it must be after `from` (else 400).',
      '2024-01-02T00:00:00Z',
    ).optional(),
    limit: z
      .string()
      .regex(LIMIT_PATTERN, 'limit must be an integer')
      .transform(Number)
      .pipe(z.number().int().min(1).max(MAX_LIMIT))
      .default(500)
      .openapi({
        type: 'integer',
        minimum: 1,
        maximum: MAX_LIMIT,
        default: 500,
        description: `Page size, 1..${MAX_LIMIT}`,
      }),
    cursor: CursorParam.optional(),
  })
  // The one rule across parameters (OpenAPI cannot state it; the `to` description does).
  .refine((q) => q.from === undefined || q.to === undefined || q.to > q.from, {
    message: '`to` must be after `from`',
    path: ['to'],
  });

const RangeOut = z.object({ from: z.number().int(), to: z.number().int() });
const SeriesSummary = z
  .object({
    market: Market,
    symbol: Symbol,
    dataset: Dataset,
    count: z.number().int().nonnegative(),
    first: z.number().int().nullable(),
    last: z.number().int().nullable(),
  })
  .openapi('SeriesSummary');
const SeriesDetail = SeriesSummary.extend({
  /** Half-open ranges [from, to) whose records are stored. */
  covered: z.array(RangeOut),
  /** Half-open ranges where the exchange has no data. */
  gaps: z.array(RangeOut),
}).openapi('SeriesDetail');
const RecordsPage = z
  .object({
    items: z.array(z.record(z.string(), z.unknown())),
    next_cursor: z.string().regex(CURSOR_PATTERN).nullable(),
  })
  .openapi('RecordsPage');

const listRoute = createRoute({
  method: 'get',
  path: '/series',
  tags: ['series'],
  summary: 'Every stored series with its record count and time span',
  responses: { ...ok(z.object({ items: z.array(SeriesSummary) }), 'Stored series'), ...common },
});
const detailRoute = createRoute({
  method: 'get',
  path: '/series/{market}/{symbol}/{dataset}',
  tags: ['series'],
  summary: 'One series: count, time span, coverage ledger (stored ranges and exchange gaps)',
  request: { params: SeriesParams },
  responses: {
    ...ok(SeriesDetail, 'The series'),
    400: error('Invalid path parameters (zod issues)'),
    404: error('No stored series (no records and no coverage)'),
    ...common,
  },
});
const recordsRoute = createRoute({
  method: 'get',
  path: '/series/{market}/{symbol}/{dataset}/records',
  tags: ['series'],
  summary: 'Records of a series in time order, paged by cursor',
  description:
    'Records with `from <= time < to` in (time, key) order, at most `limit` of them; `next_cursor` is null on ' +
    'the last page. `to` must be after `from` when both are given.',
  request: { params: SeriesParams, query: RecordsQuery },
  responses: {
    ...ok(RecordsPage, 'A page of records'),
    400: error('Invalid parameters (zod issues), including `to` not after `from`'),
    404: error('No stored series (asked without a cursor)'),
    ...common,
  },
});

const ExportQuery = z
  .object({
    format: z.enum(EXPORT_FORMATS).openapi({
      description: 'File format: `csv` (RFC 4180, header row) or `parquet` (docs/export.md)',
      example: 'csv',
    }),
    from: timeParam('Inclusive start: epoch ms or ISO-8601', '2024-01-01T00:00:00Z').optional(),
    to: timeParam(
      'Exclusive end: epoch ms or ISO-8601. With `from`, it must be after `from` (else 400).',
      '2024-01-02T00:00:00Z',
    ).optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.to > q.from, {
    message: '`to` must be after `from`',
    path: ['to'],
  });

const exportRoute = createRoute({
  method: 'get',
  path: '/series/{market}/{symbol}/{dataset}/export',
  tags: ['series'],
  summary: 'The records of a series in a range as one CSV or Parquet file, streamed',
  description:
    'Every record with `from <= time < to` in (time, key) order, read from the store page by page and ' +
    'streamed as it is encoded (the whole range is never held in memory). A range without records is a ' +
    'file with the columns and no rows. Columns, types and the decimal encoding: docs/export.md.',
  request: { params: SeriesParams, query: ExportQuery },
  responses: {
    200: {
      description: 'The file (`Content-Disposition: attachment` with a file name)',
      headers: z.object({
        'Content-Disposition': z.string().openapi({
          description: 'attachment; filename="<market>-<symbol>-<dataset>[-<from>-<to>].<format>"',
        }),
      }),
      content: {
        'text/csv': { schema: z.string().openapi({ description: 'RFC 4180 CSV, UTF-8, CRLF' }) },
        'application/vnd.apache.parquet': { schema: z.string().openapi({ format: 'binary' }) },
      },
    },
    400: error('Invalid parameters (zod issues): an unknown `format`, `to` not after `from`'),
    404: error('No stored series (no records and no coverage)'),
    ...common,
  },
});

/** An async iterator as a byte stream that reads it only when the consumer asks (backpressure). */
function pullStream(it: AsyncGenerator<Uint8Array, void, undefined>): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const { value, done } = await it.next();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          // The status line is gone: the transfer is cut, so the client sees an incomplete file.
          controller.error(err);
        }
      },
      async cancel() {
        await it.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}

/** Adds the read API to an app (the queue-manager's). */
export function registerSeriesRoutes(app: OpenAPIHono, deps: { store: Store }): void {
  const { store } = deps;
  const ready = new Map<string, Promise<void>>();
  /** Reads must not fail on a kind nothing has been stored for yet. */
  function ensure(collection: string): Promise<void> {
    let p = ready.get(collection);
    if (p === undefined) {
      p = fromStore(store.ensureCollection(collection, 'series'));
      ready.set(collection, p);
      p.catch(() => ready.delete(collection));
    }
    return p;
  }

  async function stats(params: z.infer<typeof SeriesParams>) {
    const collection = canonicalCollection(datasetKind(params.dataset));
    await ensure(collection);
    const series = seriesKey(params);
    const [s] = await fromStore(store.seriesStats(collection, series));
    return { collection, series, stats: s };
  }

  app.openapi(listRoute, async (c) => {
    const collections = RECORD_KINDS.map((k) => canonicalCollection(k));
    await Promise.all(collections.map((col) => ensure(col)));
    const all = await Promise.all(collections.map((col) => fromStore(store.seriesStats(col))));
    const items = all
      .flat()
      .filter((s) => s.count > 0)
      .map((s) => ({ ...parseSeriesKey(s.series), count: s.count, first: s.first, last: s.last }))
      .sort((a, b) =>
        `${a.market}:${a.symbol}:${a.dataset}`.localeCompare(`${b.market}:${b.symbol}:${b.dataset}`),
      );
    return c.json({ items }, 200);
  });

  app.openapi(
    detailRoute,
    async (c) => {
      const params = c.req.valid('param');
      const { collection, series, stats: s } = await stats(params);
      const cov = await fromStore(readCoverage(store, collection, series));
      if ((s === undefined || s.count === 0) && cov.covered.length === 0 && cov.gaps.length === 0) {
        throw new NotFoundError(`no stored series ${series}`);
      }
      return c.json(
        {
          ...params,
          count: s?.count ?? 0,
          first: s?.first ?? null,
          last: s?.last ?? null,
          covered: cov.covered,
          gaps: cov.gaps,
        },
        200,
      );
    },
    rejectInvalid,
  );

  app.openapi(
    recordsRoute,
    async (c) => {
      const params = c.req.valid('param');
      const q = c.req.valid('query');
      const collection = canonicalCollection(datasetKind(params.dataset));
      await ensure(collection);
      const series = seriesKey(params);
      // One extra row says whether another page exists, so the last page has no cursor.
      const after =
        q.cursor === undefined
          ? undefined
          : {
              time: q.cursor.time,
              key: `${rowIdentifier(datasetKind(params.dataset), params).prefix}${q.cursor.id}`,
            };
      const rows = await fromStore(
        store.rangeQuery(collection, { series, from: q.from, to: q.to, limit: q.limit + 1, after }),
      );
      if (rows.length === 0 && q.cursor === undefined) {
        const { stats: s } = await stats(params);
        if (s === undefined || s.count === 0) throw new NotFoundError(`no stored series ${series}`);
      }
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      const next = rows.length > q.limit && last !== undefined ? encodeCursor(last) : null;
      return c.json({ items: page.map((r) => r.doc), next_cursor: next }, 200);
    },
    rejectInvalid,
  );

  app.openapi(
    exportRoute,
    async (c) => {
      const params = c.req.valid('param');
      const q = c.req.valid('query');
      // The 404 (and a store that is down: 503) is answered before the first byte of the file.
      const { collection, series, stats: s } = await stats(params);
      if (s === undefined || s.count === 0) {
        const cov = await fromStore(readCoverage(store, collection, series));
        if (cov.covered.length === 0 && cov.gaps.length === 0)
          throw new NotFoundError(`no stored series ${series}`);
      }
      const request = { series: params, format: q.format, from: q.from, to: q.to };
      const body = pullStream(exportBytes(store, request));
      return c.body(body, 200, {
        'Content-Type': CONTENT_TYPES[q.format],
        'Content-Disposition': `attachment; filename="${exportFilename(request)}"`,
        'Cache-Control': 'no-store',
      });
    },
    rejectInvalid,
  );
}
