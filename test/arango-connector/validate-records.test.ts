/**
 * validateRecords() (compiled fast path, identity per series) against the plain definition it
 * replaces: zod's safeParse of every record, identify() and seriesKey() of every record. Same
 * records stored, same dead letters with the same reasons, indexes, messages and zod issues.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { DataBatch } from '../../shared/contracts/events.ts';
import {
  RECORD_SCHEMAS,
  identify,
  seriesKey,
  type MarketRecord,
  type Trade,
} from '../../shared/contracts/records.ts';
import { validateRecords } from '../../functions/arango-connector/handler.ts';
import { KLINES, kline, klineBatch } from './helpers.ts';

/** The definition: one zod safeParse, identify() and seriesKey() per record. */
function reference(batch: DataBatch) {
  const schema = RECORD_SCHEMAS[batch.kind] as z.ZodType<MarketRecord>;
  const series = seriesKey(batch);
  const good: unknown[] = [];
  const bad: unknown[] = [];
  batch.records.forEach((record, index) => {
    const r = schema.safeParse(record);
    if (!r.success) {
      const issues = r.error.issues;
      bad.push({ index, reason: 'invalid_record', message: 'record failed validation', issues, record });
      return;
    }
    const id = identify(batch.kind, r.data);
    const s = seriesKey(id.series);
    if (s !== series) {
      const message = `record of series ${s} in a batch of ${series}`;
      bad.push({ index, reason: 'wrong_series', message, issues: [{ path: [], message }], record });
      return;
    }
    good.push({ key: id.key, series, time: id.time, doc: r.data });
  });
  return { good, bad };
}

const reversed = (o: object): object => Object.fromEntries(Object.entries(o).reverse());

describe('validateRecords()', () => {
  it('klines: the same split, documents and dead letters as zod record by record', () => {
    const records: unknown[] = [
      kline(0),
      { ...kline(1), open: 42001.01 }, // a float where the exchange sends a decimal string
      kline(2, { symbol: 'ETHBTC' }), // valid, another series
      kline(3, { interval: '5m' }), // valid, another series
      { ...kline(4), extra: 'dropped', note: { x: 1 } }, // unknown keys are stripped
      reversed(kline(5)), // keys in another order: stored in the schema's order
      kline(6, { trades: -1 }),
      kline(7, { close: '1e5' }),
      null,
      'kline',
      [],
      { ...kline(8), market: undefined },
      kline(9, { open_time: 1.5 }),
      kline(10, { market: 'usdm' }), // valid, another series
      kline(11),
    ];
    const batch = DataBatch.parse(klineBatch(0, records.length, { records }).data);
    const got = validateRecords(batch);
    expect(got).toStrictEqual(reference(batch));
    expect(got.good.map((g) => g.time)).toEqual([0, 4, 5, 11].map((i) => kline(i).open_time));
    expect(got.bad.map((b) => [b.index, b.reason])).toEqual([
      [1, 'invalid_record'],
      [2, 'wrong_series'],
      [3, 'wrong_series'],
      [6, 'invalid_record'],
      [7, 'invalid_record'],
      [8, 'invalid_record'],
      [9, 'invalid_record'],
      [10, 'invalid_record'],
      [11, 'invalid_record'],
      [12, 'invalid_record'],
      [13, 'wrong_series'],
    ]);
    // Stored documents are zod's output, key for key in the schema's order.
    expect(got.good.map((g) => JSON.stringify(g.doc))).toEqual(
      [0, 4, 5, 11].map((i) => JSON.stringify(kline(i))),
    );
  });

  it('trades, with and without the optional field', () => {
    const trade = (id: number, over: Partial<Record<keyof Trade, unknown>> = {}): unknown => ({
      market: 'spot',
      symbol: 'BTCUSDT',
      id,
      price: '42000.10',
      qty: '0.5',
      quote_qty: '21000.05',
      time: 1704067200000 + id,
      is_buyer_maker: id % 2 === 0,
      ...over,
    });
    const records = [
      trade(1),
      trade(2, { is_best_match: true }),
      trade(3, { is_best_match: undefined }),
      trade(4, { is_best_match: 'yes' }),
      trade(5, { symbol: 'ETHUSDT' }),
      trade(6, { id: -6 }),
    ];
    const batch = DataBatch.parse({
      kind: 'trade',
      market: 'spot',
      symbol: 'BTCUSDT',
      dataset: 'trades',
      collection: KLINES,
      seq: 0,
      records,
    });
    const got = validateRecords(batch);
    expect(got).toStrictEqual(reference(batch));
    expect(got.good.map((g) => g.key)).toEqual([1, 2, 3].map((id) => `spot:BTCUSDT:t:${id}`));
    expect(got.bad.map((b) => [b.index, b.reason])).toEqual([
      [3, 'invalid_record'],
      [4, 'wrong_series'],
      [5, 'invalid_record'],
    ]);
  });
});
