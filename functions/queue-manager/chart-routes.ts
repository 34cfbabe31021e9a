/**
 * Candles for charts (issue 15): GET /series/{market}/{symbol}/{dataset}/candles buckets a kline
 * series in the store (Store.candles: one grouped scan, not 525,600 records through the API) to
 * at most `max` candles. The bucket is the smallest of Binance's fixed intervals, at least the
 * series' own, that fits the range in `max` (then whole weeks). The status page draws these and
 * asks again for a narrower range as the user zooms in (functions/queue-manager/ui/app.js).
 * Numbers, not decimal strings: for drawing only; /records and /export keep the exact values.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import { intervalMs, KLINE_INTERVALS, type KlineInterval } from '../../shared/contracts/common.ts';
import { canonicalCollection } from '../../shared/contracts/events.ts';
import { seriesKey } from '../../shared/contracts/records.ts';
import { InvalidInputError, NotFoundError } from '../../shared/runtime/errors.ts';
import type { Store } from '../../shared/store/store.ts';
import { common, error, fromStore, ok, rejectInvalid } from './route-kit.ts';
import { SeriesParams, timeParam } from './series-routes.ts';

export const MAX_CANDLES = 10_000;
const DEFAULT_CANDLES = 2_000;

type Fixed = Exclude<KlineInterval, '1M'>;
const FIXED: readonly Fixed[] = KLINE_INTERVALS.filter((i): i is Fixed => i !== '1M');
const WEEK = intervalMs('1w');

/** The bucket for [from, to) at most `max` candles, never finer than the series' own interval. */
export function bucketFor(native: number, from: number, to: number, max: number): number {
  const span = Math.max(1, to - from);
  for (const i of FIXED) {
    const ms = intervalMs(i);
    if (ms >= native && Math.ceil(span / ms) <= max) return ms;
  }
  return Math.max(native, Math.ceil(span / max / WEEK) * WEEK);
}

const Candle = z.object({
  /** Open time of the bucket's first kline, epoch ms. */
  t: z.number().int(),
  o: z.number(),
  h: z.number(),
  l: z.number(),
  c: z.number(),
  /** Base-asset volume summed over the bucket. */
  v: z.number(),
});
const Candles = z
  .object({
    market: z.string(),
    symbol: z.string(),
    dataset: z.string(),
    /** The series' own interval and the bucket drawn, ms. */
    interval_ms: z.number().int(),
    bucket_ms: z.number().int(),
    from: z.number().int(),
    to: z.number().int(),
    candles: z.array(Candle),
  })
  .openapi('Candles');

const CandlesQuery = z
  .object({
    from: timeParam(
      'Inclusive start: epoch ms or ISO-8601 (default: the first stored kline)',
      '2024-01-01',
    ).optional(),
    to: timeParam('Exclusive end (default: after the last stored kline)', '2025-01-01').optional(),
    max: z
      .string()
      .regex(/^[0-9]+$/, 'max must be an integer')
      .transform(Number)
      .pipe(z.number().int().min(10).max(MAX_CANDLES))
      .default(DEFAULT_CANDLES)
      .openapi({
        type: 'integer',
        minimum: 10,
        maximum: MAX_CANDLES,
        default: DEFAULT_CANDLES,
        description: `Most candles wanted, 10..${MAX_CANDLES}`,
      }),
  })
  .refine((q) => q.from === undefined || q.to === undefined || q.to > q.from, {
    message: '`to` must be after `from`',
    path: ['to'],
  });

const candlesRoute = createRoute({
  method: 'get',
  path: '/series/{market}/{symbol}/{dataset}/candles',
  tags: ['series'],
  summary: 'A kline series bucketed for a chart (OHLCV as numbers, at most `max` candles)',
  request: { params: SeriesParams, query: CandlesQuery },
  responses: {
    ...ok(Candles, 'Candles, oldest first; empty buckets left out'),
    400: error('Invalid parameters (zod issues), `to` not after `from`, or a dataset that is not klines'),
    404: error('No stored klines in this series'),
    ...common,
  },
});

export function registerChartRoutes(app: OpenAPIHono, deps: { store: Store }): void {
  const { store } = deps;
  app.openapi(
    candlesRoute,
    async (c) => {
      const p = c.req.valid('param');
      const q = c.req.valid('query');
      if (!p.dataset.startsWith('klines_') || p.dataset === 'klines_1M')
        throw new InvalidInputError('candles are drawn from klines of a fixed interval', [
          {
            code: 'custom',
            path: ['dataset'],
            message: `expected klines_<interval> (not 1M), got ${p.dataset}`,
          },
        ]);
      const native = intervalMs(p.dataset.slice('klines_'.length) as Fixed);
      const collection = canonicalCollection('kline');
      const series = seriesKey(p);
      await fromStore(store.ensureCollection(collection, 'series'));
      const [stats] = await fromStore(store.seriesStats(collection, series));
      if (stats === undefined || stats.count === 0) throw new NotFoundError(`no stored klines for ${series}`);
      const to = q.to ?? stats.last + native;
      const bucket = bucketFor(native, q.from ?? stats.first, to, q.max);
      // Buckets on the bucket's own grid (whole hours, days…), as an exchange's candles are.
      const from = Math.floor((q.from ?? stats.first) / bucket) * bucket;
      const candles = await fromStore(store.candles(collection, { series, from, to, bucket_ms: bucket }));
      return c.json({ ...p, interval_ms: native, bucket_ms: bucket, from, to, candles }, 200);
    },
    rejectInvalid,
  );
}
