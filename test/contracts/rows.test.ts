/**
 * Compact rows (shared/contracts/rows.ts) against the record schemas they are derived from: a row
 * stands for exactly its record (no field lost, optional fields absent stay absent), its key and
 * time are identify()'s, the exchange's own kline rows pass unchanged, and a malformed row is
 * rejected with zod's issue at its index.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RawAggTrade, RawKline, RawTrade } from '../../shared/contracts/binance.ts';
import {
  Kline,
  RECORD_KINDS,
  RECORD_SCHEMAS,
  aggTradeFromRaw,
  identify,
  klineFromRaw,
  tradeFromRaw,
  type MarketRecord,
  type RecordKind,
  type RecordOfKind,
  type SeriesId,
} from '../../shared/contracts/records.ts';
import {
  ROW_COLUMNS,
  TIME_COLUMN,
  checkRows,
  recordFromRow,
  rowFromRecord,
  rowIdentifier,
  rowSpec,
  type Row,
} from '../../shared/contracts/rows.ts';
import { SAMPLES, klineRow } from '../arango-connector/helpers.ts';
import { fixtureArray } from './fixtures.ts';

const BTC_1M: SeriesId = { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' };
const rawKlines = fixtureArray('rest/spot_klines_BTCUSDT_1m_2021-10-22.json');

/** Real captured payloads, normalised the way records were before rows, per kind where we have them. */
const captured: { [K in RecordKind]?: { series: SeriesId; records: RecordOfKind[K][] } } = {
  kline: {
    series: BTC_1M,
    records: z
      .array(RawKline)
      .parse(rawKlines)
      .map((r) => klineFromRaw(r, { market: 'spot', symbol: 'BTCUSDT', interval: '1m' })),
  },
  trade: {
    series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'trades' },
    records: z
      .array(RawTrade)
      .parse(fixtureArray('rest/spot_trades_BTCUSDT_2021-10-22.json'))
      .map((t) => tradeFromRaw(t, { market: 'spot', symbol: 'BTCUSDT' })),
  },
  agg_trade: {
    series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'agg_trades' },
    records: z
      .array(RawAggTrade)
      .parse(fixtureArray('rest/spot_aggTrades_BTCUSDT_2021-10-22.json'))
      .map((a) => aggTradeFromRaw(a, { market: 'spot', symbol: 'BTCUSDT' })),
  },
};

function casesOf(kind: RecordKind): { series: SeriesId; records: MarketRecord[] }[] {
  return [SAMPLES[kind], captured[kind]].filter((c) => c !== undefined);
}

describe('rows and records', () => {
  it('every record field travels: series fields plus the row columns are the record schema, in order', () => {
    for (const kind of RECORD_KINDS) {
      const fields = Object.keys(RECORD_SCHEMAS[kind].shape);
      const series = kind === 'kline' ? ['market', 'symbol', 'interval'] : ['market', 'symbol'];
      expect([...series, ...ROW_COLUMNS[kind]].sort(), kind).toEqual([...fields].sort());
      // The id comes first (batchId and the natural key read column 0), the time column exists.
      expect(ROW_COLUMNS[kind] as readonly string[], kind).toContain(TIME_COLUMN[kind]);
    }
  });

  for (const kind of RECORD_KINDS) {
    it(`${kind}: recordFromRow(rowFromRecord(r)) is r, and rowIdentifier() is identify()`, () => {
      const schema = RECORD_SCHEMAS[kind] as z.ZodType<MarketRecord>;
      let absent = 0;
      for (const { series, records } of casesOf(kind)) {
        const ident = rowIdentifier(kind, series);
        for (const record of records) {
          const row = rowFromRecord(kind, record);
          expect(row).toHaveLength(ROW_COLUMNS[kind].length);
          // A row is JSON: it survives the trip over the bus unchanged.
          expect(JSON.parse(JSON.stringify(row))).toEqual(row);
          const { columns, optional } = rowSpec(kind);
          columns.forEach((c, i) => {
            const value = (record as Record<string, unknown>)[c];
            if (optional[i] && !(c in record)) {
              absent++;
              expect(row[i], `${kind}.${c} absent`).toBeNull();
            } else expect(row[i], `${kind}.${c}`).toEqual(value);
          });
          expect(checkRows(kind, [row])).toEqual({ good: [row], bad: [] });

          const back = recordFromRow(kind, series, row);
          // Equal field for field, no optional field made up, a valid record.
          expect(back).toStrictEqual(record);
          expect(schema.parse(back)).toStrictEqual(back);

          const id = identify(kind, record);
          expect(id.series).toEqual(series);
          expect(ident.key(row)).toBe(id.key);
          expect(ident.time(row)).toBe(id.time);
          expect(id.key.startsWith(ident.prefix)).toBe(true);
        }
      }
      const optionals = rowSpec(kind).optional.filter(Boolean).length;
      // Kinds with optional fields have samples with them absent.
      if (optionals > 0) expect(absent).toBeGreaterThan(0);
    });
  }

  it("recordFromRow writes the record schema's field order (zod's output order, as records were stored before rows)", () => {
    for (const kind of RECORD_KINDS) {
      const schema = RECORD_SCHEMAS[kind] as z.ZodType<MarketRecord>;
      for (const { series, records } of casesOf(kind)) {
        for (const record of records) {
          const back = recordFromRow(kind, series, rowFromRecord(kind, record));
          expect(Object.keys(back), kind).toEqual(Object.keys(schema.parse(record)));
        }
      }
    }
  });

  it('a null optional field and a missing one read back alike: absent', () => {
    const [withMark] = SAMPLES.funding.records;
    const row = rowFromRecord('funding', withMark!);
    row[2] = null;
    const back = recordFromRow('funding', SAMPLES.funding.series, row);
    expect('mark_price' in back).toBe(false);
    expect(back).toStrictEqual({
      market: 'usdm',
      symbol: 'BTCUSDT',
      funding_time: withMark!.funding_time,
      funding_rate: withMark!.funding_rate,
    });
  });
});

