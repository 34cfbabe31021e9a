import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RawKline, RawTrade } from '../../shared/contracts/binance.ts';
import { klineNextOpenTime, klineOpenTime, type KlineInterval } from '../../shared/contracts/common.ts';
import {
  DataBatch,
  EventTypes,
  Topics,
  batchId,
  canonicalCollection,
} from '../../shared/contracts/events.ts';
import {
  datasetKind,
  identify,
  klineFromRaw,
  parseSeriesKey,
  seriesKey,
  tradeFromRaw,
  type BookTicker,
  type DepthUpdate,
} from '../../shared/contracts/records.ts';
import { rowFromRecord } from '../../shared/contracts/rows.ts';
import { fixtureArray } from './fixtures.ts';

const klines = z
  .array(RawKline)
  .parse(fixtureArray('rest/spot_klines_BTCUSDT_1m_2021-10-22.json'))
  .map((r) => klineFromRaw(r, { market: 'spot', symbol: 'BTCUSDT', interval: '1m' }));
const trades = z
  .array(RawTrade)
  .parse(fixtureArray('rest/spot_trades_BTCUSDT_2021-10-22.json'))
  .map((t) => tradeFromRaw(t, { market: 'spot', symbol: 'BTCUSDT' }));

/** ArangoDB document key characters (the natural key becomes `_key`). */
const ARANGO_KEY = /^[a-zA-Z0-9_\-:.@()+,=;$!*'%]{1,254}$/;

describe('identify(): natural keys and series', () => {
  const depth: DepthUpdate = {
    market: 'usdm',
    symbol: 'SUSHIUSDT',
    event_time: 1626992741037,
    first_update_id: 600859599090,
    final_update_id: 600859600917,
    prev_final_update_id: 600859598061,
    bids: [['7.5040', '813']],
    asks: [],
  };
  const ticker: BookTicker = {
    market: 'spot',
    symbol: 'NKNUSDT',
    update_id: 499869768,
    time: 1633998512000,
    bid_price: '0.35210000',
    bid_qty: '672.00000000',
    ask_price: '0.35260000',
    ask_qty: '3199.00000000',
  };
  const cases = [
    {
      kind: 'kline',
      id: identify('kline', klines[0]!),
      key: 'spot:BTCUSDT:1m:1634943780000',
      series: 'spot:BTCUSDT:klines_1m',
      time: 1634943780000,
    },
    {
      kind: 'trade',
      id: identify('trade', trades[0]!),
      key: 'spot:BTCUSDT:t:1111468873',
      series: 'spot:BTCUSDT:trades',
      time: 1634942949263,
    },
    {
      kind: 'depth',
      id: identify('depth', depth),
      key: 'usdm:SUSHIUSDT:d:600859600917',
      series: 'usdm:SUSHIUSDT:depth',
      time: 1626992741037,
    },
    {
      kind: 'book_ticker',
      id: identify('book_ticker', ticker),
      key: 'spot:NKNUSDT:b:499869768',
      series: 'spot:NKNUSDT:book_ticker',
      time: 1633998512000,
    },
  ];
  for (const c of cases) {
    it(`${c.kind}: key ${c.key}`, () => {
      expect(c.id.key).toBe(c.key);
      expect(c.id.key).toMatch(ARANGO_KEY);
      expect(seriesKey(c.id.series)).toBe(c.series);
      expect(parseSeriesKey(c.series)).toEqual(c.id.series);
      expect(datasetKind(c.id.series.dataset)).toBe(c.kind);
      expect(c.id.time).toBe(c.time);
    });
  }

  it('the same candle on another market, symbol or interval is another record', () => {
    const k = klines[0]!;
    const keys = new Set([
      identify('kline', k).key,
      identify('kline', { ...k, market: 'usdm' }).key,
      identify('kline', { ...k, symbol: 'ETHUSDT' }).key,
      identify('kline', { ...k, interval: '5m' }).key,
      identify('kline', { ...k, close: '1.0' }).key, // same natural key: an update, not a new record
    ]);
    expect(keys.size).toBe(4);
  });
});

describe('batchId(): deterministic page ids', () => {
  const at = {
    market: 'spot',
    symbol: 'BTCUSDT',
    dataset: 'klines_1m',
    covers: { from: 1634943780000, to: 1634944380000 },
  };
  // The page as the loader sends it: the exchange's own kline rows.
  const rows = z.array(RawKline).parse(fixtureArray('rest/spot_klines_BTCUSDT_1m_2021-10-22.json'));

  it('the same page gets the same id, also when parsed again from the raw payload', () => {
    const again = z.array(RawKline).parse(fixtureArray('rest/spot_klines_BTCUSDT_1m_2021-10-22.json'));
    expect(batchId(at, rows)).toBe(batchId(at, again));
    // Rows from records (rows.ts) are the same rows: the same id.
    expect(
      batchId(
        at,
        klines.map((k) => rowFromRecord('kline', k)),
      ),
    ).toBe(batchId(at, rows));
    expect(batchId(at, rows)).toMatch(
      /^spot\.BTCUSDT\.klines_1m\.1634943780000-1634944380000\.[0-9a-f]{16}$/,
    );
  });

  it('hashes the row ids (column 0) one per line, however the text is split for hashing', () => {
    // 1000 rows: the id text spans several of the hash's update pieces.
    const page = Array.from({ length: 1000 }, (_, i) => {
      const row = [...rows[0]!];
      row[0] = at.covers.from + i * 60_000;
      row[6] = at.covers.from + i * 60_000 + 59_999;
      return row;
    });
    const digest = createHash('sha256')
      .update(page.map((r) => `${r[0] as number}\n`).join(''))
      .digest('hex')
      .slice(0, 16);
    expect(batchId(at, page)).toBe(`spot.BTCUSDT.klines_1m.${at.covers.from}-${at.covers.to}.${digest}`);
  });

  it('a candle whose values changed (still open, then closed) keeps the page id: ids follow row ids', () => {
    const updated = rows.map((r, i) =>
      i === rows.length - 1 ? Object.assign([...r], { 4: '1.00000000' }) : r,
    );
    expect(batchId(at, updated)).toBe(batchId(at, rows));
  });

  it('different rows or a different range give a different id', () => {
    const base = batchId(at, rows);
    expect(batchId(at, rows.slice(1))).not.toBe(base);
    expect(batchId(at, [...rows].reverse())).not.toBe(base);
    expect(batchId({ ...at, covers: { from: at.covers.from, to: at.covers.to + 60_000 } }, rows)).not.toBe(
      base,
    );
    expect(batchId({ ...at, covers: { from: at.covers.from - 60_000, to: at.covers.to } }, rows)).not.toBe(
      base,
    );
    // Another series with the very same rows.
    expect(batchId({ ...at, symbol: 'ETHUSDT' }, rows)).not.toBe(base);
    expect(batchId({ ...at, dataset: 'klines_1h' }, rows)).not.toBe(base);
  });

  it('without covers the id spans the first and last row id', () => {
    const tradeRows = trades.map((t) => rowFromRecord('trade', t));
    const id = batchId({ market: 'spot', symbol: 'BTCUSDT', dataset: 'trades' }, tradeRows);
    expect(id.startsWith(`spot.BTCUSDT.trades.${trades[0]!.id}-${trades.at(-1)!.id}.`)).toBe(true);
    const klineId = batchId({ market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' }, rows);
    expect(klineId.startsWith(`spot.BTCUSDT.klines_1m.${rows[0]![0]}-${rows.at(-1)![0]}.`)).toBe(true);
  });
});

describe('klineOpenTime / klineNextOpenTime', () => {
  const cases: { interval: KlineInterval; t: string; open: string; next: string }[] = [
    // 2024-08-07 is a Wednesday: its week opened on Monday 2024-08-05 00:00 UTC.
    { interval: '1w', t: '2024-08-07T15:42:00Z', open: '2024-08-05T00:00:00Z', next: '2024-08-12T00:00:00Z' },
    { interval: '1w', t: '2024-08-05T00:00:00Z', open: '2024-08-05T00:00:00Z', next: '2024-08-12T00:00:00Z' },
    {
      interval: '1w',
      t: '2024-08-04T23:59:59.999Z',
      open: '2024-07-29T00:00:00Z',
      next: '2024-08-05T00:00:00Z',
    },
    // Months differ in length; February of a leap year ends on the 29th.
    {
      interval: '1M',
      t: '2024-02-29T23:59:59.999Z',
      open: '2024-02-01T00:00:00Z',
      next: '2024-03-01T00:00:00Z',
    },
    { interval: '1M', t: '2023-12-31T12:00:00Z', open: '2023-12-01T00:00:00Z', next: '2024-01-01T00:00:00Z' },
    { interval: '1d', t: '2024-08-07T15:42:00Z', open: '2024-08-07T00:00:00Z', next: '2024-08-08T00:00:00Z' },
    {
      interval: '1m',
      t: '2021-10-22T23:03:59.999Z',
      open: '2021-10-22T23:03:00Z',
      next: '2021-10-22T23:04:00Z',
    },
  ];
  for (const c of cases) {
    it(`${c.interval} containing ${c.t} opens ${c.open}`, () => {
      const open = klineOpenTime(c.interval, Date.parse(c.t));
      expect(new Date(open).toISOString()).toBe(new Date(c.open).toISOString());
      expect(new Date(klineNextOpenTime(c.interval, open)).toISOString()).toBe(
        new Date(c.next).toISOString(),
      );
    });
  }

  it("Binance's own first weekly candle (1499040000000) is a week boundary", () => {
    expect(klineOpenTime('1w', 1499040000000)).toBe(1499040000000);
    expect(new Date(1499040000000).getUTCDay()).toBe(1);
  });
});

describe('data batch envelope', () => {
  it('accepts a page of kline rows as the exchange sent them and defaults gaps', () => {
    const rows = fixtureArray('rest/spot_klines_BTCUSDT_1m_2021-10-22.json');
    const b = DataBatch.parse({
      queue_id: 'wf-btcusdt-api_candles_1m-20211022-a1b2c3',
      kind: 'kline',
      market: 'spot',
      symbol: 'BTCUSDT',
      dataset: 'klines_1m',
      collection: canonicalCollection('kline'),
      seq: 0,
      rows,
    });
    expect(b.gaps).toEqual([]);
    expect(b.collection).toBe('market_klines');
    expect(b.rows).toEqual(rows);
  });

  it('rejects a batch in the format before rows (records, no rows)', () => {
    const r = DataBatch.safeParse({
      kind: 'kline',
      market: 'spot',
      symbol: 'BTCUSDT',
      dataset: 'klines_1m',
      collection: 'c',
      seq: 0,
      records: klines,
    });
    expect(r.error?.issues.map((i) => i.path)).toEqual([['rows']]);
  });

  it('rejects an unknown kind and a negative seq', () => {
    const r = DataBatch.safeParse({
      kind: 'candle',
      market: 'spot',
      symbol: 'BTCUSDT',
      dataset: 'klines_1m',
      collection: 'c',
      seq: -1,
      rows: [],
    });
    expect(r.error?.issues.map((i) => i.path)).toEqual([['kind'], ['seq']]);
  });

  it('topics and event types per kind', () => {
    expect(Topics.data('agg_trade')).toBe('binance-agg-trade');
    expect(EventTypes.data('kline')).toBe('io.streamforge.data.kline');
  });
});
