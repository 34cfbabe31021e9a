/**
 * The Store port's contract (DESIGN.md "Ports and adapters"): one suite, run against every
 * adapter that can be started here. `makeStore` opens a store on the adapter's shared backend;
 * a test may open several (two processes writing the same data). Every test uses collections
 * of its own, so backends need no cleaning between tests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  identify,
  seriesKey,
  type Kline,
  type RecordKind,
  type RecordOfKind,
  type SeriesId,
} from '../../shared/contracts/records.ts';
import { rowFromRecord, type Row } from '../../shared/contracts/rows.ts';
import type { GraphEdge, GraphMethod, GraphSnapshot } from '../../shared/contracts/analytics.ts';
import { ConflictError, DependencyError, InvalidInputError } from '../../shared/runtime/errors.ts';
import type { RowBatch, SeriesRecord, Store } from '../../shared/store/store.ts';

export type MakeStore = () => Store | Promise<Store>;

const SERIES = 'spot:BTCUSDT:klines_1m';
const OTHER = 'spot:ETHUSDT:klines_1m';
const MIN = 60_000;
const T0 = 1_700_000_040_000; // a minute boundary

let seq = 0;
/** A collection name no other test (or earlier run against the same server) uses. */
export function freshName(prefix = 'c'): string {
  seq += 1;
  return `${prefix}_${process.pid.toString(36)}_${Date.now().toString(36)}_${seq}`;
}

/** A kline record as the connector stores it: all 12 fields, natural key. */
export function kline(series: string, openTime: number, close = '42000.10000000'): SeriesRecord {
  const [market = 'spot', symbol = 'BTCUSDT'] = series.split(':');
  return {
    key: `${market}:${symbol}:1m:${openTime}`,
    series,
    time: openTime,
    doc: {
      market,
      symbol,
      interval: '1m',
      open_time: openTime,
      open: '42000.00000000',
      high: '42010.00000000',
      low: '41990.00000000',
      close,
      volume: '12.50000000',
      close_time: openTime + MIN - 1,
      quote_volume: '525000.00000000',
      trades: 321,
      taker_buy_base: '6.25000000',
      taker_buy_quote: '262500.00000000',
      ignore: '0',
    },
  };
}

/** The compact row of a kline record made by `kline()`. */
export function klineRow(r: SeriesRecord): Row {
  return rowFromRecord('kline', r.doc as unknown as Kline);
}

/** A row batch of records of one series, and the SeriesRecords they stand for. */
export function rowsOf<K extends RecordKind>(
  kind: K,
  records: RecordOfKind[K][],
): { batch: RowBatch; records: SeriesRecord[] } {
  const ids = records.map((r) => identify(kind, r));
  const series = ids[0]!.series;
  return {
    batch: { kind, series, rows: records.map((r) => rowFromRecord(kind, r)) },
    records: records.map((r, i) => ({
      key: ids[i]!.key,
      series: seriesKey(series),
      time: ids[i]!.time,
      doc: r,
    })),
  };
}

const BTC_1M: SeriesId = { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' };

/** Trades with `perMs` of them in each millisecond, ids all of one length. */
function trades(n: number, perMs: number, bestMatch?: boolean): RecordOfKind['trade'][] {
  return Array.from({ length: n }, (_, i) => ({
    market: 'spot' as const,
    symbol: 'BTCUSDT',
    id: 1000 + i,
    price: '42000.10000000',
    qty: `0.${String(i + 1).padStart(8, '0')}`,
    quote_qty: '42.00010000',
    time: T0 + Math.floor(i / perMs),
    is_buyer_maker: i % 2 === 0,
    ...(bestMatch === undefined ? {} : { is_best_match: bestMatch }),
  }));
}

const shuffle = <T>(xs: T[]): T[] => {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j] as T, a[i] as T];
  }
  return a;
};

