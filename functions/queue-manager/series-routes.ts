/**
 * Read API over stored data (issue 5, item 5), served by the queue-manager on its port:
 *   GET /series                                        one entry per stored series
 *   GET /series/{market}/{symbol}/{dataset}            count, first, last, covered, gaps
 *   GET /series/{market}/{symbol}/{dataset}/records    a page of records in time order
 * Times are epoch ms as the exchange gives them; decimal strings are returned untouched.
 * Paging is keyset-based on (time, key), so pages neither skip nor repeat while data is added.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { Market, Symbol } from '../../shared/contracts/common.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import {
  Dataset,
  RECORD_KINDS,
  datasetKind,
  parseSeriesKey,
  seriesKey,
} from '../../shared/contracts/records.ts';
import { AppError, DependencyError, InvalidInputError, NotFoundError } from '../../shared/runtime/errors.ts';
import { readCoverage } from '../../shared/store/coverage.ts';
import type { Store } from '../../shared/store/store.ts';

const MAX_LIMIT = 5000;

// Shared schemas are built before @hono/zod-openapi extends zod, so they carry no `.openapi()`;
// the path parameters are documented from the object keys.
const SeriesParams = z.object({ market: Market, symbol: Symbol, dataset: Dataset });

const ISO_DATE = z.iso.date();
const ISO_DATETIME = z.iso.datetime({ offset: true });

/** `from`/`to`: epoch milliseconds, or ISO-8601 (a date is UTC midnight; a date-time needs a zone). */
const TimeParam = z
  .string()
  .transform((s, ctx) => {
    const ms = /^\d{1,16}$/.test(s)
      ? Number(s)
      : ISO_DATE.safeParse(s).success || ISO_DATETIME.safeParse(s).success
        ? Date.parse(s)
        : Number.NaN;
    if (Number.isSafeInteger(ms) && ms >= 0) return ms;
    ctx.addIssue({
      code: 'custom',
      message:
        'expected epoch milliseconds or ISO-8601 (e.g. 1704067200000, 2024-01-01, 2024-01-01T00:00:00Z)',
    });
    return z.NEVER;
  })
  .openapi({ type: 'string', example: '2024-01-01T00:00:00Z' });

const Cursor = z.object({ time: z.number().int(), key: z.string().min(1) });
type Cursor = z.infer<typeof Cursor>;

export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

const CursorParam = z
  .string()
  .transform((s, ctx) => {
    try {
      const parsed = Cursor.safeParse(JSON.parse(Buffer.from(s, 'base64url').toString('utf8')));
      if (parsed.success) return parsed.data;
    } catch {
      // fall through to the issue below
    }
    ctx.addIssue({ code: 'custom', message: 'not a cursor returned by this API (next_cursor)' });
    return z.NEVER;
  })
  .openapi({ type: 'string', description: 'next_cursor of the previous page' });

const RecordsQuery = z
  .object({
    from: TimeParam.optional(),
    to: TimeParam.optional(),
    limit: z.coerce
      .number()
      .int()
      .min(1)
      .max(MAX_LIMIT)
      .default(500)
      .openapi({ type: 'integer', minimum: 1, maximum: MAX_LIMIT, default: 500 }),
    cursor: CursorParam.optional(),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.to > q.from, {
    message: '`to` must be after `from`',
    path: ['to'],
  });

const RangeOut = z.object({ from: z.number().int(), to: z.number().int() });
const SeriesSummary = z
  .object({
    market: z.string(),
    symbol: z.string(),
    dataset: z.string(),
    count: z.number().int(),
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
  .object({ items: z.array(z.record(z.string(), z.unknown())), next_cursor: z.string().nullable() })
  .openapi('RecordsPage');

const ErrorBody = z.object({ error: z.string(), issues: z.array(z.unknown()).optional() }).openapi('Error');
const errors = {
  400: {
    description: 'Invalid parameters (zod issues)',
    content: { 'application/json': { schema: ErrorBody } },
  },
  404: { description: 'Unknown series', content: { 'application/json': { schema: ErrorBody } } },
  503: { description: 'Store unavailable', content: { 'application/json': { schema: ErrorBody } } },
};
const json = <S extends z.ZodType>(schema: S, description: string) => ({
  200: { description, content: { 'application/json': { schema } } },
  ...errors,
});

const listRoute = createRoute({
  method: 'get',
  path: '/series',
  tags: ['series'],
  summary: 'Every stored series with its record count and time span',
  responses: json(z.object({ items: z.array(SeriesSummary) }), 'Stored series'),
});
const detailRoute = createRoute({
  method: 'get',
  path: '/series/{market}/{symbol}/{dataset}',
  tags: ['series'],
  summary: 'One series: count, time span, coverage ledger (stored ranges and exchange gaps)',
  request: { params: SeriesParams },
  responses: json(SeriesDetail, 'The series'),
});
const recordsRoute = createRoute({
  method: 'get',
  path: '/series/{market}/{symbol}/{dataset}/records',
  tags: ['series'],
  summary: 'Records of a series in time order, paged with an opaque cursor',
  request: { params: SeriesParams, query: RecordsQuery },
  responses: json(RecordsPage, 'A page of records'),
});

/** Store failures are a dependency being down (503), not a bug in the request. */
async function fromStore<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    if (err instanceof AppError) throw err;
    throw new DependencyError('store unavailable', err);
  }
}

/** Invalid parameters answer 400 with the zod issues (the app's error handler maps the error). */
function rejectInvalid(
  result: { success: true } | { success: false; error: z.ZodError; target: string },
): undefined {
  if (!result.success) throw InvalidInputError.fromZod(`invalid request ${result.target}`, result.error);
  return undefined;
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
      const rows = await fromStore(
        store.rangeQuery(collection, { series, from: q.from, to: q.to, limit: q.limit + 1, after: q.cursor }),
      );
      if (rows.length === 0 && q.cursor === undefined) {
        const { stats: s } = await stats(params);
        if (s === undefined || s.count === 0) throw new NotFoundError(`no stored series ${series}`);
      }
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      const next =
        rows.length > q.limit && last !== undefined ? encodeCursor({ time: last.time, key: last.key }) : null;
      return c.json({ items: page.map((r) => r.doc), next_cursor: next }, 200);
    },
    rejectInvalid,
  );
}
