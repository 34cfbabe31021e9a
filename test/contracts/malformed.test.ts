import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { RawAggTrade, RawKline, RawTrade, WsKlineEvent } from '../../shared/contracts/binance.ts';
import { Kline, RECORD_SCHEMAS } from '../../shared/contracts/records.ts';
import { fixtureArray } from './fixtures.ts';

/** A real row to break one field at a time. */
const goodRow = fixtureArray('rest/spot_klines_BTCUSDT_1m_2021-10-22.json')[0] as unknown[];
const withField = (i: number, v: unknown) => goodRow.map((x, j) => (j === i ? v : x));

function issues(schema: z.ZodType, value: unknown): { path: PropertyKey[]; message: string }[] {
  const r = schema.safeParse(value);
  expect(r.success, 'expected the schema to reject the value').toBe(false);
  return (r.error?.issues ?? []).map((i) => ({ path: i.path, message: i.message }));
}

describe('malformed exchange payloads are rejected with a message that says where and why', () => {
  const cases: { name: string; schema: z.ZodType; value: unknown; path: PropertyKey[]; message: RegExp }[] = [
    {
      name: 'kline with a number price',
      schema: RawKline,
      value: withField(1, 60685.22),
      path: [1],
      message: /expected string, received number/,
    },
    {
      name: 'kline with 11 fields',
      schema: RawKline,
      value: goodRow.slice(0, 11),
      path: [],
      message: />=12 items/,
    },
    {
      name: 'kline with 13 fields',
      schema: RawKline,
      value: [...goodRow, '0'],
      path: [],
      message: /<=12 items/,
    },
    {
      name: 'kline with a negative trade count',
      schema: RawKline,
      value: withField(8, -1),
      path: [8],
      message: />=0/,
    },
    {
      name: 'kline with a fractional trade count',
      schema: RawKline,
      value: withField(8, 1.5),
      path: [8],
      message: /expected int/,
    },
    {
      name: 'kline with open time as a string',
      schema: RawKline,
      value: withField(0, '1634943780000'),
      path: [0],
      message: /expected number/,
    },
    {
      name: 'kline with a float-formatted price',
      schema: RawKline,
      value: withField(4, '6.07e4'),
      path: [4],
      message: /decimal string/,
    },
    {
      name: 'trade with a price in exponent form',
      schema: RawTrade,
      value: { id: 1, price: '1e5', qty: '1', quoteQty: '1', time: 1, isBuyerMaker: true },
      path: ['price'],
      message: /decimal string/,
    },
    {
      name: 'trade with a negative id',
      schema: RawTrade,
      value: { id: -3, price: '1.0', qty: '1', quoteQty: '1', time: 1, isBuyerMaker: true },
      path: ['id'],
      message: />=0/,
    },
    {
      name: 'aggTrade without its time',
      schema: RawAggTrade,
      value: { a: 1, p: '1.0', q: '2.0', f: 1, l: 1, m: false },
      path: ['T'],
      message: /expected number, received undefined/,
    },
    {
      name: 'WS kline with "closed" as a string',
      schema: WsKlineEvent,
      value: {
        e: 'kline',
        E: 1,
        s: 'BTCUSDT',
        k: {
          t: 0,
          T: 59_999,
          s: 'BTCUSDT',
          i: '1m',
          f: 1,
          L: 2,
          o: '1',
          c: '1',
          h: '1',
          l: '1',
          v: '1',
          n: 2,
          x: 'false',
          q: '1',
          V: '1',
          Q: '1',
          B: '0',
        },
      },
      path: ['k', 'x'],
      message: /expected boolean/,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [first, ...rest] = issues(c.schema, c.value);
      expect(rest).toEqual([]);
      expect(first?.path).toEqual(c.path);
      expect(first?.message).toMatch(c.message);
    });
  }

  it('several problems in one record are all reported', () => {
    const found = issues(RawTrade, { id: 1, price: ' 1.0', qty: '1', quoteQty: '1', isBuyerMaker: 'true' });
    expect(found.map((i) => i.path)).toEqual([['price'], ['time'], ['isBuyerMaker']]);
  });
});

describe('normalised records are checked too (the sink validates each record)', () => {
  const kline = {
    market: 'spot',
    symbol: 'BTCUSDT',
    interval: '1m',
    open_time: 0,
    open: '1',
    high: '1',
    low: '1',
    close: '1',
    volume: '1',
    close_time: 59_999,
    quote_volume: '1',
    trades: 1,
    taker_buy_base: '1',
    taker_buy_quote: '1',
    ignore: '0',
  };
  const cases: { name: string; value: unknown; path: PropertyKey[] }[] = [
    { name: 'a lower-case symbol', value: { ...kline, symbol: 'btcusdt' }, path: ['symbol'] },
    { name: 'an unknown interval', value: { ...kline, interval: '1D' }, path: ['interval'] },
    { name: 'an unknown market', value: { ...kline, market: 'coinm' }, path: ['market'] },
    { name: 'a dropped field', value: { ...kline, taker_buy_quote: undefined }, path: ['taker_buy_quote'] },
  ];
  it('a complete kline passes', () => {
    expect(Kline.safeParse(kline).success).toBe(true);
  });
  for (const c of cases) {
    it(`a kline with ${c.name} is rejected`, () => {
      expect(issues(RECORD_SCHEMAS.kline, c.value).map((i) => i.path)).toEqual([c.path]);
    });
  }
});