describe('kline rows are the exchange rows', () => {
  it('the captured REST page passes checkRows unchanged, and its records parse as Klines', () => {
    expect(rawKlines.length).toBeGreaterThan(5);
    const { good, bad } = checkRows('kline', rawKlines);
    expect(bad).toEqual([]);
    // Not copied, not reordered: the very rows the exchange sent.
    expect(good).toHaveLength(rawKlines.length);
    good.forEach((row, i) => expect(row).toBe(rawKlines[i]));
    for (const [i, row] of good.entries()) {
      const record = recordFromRow('kline', BTC_1M, row);
      expect(Kline.parse(record)).toStrictEqual(record);
      // The same record the exchange row normalised to before rows existed.
      expect(record).toStrictEqual(captured.kline!.records[i]);
      expect(rowFromRecord('kline', record)).toEqual(row);
    }
  });

  it('the kline columns are the exchange row order (binance.md §2)', () => {
    const raw = RawKline.parse(rawKlines[0]);
    const record = klineFromRaw(raw, { market: 'spot', symbol: 'BTCUSDT', interval: '1m' });
    expect(ROW_COLUMNS.kline.map((c) => record[c])).toEqual(raw);
  });

  it('keys and times of another interval carry its tag', () => {
    const row = klineRow(0, { interval: '1h' });
    const series: SeriesId = { market: 'usdm', symbol: 'ETHUSDT', dataset: 'klines_1h' };
    const record = recordFromRow('kline', series, row);
    expect(record).toMatchObject({ market: 'usdm', symbol: 'ETHUSDT', interval: '1h' });
    expect(rowIdentifier('kline', series).key(row)).toBe(identify('kline', record).key);
    expect(rowIdentifier('kline', series).key(row)).toBe(`usdm:ETHUSDT:1h:${row[0] as number}`);
  });
});

describe('checkRows(): malformed rows', () => {
  it('a wrong type, a missing field, an extra field: each rejected at its index with zod issues', () => {
    const good = klineRow(0);
    const wrongType = [...good];
    wrongType[1] = 42000.01; // a float where the exchange sends a decimal string
    const negative = [...good];
    negative[8] = -1; // trades
    const missing = good.slice(0, 11);
    const extra = [...good, 'extra'];
    const rows: unknown[] = [good, wrongType, klineRow(1), missing, negative, extra, klineRow(2)];
    const { good: accepted, bad } = checkRows('kline', rows);
    expect(accepted).toEqual([good, klineRow(1), klineRow(2)]);
    expect(bad.map((b) => b.index)).toEqual([1, 3, 4, 5]);
    expect(bad.map((b) => b.row)).toEqual([wrongType, missing, negative, extra]);
    const [typeIssue, missingIssue, negativeIssue, extraIssue] = bad.map((b) => b.issues);
    // Column errors name the column's index in the row.
    expect(typeIssue).toEqual([
      expect.objectContaining({ code: 'invalid_type', expected: 'string', path: [1] }),
    ]);
    expect(negativeIssue).toEqual([expect.objectContaining({ code: 'too_small', path: [8] })]);
    // Arity errors are the row's: 12 columns exactly.
    expect(missingIssue).toEqual([
      expect.objectContaining({ code: 'too_small', origin: 'array', minimum: 12, path: [] }),
    ]);
    expect(extraIssue).toEqual([
      expect.objectContaining({ code: 'too_big', origin: 'array', maximum: 12, path: [] }),
    ]);
    // Each is zod's own verdict on the row tuple.
    for (const b of bad) expect(b.issues).toEqual(rowSpec('kline').schema.safeParse(b.row).error?.issues);
  });

  it('a record object (the format before rows) is not a row', () => {
    const { good, bad } = checkRows('trade', SAMPLES.trade.records);
    expect(good).toEqual([]);
    expect(bad.map((b) => [b.index, b.issues[0]?.code, b.issues[0]?.path])).toEqual(
      SAMPLES.trade.records.map((_, i) => [i, 'invalid_type', []]),
    );
  });

  it('an optional column takes null, never a missing element', () => {
    const [, without] = SAMPLES.trade.records;
    const row = rowFromRecord('trade', without!);
    expect(row.at(-1)).toBeNull();
    const short: Row = row.slice(0, -1);
    const { good, bad } = checkRows('trade', [row, short]);
    expect(good).toEqual([row]);
    expect(bad).toEqual([expect.objectContaining({ index: 1, row: short })]);
  });
});