export function storeContract(name: string, makeStore: MakeStore): void {
  describe(`Store contract: ${name}`, () => {
    const opened: Store[] = [];
    const open = async (): Promise<Store> => {
      const s = await makeStore();
      opened.push(s);
      return s;
    };
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
    });

    describe('series records', () => {
      it('upserts a batch, then reads records and counts back', async () => {
        const store = await open();
        const c = freshName();
        await store.ensureCollection(c, 'series');
        await store.ensureCollection(c, 'series'); // idempotent
        const batch = [0, 1, 2]
          .map((i) => kline(SERIES, T0 + i * MIN))
          .concat([0, 1].map((i) => kline(OTHER, T0 + i * MIN)));
        expect(await store.upsertRecords(c, batch)).toEqual({ inserted: 5, updated: 0, unchanged: 0 });
        expect(await store.getRecord(c, batch[1]!.key)).toEqual(batch[1]!.doc);
        expect(await store.getRecord(c, 'spot:BTCUSDT:1m:1')).toBeNull();
        expect(await store.count(c)).toBe(5);
        expect(await store.count(c, SERIES)).toBe(3);
        expect(await store.count(c, 'spot:NOPE:klines_1m')).toBe(0);
      });

      it('creates the collection on first write without ensureCollection', async () => {
        const store = await open();
        const c = freshName();
        expect(await store.upsertRecords(c, [kline(SERIES, T0)])).toEqual({
          inserted: 1,
          updated: 0,
          unchanged: 0,
        });
        expect(await store.count(c)).toBe(1);
      });

      it('counts an identical replay as unchanged and writes nothing', async () => {
        const store = await open();
        const c = freshName();
        const batch = [0, 1, 2, 3].map((i) => kline(SERIES, T0 + i * MIN));
        await store.upsertRecords(c, batch);
        // Same content, fresh objects: what a redelivered Kafka batch looks like.
        const replay = structuredClone(batch);
        expect(await store.upsertRecords(c, replay)).toEqual({ inserted: 0, updated: 0, unchanged: 4 });
        expect(await store.count(c)).toBe(4);
      });

      it('counts a changed record as updated and replaces the whole document', async () => {
        const store = await open();
        const c = freshName();
        const batch = [0, 1, 2].map((i) => kline(SERIES, T0 + i * MIN));
        await store.upsertRecords(c, batch);
        const changed = kline(SERIES, T0 + MIN, '43000.00000000');
        delete changed.doc['ignore']; // a dropped field must not survive through a merge
        const added = kline(SERIES, T0 + 3 * MIN);
        expect(await store.upsertRecords(c, [batch[0]!, changed, batch[2]!, added])).toEqual({
          inserted: 1,
          updated: 1,
          unchanged: 2,
        });
        expect(await store.getRecord(c, changed.key)).toEqual(changed.doc);
        const moved = { ...batch[2]!, time: T0 + 10 * MIN }; // same key and doc, new position
        expect(await store.upsertRecords(c, [moved])).toEqual({ inserted: 0, updated: 1, unchanged: 0 });
        const [last] = await store.rangeQuery(c, { series: SERIES, from: T0 + 10 * MIN, limit: 5 });
        expect(last?.key).toBe(moved.key);
      });

      it('collapses records sharing a key in one batch to the last one', async () => {
        const store = await open();
        const c = freshName();
        const first = kline(SERIES, T0, '1.00000000');
        const second = kline(SERIES, T0, '2.00000000');
        expect(await store.upsertRecords(c, [first, second])).toEqual({
          inserted: 1,
          updated: 0,
          unchanged: 1,
        });
        expect(await store.getRecord(c, first.key)).toEqual(second.doc);
      });

      it('writes a batch all or nothing: one invalid entry fails the whole batch', async () => {
        const store = await open();
        const c = freshName();
        const existing = kline(SERIES, T0);
        await store.upsertRecords(c, [existing]);
        const update = kline(SERIES, T0, '99.00000000');
        const fresh = kline(SERIES, T0 + MIN);
        const bad: SeriesRecord[] = [
          { ...kline(SERIES, T0 + 2 * MIN), doc: { big: 10n } }, // not serialisable
          { ...kline(SERIES, T0 + 2 * MIN), key: 'has space' },
          { ...kline(SERIES, T0 + 2 * MIN), time: 1.5 },
          { ...kline(SERIES, T0 + 2 * MIN), doc: [] as unknown as Record<string, unknown> },
        ];
        for (const b of bad) {
          await expect(store.upsertRecords(c, [update, fresh, b])).rejects.toBeInstanceOf(InvalidInputError);
        }
        expect(await store.count(c)).toBe(1);
        expect(await store.getRecord(c, existing.key)).toEqual(existing.doc);
        expect(await store.getRecord(c, fresh.key)).toBeNull();
      });

      it('answers rangeQuery with from inclusive, to exclusive, ordered by (time, key)', async () => {
        const store = await open();
        const c = freshName();
        const recs = Array.from({ length: 10 }, (_, i) => kline(SERIES, T0 + i * MIN));
        await store.upsertRecords(c, shuffle([...recs, ...recs.map((r) => kline(OTHER, r.time))]));
        const got = await store.rangeQuery(c, {
          series: SERIES,
          from: T0 + 2 * MIN,
          to: T0 + 5 * MIN,
          limit: 100,
        });
        expect(got.map((r) => r.time)).toEqual([2, 3, 4].map((i) => T0 + i * MIN));
        expect(got[0]).toEqual(recs[2]);
        const all = await store.rangeQuery(c, { series: SERIES, limit: 100 });
        expect(all).toEqual(recs);
        expect(await store.rangeQuery(c, { series: SERIES, limit: 3 })).toEqual(recs.slice(0, 3));
        expect(await store.rangeQuery(c, { series: SERIES, from: T0 + 20 * MIN, limit: 3 })).toEqual([]);
      });

      it('pages through a series with `after` without skipping or repeating, equal times included', async () => {
        const store = await open();
        const c = freshName();
        // Trades: several per millisecond, keys ordered within a millisecond.
        const recs: SeriesRecord[] = Array.from({ length: 23 }, (_, i) => ({
          key: `spot:BTCUSDT:t:${String(1000 + i).padStart(8, '0')}`,
          series: 'spot:BTCUSDT:trades',
          time: T0 + Math.floor(i / 4),
          doc: { id: 1000 + i, price: '1.0', qty: '2.0' },
        }));
        await store.upsertRecords(c, shuffle(recs));
        for (const limit of [1, 3, 4, 5]) {
          const seen: SeriesRecord[] = [];
          let after: { time: number; key: string } | undefined;
          for (let page = 0; page < 100; page++) {
            const got = await store.rangeQuery(c, { series: 'spot:BTCUSDT:trades', limit, after });
            seen.push(...got);
            const last = got.at(-1);
            if (!last || got.length < limit) break;
            after = { time: last.time, key: last.key };
          }
          expect(seen.map((r) => r.key)).toEqual(recs.map((r) => r.key));
        }
        // Paging inside bounds stays inside them.
        const first = await store.rangeQuery(c, {
          series: 'spot:BTCUSDT:trades',
          from: T0 + 1,
          to: T0 + 3,
          limit: 3,
        });
        const last = first.at(-1)!;
        const rest = await store.rangeQuery(c, {
          series: 'spot:BTCUSDT:trades',
          from: T0 + 1,
          to: T0 + 3,
          limit: 100,
          after: { time: last.time, key: last.key },
        });
        expect([...first, ...rest].map((r) => r.key)).toEqual(recs.slice(4, 12).map((r) => r.key));
      });

      it('reports count, first and last time per series', async () => {
        const store = await open();
        const c = freshName();
        expect(await store.seriesStats(c)).toEqual([]);
        await store.upsertRecords(c, [
          ...[3, 0, 7].map((i) => kline(SERIES, T0 + i * MIN)),
          ...[5, 6].map((i) => kline(OTHER, T0 + i * MIN)),
        ]);
        expect(await store.seriesStats(c)).toEqual([
          { series: SERIES, count: 3, first: T0, last: T0 + 7 * MIN },
          { series: OTHER, count: 2, first: T0 + 5 * MIN, last: T0 + 6 * MIN },
        ]);
        expect(await store.seriesStats(c, OTHER)).toEqual([
          { series: OTHER, count: 2, first: T0 + 5 * MIN, last: T0 + 6 * MIN },
        ]);
      });
    });

    describe('candles', () => {
      /** Klines 0..9 of SERIES with distinct prices: open 100+i, high 110+i, low 90−i, close 101+i, volume i+1. */
      const priced = (i: number): SeriesRecord => {
        const r = kline(SERIES, T0 + i * MIN);
        Object.assign(r.doc, {
          open: `${100 + i}.50000000`,
          high: `${110 + i}.00000000`,
          low: `${90 - i}.00000000`,
          close: `${101 + i}.25000000`,
          volume: `${i + 1}.00000000`,
        });
        return r;
      };
      const expectBuckets = async (store: Store, c: string): Promise<void> => {
        // Buckets of 4 minutes from T0 + 1 min over [T0 + 1, T0 + 9): klines 1-4, 5-8 (3 is missing).
        const got = await store.candles(c, {
          series: SERIES,
          from: T0 + MIN,
          to: T0 + 9 * MIN,
          bucket_ms: 4 * MIN,
        });
        expect(got).toEqual([
          { t: T0 + MIN, o: 101.5, h: 114, l: 86, c: 105.25, v: 2 + 3 + 5 },
          { t: T0 + 5 * MIN, o: 105.5, h: 118, l: 82, c: 109.25, v: 6 + 7 + 8 + 9 },
        ]);
        expect(await store.candles(c, { series: OTHER, from: T0, to: T0 + 9 * MIN, bucket_ms: MIN })).toEqual(
          [],
        );
      };
      const records = [0, 1, 2, 4, 5, 6, 7, 8, 9].map(priced);

      it('buckets klines stored as records: first open, max high, min low, last close, summed volume', async () => {
        const store = await open();
        const c = freshName();
        await store.upsertRecords(c, records);
        await expectBuckets(store, c);
      });

      it('buckets klines stored as typed rows the same way', async () => {
        const store = await open();
        const c = freshName();
        await store.ensureCollection(c, 'series', 'kline');
        await store.upsertRows(c, { kind: 'kline', series: BTC_1M, rows: records.map(klineRow) });
        await expectBuckets(store, c);
      });

      it('refuses a bucket that is not a positive integer', async () => {
        const store = await open();
        const c = freshName();
        await store.upsertRecords(c, records);
        await expect(
          store.candles(c, { series: SERIES, from: T0, to: T0 + MIN, bucket_ms: 0 }),
        ).rejects.toThrow(/bucket_ms/);
      });
    });

    describe('typed rows', () => {
      it('upserts kline rows, then reads the records they stand for', async () => {
        const store = await open();
        const c = freshName();
        const recs = [0, 1, 2, 3].map((i) => kline(SERIES, T0 + i * MIN));
        const batch: RowBatch = { kind: 'kline', series: BTC_1M, rows: recs.map(klineRow) };
        expect(await store.upsertRows(c, batch)).toEqual({ inserted: 4, updated: 0, unchanged: 0 });
        expect(await store.getRecord(c, recs[2]!.key)).toEqual(recs[2]!.doc);
        for (const missing of ['spot:BTCUSDT:1m:1', 'spot:BTCUSDT:1h:' + T0, 'spot:BTCUSDT:t:' + T0, 'nope'])
          expect(await store.getRecord(c, missing)).toBeNull();
        expect(await store.rangeQuery(c, { series: SERIES, limit: 10 })).toEqual(recs);
        expect(
          await store.rangeQuery(c, { series: SERIES, from: T0 + MIN, to: T0 + 3 * MIN, limit: 10 }),
        ).toEqual(recs.slice(1, 3));
        expect(
          await store.rangeQuery(c, {
            series: SERIES,
            limit: 2,
            after: { time: recs[1]!.time, key: recs[1]!.key },
          }),
        ).toEqual(recs.slice(2, 4));
        expect(await store.rangeQuery(c, { series: OTHER, limit: 10 })).toEqual([]);
        expect(await store.count(c)).toBe(4);
        expect(await store.count(c, SERIES)).toBe(4);
        expect(await store.count(c, OTHER)).toBe(0);
        expect(await store.seriesStats(c)).toEqual([
          { series: SERIES, count: 4, first: T0, last: T0 + 3 * MIN },
        ]);
        expect(await store.seriesStats(c, OTHER)).toEqual([]);
      });

      it('counts an identical replay as unchanged and a changed row as updated', async () => {
        const store = await open();
        const c = freshName();
        const recs = [0, 1, 2].map((i) => kline(SERIES, T0 + i * MIN));
        const batch: RowBatch = { kind: 'kline', series: BTC_1M, rows: recs.map(klineRow) };
        await store.upsertRows(c, batch);
        expect(await store.upsertRows(c, structuredClone(batch))).toEqual({
          inserted: 0,
          updated: 0,
          unchanged: 3,
        });
        const changed = kline(SERIES, T0 + MIN, '43000.00000000');
        const added = kline(SERIES, T0 + 3 * MIN);
        const next: RowBatch = { ...batch, rows: [recs[0]!, changed, recs[2]!, added].map(klineRow) };
        expect(await store.upsertRows(c, next)).toEqual({ inserted: 1, updated: 1, unchanged: 2 });
        expect(await store.getRecord(c, changed.key)).toEqual(changed.doc);
        expect(await store.count(c)).toBe(4);
      });

      it('collapses rows sharing a key in one batch to the last one', async () => {
        const store = await open();
        const c = freshName();
        const [a, b, other] = [
          kline(SERIES, T0, '1.00000000'),
          kline(SERIES, T0, '2.00000000'),
          kline(SERIES, T0 + MIN),
        ];
        const batch: RowBatch = { kind: 'kline', series: BTC_1M, rows: [a, other, b].map(klineRow) };
        expect(await store.upsertRows(c, batch)).toEqual({ inserted: 2, updated: 0, unchanged: 1 });
        expect(await store.getRecord(c, a.key)).toEqual(b.doc);
        expect(await store.rangeQuery(c, { series: SERIES, limit: 10 })).toEqual([b, other]);
      });

      it('agrees with upsertRecords of the same records, either way round', async () => {
        const store = await open();
        const recs = [0, 1, 2, 3, 4].map((i) => kline(SERIES, T0 + i * MIN));
        const batch: RowBatch = { kind: 'kline', series: BTC_1M, rows: recs.map(klineRow) };
        const rowsFirst = freshName();
        expect(await store.upsertRows(rowsFirst, batch)).toEqual({ inserted: 5, updated: 0, unchanged: 0 });
        expect(await store.upsertRecords(rowsFirst, structuredClone(recs))).toEqual({
          inserted: 0,
          updated: 0,
          unchanged: 5,
        });
        const recordsFirst = freshName();
        expect(await store.upsertRecords(recordsFirst, recs)).toEqual({
          inserted: 5,
          updated: 0,
          unchanged: 0,
        });
        expect(await store.upsertRows(recordsFirst, batch)).toEqual({
          inserted: 0,
          updated: 0,
          unchanged: 5,
        });
        for (const c of [rowsFirst, recordsFirst]) {
          expect(await store.rangeQuery(c, { series: SERIES, limit: 10 })).toEqual(recs);
          expect(await store.count(c)).toBe(5);
        }
      });

      it('keeps trades with is_best_match absent, true and false apart', async () => {
        const store = await open();
        const c = freshName();
        const absent = rowsOf('trade', trades(2, 1));
        expect(absent.batch.rows[0]![6]).toBeNull();
        expect(await store.upsertRows(c, absent.batch)).toEqual({ inserted: 2, updated: 0, unchanged: 0 });
        const doc = await store.getRecord(c, absent.records[0]!.key);
        expect(doc).toEqual(absent.records[0]!.doc);
        expect(doc).not.toHaveProperty('is_best_match');
        expect(doc?.['is_buyer_maker']).toBe(true);
        expect((await store.getRecord(c, absent.records[1]!.key))?.['is_buyer_maker']).toBe(false);
        // The same trades, now with is_best_match true: a change.
        const best = rowsOf('trade', trades(2, 1, true));
        expect(await store.upsertRows(c, best.batch)).toEqual({ inserted: 0, updated: 2, unchanged: 0 });
        expect(await store.getRecord(c, best.records[0]!.key)).toEqual(best.records[0]!.doc);
        expect((await store.getRecord(c, best.records[0]!.key))?.['is_best_match']).toBe(true);
        expect(await store.rangeQuery(c, { series: 'spot:BTCUSDT:trades', limit: 10 })).toEqual(best.records);
        expect(await store.upsertRecords(c, best.records)).toEqual({ inserted: 0, updated: 0, unchanged: 2 });
      });

      it('keeps a funding rate without a mark price apart from one with', async () => {
        const store = await open();
        const c = freshName();
        const { batch, records } = rowsOf('funding', [
          { market: 'usdm', symbol: 'BTCUSDT', funding_time: T0, funding_rate: '0.00010000' },
          {
            market: 'usdm',
            symbol: 'BTCUSDT',
            funding_time: T0 + 8 * 60 * MIN,
            funding_rate: '-0.00002500',
            mark_price: '42000.5',
          },
        ]);
        expect(batch.rows[0]).toEqual([T0, '0.00010000', null]);
        expect(await store.upsertRows(c, batch)).toEqual({ inserted: 2, updated: 0, unchanged: 0 });
        expect(records[0]!.key).toBe(`usdm:BTCUSDT:f:${T0}`);
        const doc = await store.getRecord(c, records[0]!.key);
        expect(doc).toEqual(records[0]!.doc);
        expect(doc).not.toHaveProperty('mark_price');
        expect(await store.rangeQuery(c, { series: 'usdm:BTCUSDT:funding', limit: 10 })).toEqual(records);
      });

      it('round-trips rows of every kind, arrays and optional ids included', async () => {
        const store = await open();
        const base = { market: 'usdm' as const, symbol: 'ETHUSDT' };
        const cases = [
          rowsOf('agg_trade', [
            {
              ...base,
              agg_id: 7,
              price: '2000.01',
              qty: '1.5',
              first_trade_id: 10,
              last_trade_id: 12,
              time: T0,
              is_buyer_maker: false,
            },
            {
              ...base,
              agg_id: 8,
              price: '2000.02',
              qty: '0.5',
              first_trade_id: 13,
              last_trade_id: 13,
              time: T0,
              is_buyer_maker: true,
              is_best_match: false,
            },
          ]),
          rowsOf('depth', [
            {
              ...base,
              event_time: T0,
              first_update_id: 100,
              final_update_id: 105,
              bids: [['2000.00', '1.000']],
              asks: [],
            },
            {
              ...base,
              event_time: T0 + 1,
              first_update_id: 106,
              final_update_id: 109,
              prev_final_update_id: 105,
              bids: [
                ['1999.99', '0.000'],
                ['1999.98', '2.500'],
              ],
              asks: [['2000.01', '3.25']],
            },
          ]),
          rowsOf('book_ticker', [
            {
              ...base,
              update_id: 55,
              time: T0,
              bid_price: '1999.99',
              bid_qty: '4',
              ask_price: '2000.01',
              ask_qty: '5',
            },
          ]),
          rowsOf(
            'kline',
            [kline('usdm:ETHUSDT:klines_1m', T0).doc as unknown as Kline].map((k) => ({
              ...k,
              interval: '1h' as const,
            })),
          ),
        ];
        for (const { batch, records } of cases) {
          const c = freshName();
          const n = records.length;
          expect(await store.upsertRows(c, batch)).toEqual({ inserted: n, updated: 0, unchanged: 0 });
          expect(await store.rangeQuery(c, { series: records[0]!.series, limit: 10 })).toEqual(records);
          for (const r of records) expect(await store.getRecord(c, r.key)).toEqual(r.doc);
          expect(await store.upsertRecords(c, records)).toEqual({ inserted: 0, updated: 0, unchanged: n });
          expect(await store.upsertRows(c, batch)).toEqual({ inserted: 0, updated: 0, unchanged: n });
        }
      });

      it('pages through trades with `after` without skipping or repeating, equal times included', async () => {
        const store = await open();
        const c = freshName();
        const { batch, records } = rowsOf('trade', trades(23, 4));
        await store.upsertRows(c, { ...batch, rows: shuffle([...batch.rows]) });
        const series = 'spot:BTCUSDT:trades';
        for (const limit of [1, 3, 4, 5]) {
          const seen: SeriesRecord[] = [];
          let after: { time: number; key: string } | undefined;
          for (let page = 0; page < 100; page++) {
            const got = await store.rangeQuery(c, { series, limit, after });
            seen.push(...got);
            const last = got.at(-1);
            if (!last || got.length < limit) break;
            after = { time: last.time, key: last.key };
          }
          expect(seen).toEqual(records);
        }
        const first = await store.rangeQuery(c, { series, from: T0 + 1, to: T0 + 3, limit: 3 });
        const last = first.at(-1)!;
        const rest = await store.rangeQuery(c, {
          series,
          from: T0 + 1,
          to: T0 + 3,
          limit: 100,
          after: { time: last.time, key: last.key },
        });
        expect([...first, ...rest]).toEqual(records.slice(4, 12));
        expect(await store.seriesStats(c)).toEqual([{ series, count: 23, first: T0, last: T0 + 5 }]);
      });

      it('writes a row batch all or nothing: a bad row or series fails it', async () => {
        const store = await open();
        const c = freshName();
        const recs = [0, 1].map((i) => kline(SERIES, T0 + i * MIN));
        const good = recs.map(klineRow);
        const bad: RowBatch[] = [
          { kind: 'kline', series: BTC_1M, rows: [...good, [T0 + 2 * MIN, 'x']] }, // too short
          {
            kind: 'kline',
            series: BTC_1M,
            rows: [...good, [...good[0]!.slice(0, 1), 42000, ...good[0]!.slice(2)]],
          },
          { kind: 'trade', series: BTC_1M, rows: [] }, // kind and dataset disagree
          { kind: 'kline', series: { ...BTC_1M, symbol: 'bad symbol' }, rows: good },
          {
            kind: 'funding',
            series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'funding' },
            rows: [[T0, '0.0001', null]],
          },
        ];
        for (const b of bad) await expect(store.upsertRows(c, b)).rejects.toBeInstanceOf(InvalidInputError);
        expect(await store.count(c)).toBe(0);
        await expect(
          store.upsertRows('x"; DROP TABLE y', { kind: 'kline', series: BTC_1M, rows: good }),
        ).rejects.toBeInstanceOf(InvalidInputError);
      });
    });

    describe('documents', () => {
      it('creates once, then replaces only at the expected revision', async () => {
        const store = await open();
        const c = freshName();
        expect(await store.getDoc(c, 'wf-1')).toBeNull();
        expect(await store.putDoc(c, 'wf-1', { status: 'pending' })).toBe(1);
        expect(await store.getDoc(c, 'wf-1')).toEqual({ doc: { status: 'pending' }, rev: 1 });
        await expect(store.putDoc(c, 'wf-1', { status: 'other' })).rejects.toBeInstanceOf(ConflictError);
        expect(await store.putDoc(c, 'wf-1', { status: 'started' }, 1)).toBe(2);
        await expect(store.putDoc(c, 'wf-1', { status: 'stale' }, 1)).rejects.toBeInstanceOf(ConflictError);
        await expect(store.putDoc(c, 'wf-2', { status: 'missing' }, 1)).rejects.toBeInstanceOf(ConflictError);
        expect(await store.putDoc(c, 'wf-1', { status: 'loading', n: 3 }, 2)).toBe(3);
        expect(await store.getDoc(c, 'wf-1')).toEqual({ doc: { status: 'loading', n: 3 }, rev: 3 });
        await expect(store.putDoc(c, 'bad key', {})).rejects.toBeInstanceOf(InvalidInputError);
      });

      it('lets exactly one of several concurrent writers win', async () => {
        const [a, b] = [await open(), await open()];
        const c = freshName();
        await a.putDoc(c, 'wf', { status: 'pending' });
        const writers = Array.from({ length: 8 }, (_, i) =>
          (i % 2 ? a : b).putDoc(c, 'wf', { writer: i }, 1),
        );
        const results = await Promise.allSettled(writers);
        const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [{ i, rev: r.value }] : []));
        expect(won).toHaveLength(1);
        expect(won[0]!.rev).toBe(2);
        for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ConflictError);
        expect(await b.getDoc(c, 'wf')).toEqual({ doc: { writer: won[0]!.i }, rev: 2 });
        // Concurrent creates: one wins too.
        const creates = await Promise.allSettled([
          a.putDoc(c, 'new', { by: 'a' }),
          b.putDoc(c, 'new', { by: 'b' }),
        ]);
        expect(creates.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      });

      it('finds documents by field, sorted and paged, with the total', async () => {
        const store = await open();
        const c = freshName();
        const docs = [
          { id: 'w1', status: 'running', n: 5, flag: true, code: '1' },
          { id: 'w2', status: 'done', n: 2, flag: false, code: 1 },
          { id: 'w3', status: 'running', n: 9, flag: true, code: 1 },
          { id: 'w4', status: 'running', n: 1, flag: false, code: '1' },
          { id: 'w5', status: 'running', n: 5, flag: true, code: 2 },
          { id: 'w6', status: 'error', n: 7, flag: true },
        ];
        for (const d of shuffle(docs)) await store.putDoc(c, d.id, d);
        type Doc = (typeof docs)[number];
        const ids = (r: { items: { doc: Doc }[] }): string[] => r.items.map((i) => i.doc.id);

        const running = await store.findDocs<Doc>(c, {
          where: { status: 'running' },
          sortBy: 'n',
          desc: true,
          limit: 10,
        });
        expect(running.total).toBe(4);
        expect(ids(running)).toEqual(['w3', 'w1', 'w5', 'w4']); // ties (n=5) by key
        expect(running.items[0]).toEqual({ doc: docs[2], rev: 1 });

        const page2 = await store.findDocs<Doc>(c, {
          where: { status: 'running' },
          sortBy: 'n',
          limit: 2,
          offset: 2,
        });
        expect(page2.total).toBe(4);
        expect(ids(page2)).toEqual(['w5', 'w3']);
        expect(await store.findDocs(c, { where: { status: 'running' }, limit: 2, offset: 10 })).toEqual({
          items: [],
          total: 4,
        });
        expect(await store.findDocs(c, { where: { status: 'nope' }, limit: 2 })).toEqual({
          items: [],
          total: 0,
        });

        expect(
          ids(await store.findDocs<Doc>(c, { where: { flag: true, status: 'running' }, limit: 10 })),
        ).toEqual(['w1', 'w3', 'w5']);
        expect(ids(await store.findDocs<Doc>(c, { where: { flag: false }, limit: 10 }))).toEqual([
          'w2',
          'w4',
        ]);
        // Types are kept apart: the string '1' is not the number 1.
        expect(ids(await store.findDocs<Doc>(c, { where: { code: 1 }, limit: 10 }))).toEqual(['w2', 'w3']);
        expect(ids(await store.findDocs<Doc>(c, { where: { code: '1' }, limit: 10 }))).toEqual(['w1', 'w4']);
        const all = await store.findDocs<Doc>(c, { limit: 100 });
        expect(all.total).toBe(6);
        expect(ids(all)).toEqual(['w1', 'w2', 'w3', 'w4', 'w5', 'w6']);
        await expect(store.findDocs(c, { where: { 'x) OR 1=1 --': 1 }, limit: 1 })).rejects.toBeInstanceOf(
          InvalidInputError,
        );
      });
    });

    describe('graph snapshots', () => {
      const snapshot = (t: number, edges: GraphSnapshot['edges']): GraphSnapshot => ({
        t,
        window_start: t - 10 * MIN,
        vertices: ['AAAUSDT', 'BBBUSDT', 'CCCUSDT'].map((symbol, i) => ({
          symbol,
          n_obs: 10 - i,
          missing: i,
          mean_return: 0.001 * (i + 1),
          volatility: 0.01,
          last_return: -0.002,
          quote_volume: 1234.5,
        })),
        edges,
      });
      const edge = (source: string, target: string, method: GraphMethod, weight: number): GraphEdge => ({
        source,
        target,
        method,
        lag: method === 'lead_lag' ? 1 : 0,
        weight,
        sign: weight < 0 ? -1 : 1,
        p_value: 0.0001,
        n: 9,
      });

      it('stores snapshots with vertices and edges, reads them back by time, and replaces a snapshot wholly', async () => {
        const store = await open();
        const g = freshName('g');
        const s1 = snapshot(T0, [
          edge('AAAUSDT', 'BBBUSDT', 'lead_lag', 0.42),
          edge('AAAUSDT', 'CCCUSDT', 'lead_lag', -0.31),
          edge('AAAUSDT', 'BBBUSDT', 'pearson', 0.6),
        ]);
        const s2 = snapshot(T0 + 60 * MIN, [edge('BBBUSDT', 'CCCUSDT', 'partial', 0.2)]);
        await store.putGraphSnapshots(g, [s1, s2]);
        expect(await store.graphSnapshots(g, { limit: 10 })).toEqual([
          { ...s1, edges: [s1.edges[0], s1.edges[1], s1.edges[2]] },
          s2,
        ]);
        expect(await store.graphSnapshots(g, { from: T0 + 1, limit: 10 })).toEqual([s2]);
        expect(await store.graphSnapshots(g, { to: T0 + 1, limit: 10 })).toEqual([s1]);
        expect(await store.graphSnapshots(g, { limit: 1 })).toEqual([s1]);
        expect(await store.graphSnapshots(g, { limit: 1, newest: true })).toEqual([s2]);
        // Written again with one edge: the old edges are gone, other graphs untouched.
        const again = snapshot(T0, [edge('BBBUSDT', 'CCCUSDT', 'spearman', -0.5)]);
        await store.putGraphSnapshots(g, [again]);
        const other = freshName('g');
        await store.putGraphSnapshots(other, [s1]);
        expect(await store.graphSnapshots(g, { limit: 10 })).toEqual([again, s2]);
        expect(await store.graphSnapshots(other, { limit: 10 })).toHaveLength(1);
        expect(await store.graphSnapshots(freshName('g'), { limit: 10 })).toEqual([]);
      });
    });

    describe('coverage ranges', () => {
      it('merges overlapping and touching ranges across calls', async () => {
        const store = await open();
        const c = freshName();
        expect(await store.getRanges(c, SERIES)).toEqual([]);
        expect(
          await store.mergeRanges(c, SERIES, [
            { from: 20, to: 30 },
            { from: 0, to: 10 },
          ]),
        ).toEqual([
          { from: 0, to: 10 },
          { from: 20, to: 30 },
        ]);
        expect(await store.mergeRanges(c, SERIES, [{ from: 10, to: 20 }])).toEqual([{ from: 0, to: 30 }]);
        expect(
          await store.mergeRanges(c, SERIES, [
            { from: 25, to: 40 },
            { from: 50, to: 60 },
            { from: 70, to: 70 },
          ]),
        ).toEqual([
          { from: 0, to: 40 },
          { from: 50, to: 60 },
        ]);
        const rev = (await store.getDoc(c, SERIES))?.rev;
        expect(await store.mergeRanges(c, SERIES, [{ from: 1, to: 2 }])).toEqual([
          { from: 0, to: 40 },
          { from: 50, to: 60 },
        ]);
        expect((await store.getDoc(c, SERIES))?.rev).toBe(rev); // nothing new: nothing written
        expect(await store.getRanges(c, SERIES)).toEqual([
          { from: 0, to: 40 },
          { from: 50, to: 60 },
        ]);
        expect(await store.getRanges(c, OTHER)).toEqual([]);
      });

      it('loses no range when writers merge concurrently', async () => {
        const [a, b] = [await open(), await open()];
        const c = freshName();
        const adds = Array.from({ length: 12 }, (_, i) => ({ from: i * 100, to: i * 100 + 50 }));
        await Promise.all(adds.map((r, i) => (i % 2 ? a : b).mergeRanges(c, SERIES, [r])));
        expect(await a.getRanges(c, SERIES)).toEqual(adds);
      });
    });

    describe('failures', () => {
      it('rejects invalid collection names', async () => {
        const store = await open();
        await expect(store.ensureCollection('bad name', 'series')).rejects.toBeInstanceOf(InvalidInputError);
        await expect(store.upsertRecords('x"; DROP TABLE y', [kline(SERIES, T0)])).rejects.toBeInstanceOf(
          InvalidInputError,
        );
        await expect(store.getDoc('_system', 'k')).rejects.toBeInstanceOf(InvalidInputError);
      });

      it('answers DependencyError once closed', async () => {
        const store = await open();
        const c = freshName();
        await store.upsertRecords(c, [kline(SERIES, T0)]);
        await store.ping();
        await store.close();
        await store.close(); // idempotent
        await expect(store.ping()).rejects.toBeInstanceOf(DependencyError);
        await expect(store.upsertRecords(c, [kline(SERIES, T0)])).rejects.toBeInstanceOf(DependencyError);
        await expect(
          store.upsertRows(c, { kind: 'kline', series: BTC_1M, rows: [klineRow(kline(SERIES, T0))] }),
        ).rejects.toBeInstanceOf(DependencyError);
        await expect(store.rangeQuery(c, { series: SERIES, limit: 1 })).rejects.toBeInstanceOf(
          DependencyError,
        );
        await expect(store.getDoc(c, 'k')).rejects.toBeInstanceOf(DependencyError);
        await expect(store.putDoc(c, 'k', {})).rejects.toBeInstanceOf(DependencyError);
      });
    });
  });
}
