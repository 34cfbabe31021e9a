import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  BinanceErrorBody,
  RawAggTrade,
  RawDepth,
  RawFundingRate,
  RawKline,
  RawTrade,
} from '../../shared/contracts/binance.ts';
import { klineOpenTime } from '../../shared/contracts/common.ts';
import {
  AggTrade,
  FundingRate,
  Kline,
  Trade,
  aggTradeFromRaw,
  fundingFromRaw,
  identify,
  klineFromRaw,
  tradeFromRaw,
} from '../../shared/contracts/records.ts';
import { fixture, fixtureArray } from './fixtures.ts';

const spotKlineFiles = [
  { file: 'rest/spot_klines_BTCUSDT_1m_2021-10-22.json', symbol: 'BTCUSDT' },
  { file: 'rest/spot_klines_ETHBTC_1m_2025-06-21.json', symbol: 'ETHBTC' },
];

describe('REST klines (real captures)', () => {
  for (const { file, symbol } of spotKlineFiles) {
    it(`${file}: every row parses, normalises to a valid Kline with all 12 fields`, () => {
      const rows = z.array(RawKline).parse(fixtureArray(file));
      expect(rows.length).toBeGreaterThan(0);
      const klines = rows.map((r) =>
        Kline.parse(klineFromRaw(r, { market: 'spot', symbol, interval: '1m' })),
      );
      for (const [i, k] of klines.entries()) {
        expect(Object.keys(k)).toHaveLength(3 + 12);
        expect(k.open_time).toBe(klineOpenTime('1m', k.open_time));
        expect(k.close_time).toBe(k.open_time + 60_000 - 1);
        if (i > 0) expect(k.open_time).toBe(klines[i - 1]!.open_time + 60_000);
      }
      const keys = new Set(klines.map((k) => identify('kline', k).key));
      expect(keys.size).toBe(klines.length);
    });
  }

  it('BTCUSDT first row, as a person reads it', () => {
    const [row] = z.array(RawKline).parse(fixtureArray(spotKlineFiles[0]!.file));
    expect(klineFromRaw(row!, { market: 'spot', symbol: 'BTCUSDT', interval: '1m' })).toEqual({
      market: 'spot',
      symbol: 'BTCUSDT',
      interval: '1m',
      open_time: 1634943780000,
      open: '60685.22000000',
      high: '60729.84000000',
      low: '60670.90000000',
      close: '60719.27000000',
      volume: '21.63272000',
      close_time: 1634943839999,
      quote_volume: '1313200.01340410',
      trades: 617,
      taker_buy_base: '12.28492000',
      taker_buy_quote: '745719.41022840',
      ignore: '0',
    });
  });

  it('ETHBTC keeps zero-trade minutes as real candles', () => {
    const rows = z.array(RawKline).parse(fixtureArray(spotKlineFiles[1]!.file));
    const empty = rows
      .map((r) => klineFromRaw(r, { market: 'spot', symbol: 'ETHBTC', interval: '1m' }))
      .filter((k) => k.trades === 0);
    expect(empty.length).toBeGreaterThan(0);
    expect(empty[0]).toMatchObject({ volume: '0.00000000', quote_volume: '0.00000000' });
  });

  it('USD-M klines (docs example) parse; the ignore field may carry a number-like string', () => {
    const docs = z
      .object({ 'GET /fapi/v1/klines': z.array(RawKline) })
      .parse(fixture('docs/futures_um_rest_examples.json'));
    const k = Kline.parse(
      klineFromRaw(docs['GET /fapi/v1/klines'][0]!, { market: 'usdm', symbol: 'BTCUSDT', interval: '1w' }),
    );
    // 1499040000000 is a Monday: the weekly candle opens there.
    expect(k.open_time).toBe(klineOpenTime('1w', k.open_time));
    expect(k.ignore).toBe('17928899.62484339');
    expect(identify('kline', k).series).toEqual({ market: 'usdm', symbol: 'BTCUSDT', dataset: 'klines_1w' });
  });

  it('mark/index price klines from the docs are rejected: their volume "0 " has a trailing space', () => {
    // A docs artefact (SOURCES.md); StreamForge does not load mark/index klines, and a decimal
    // with stray whitespace is not an exact decimal string.
    const docs = fixture('docs/futures_um_rest_examples.json') as Record<string, unknown[]>;
    const r = RawKline.safeParse(docs['GET /fapi/v1/markPriceKlines']![0]);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path)).toEqual([[5]]);
  });
});

describe('REST trades and aggTrades (real captures)', () => {
  for (const file of [
    'rest/spot_trades_BTCUSDT_2021-10-22.json',
    'rest/spot_historicalTrades_BTCUSDT_2021-10-22.json',
  ]) {
    it(`${file}: parses and normalises to Trades with increasing ids`, () => {
      const raw = z.array(RawTrade).parse(fixtureArray(file));
      const trades = raw.map((t) => Trade.parse(tradeFromRaw(t, { market: 'spot', symbol: 'BTCUSDT' })));
      expect(trades.length).toBe(raw.length);
      for (let i = 1; i < trades.length; i++) expect(trades[i]!.id).toBeGreaterThan(trades[i - 1]!.id);
      expect(trades[0]).toMatchObject({ is_best_match: true });
    });
  }

  it('first spot trade, as a person reads it', () => {
    const [t] = z.array(RawTrade).parse(fixtureArray('rest/spot_trades_BTCUSDT_2021-10-22.json'));
    const trade = tradeFromRaw(t!, { market: 'spot', symbol: 'BTCUSDT' });
    expect(trade).toEqual({
      market: 'spot',
      symbol: 'BTCUSDT',
      id: 1111468873,
      price: '60650.00000000',
      qty: '0.02924000',
      quote_qty: '1773.40600000',
      time: 1634942949263,
      is_buyer_maker: true,
      is_best_match: true,
    });
    expect(identify('trade', trade)).toEqual({
      series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'trades' },
      key: 'spot:BTCUSDT:t:1111468873',
      time: 1634942949263,
    });
  });

  it('spot aggTrades parse and normalise; first ≤ last trade id', () => {
    const raw = z.array(RawAggTrade).parse(fixtureArray('rest/spot_aggTrades_BTCUSDT_2021-10-22.json'));
    const aggs = raw.map((a) => AggTrade.parse(aggTradeFromRaw(a, { market: 'spot', symbol: 'BTCUSDT' })));
    for (const a of aggs) expect(a.first_trade_id).toBeLessThanOrEqual(a.last_trade_id);
    expect(identify('agg_trade', aggs[0]!).key).toBe('spot:BTCUSDT:a:966492862');
  });

  it('USD-M aggTrades (docs example) have no M field and none is invented', () => {
    const docs = z
      .object({ 'GET /fapi/v1/aggTrades': z.array(RawAggTrade) })
      .parse(fixture('docs/futures_um_rest_examples.json'));
    const a = aggTradeFromRaw(docs['GET /fapi/v1/aggTrades'][0]!, { market: 'usdm', symbol: 'BTCUSDT' });
    expect(AggTrade.parse(a)).not.toHaveProperty('is_best_match');
  });

  it('spot docs examples for trades, historicalTrades, aggTrades and klines parse too', () => {
    const Docs = z.object({
      'GET /api/v3/trades': z.array(RawTrade),
      'GET /api/v3/historicalTrades': z.array(RawTrade),
      'GET /api/v3/aggTrades': z.array(RawAggTrade),
      'GET /api/v3/klines': z.array(RawKline),
      'GET /api/v3/depth': RawDepth,
      error_payload_example: BinanceErrorBody,
    });
    expect(Docs.safeParse(fixture('docs/spot_rest_examples.json')).error).toBeUndefined();
  });
});

describe('funding rates (docs example)', () => {
  it('parse and normalise with their mark price', () => {
    const docs = z
      .object({ 'GET /fapi/v1/fundingRate': z.array(RawFundingRate) })
      .parse(fixture('docs/futures_um_rest_examples.json'));
    const rates = docs['GET /fapi/v1/fundingRate'].map((f) => FundingRate.parse(fundingFromRaw(f)));
    expect(rates[0]).toEqual({
      market: 'usdm',
      symbol: 'BTCUSDT',
      funding_time: 1570608000000,
      funding_rate: '-0.03750000',
      mark_price: '34287.54619963',
    });
    expect(identify('funding', rates[0]!).key).toBe('usdm:BTCUSDT:f:1570608000000');
  });

  it('an empty markPrice (older rows) is dropped, not stored as ""', () => {
    const f = RawFundingRate.parse({
      symbol: 'BTCUSDT',
      fundingRate: '0.0001',
      fundingTime: 1,
      markPrice: '',
    });
    expect(FundingRate.parse(fundingFromRaw(f))).not.toHaveProperty('mark_price');
  });
});

describe('order book snapshots (real captures)', () => {
  const files = [
    { file: 'rest/spot_depth_BTCUSDT_10levels_2021-10-22.json', usdm: false },
    { file: 'rest/spot_depth_NKNUSDT_limit1000_2021-10-11.json', usdm: false },
    { file: 'rest/futures_um_depth_SUSHIUSDT_limit1000_2021-07-22.json', usdm: true },
  ];
  for (const { file, usdm } of files) {
    it(`${file}: parses; bids descend, asks ascend`, () => {
      const d = RawDepth.parse(fixture(file));
      expect(d.E !== undefined).toBe(usdm);
      const bids = d.bids.map(([p]) => Number(p));
      const asks = d.asks.map(([p]) => Number(p));
      expect(bids).toEqual([...bids].sort((a, b) => b - a));
      expect(asks).toEqual([...asks].sort((a, b) => a - b));
      expect(bids[0]!).toBeLessThan(asks[0]!);
    });
  }

  it('USD-M depth (docs example) parses with E and T', () => {
    const docs = fixture('docs/futures_um_rest_examples.json') as Record<string, unknown>;
    expect(RawDepth.parse(docs['GET /fapi/v1/depth'])).toMatchObject({
      lastUpdateId: 1027024,
      E: 1589436922972,
      T: 1589436922959,
    });
  });
});

describe('error bodies (observed)', () => {
  it('every REST error body parses and keeps code and message', () => {
    const Observed = z.array(
      z.object({ api: z.string(), http_status: z.number().nullable(), body: z.string() }),
    );
    const rest = Observed.parse(fixture('rest/errors_observed.json')).filter((e) => e.http_status !== null);
    expect(rest.length).toBeGreaterThan(0);
    for (const e of rest) {
      const body = BinanceErrorBody.parse(JSON.parse(e.body));
      expect(body.code).toBeLessThan(0);
      expect(body.msg.length).toBeGreaterThan(0);
    }
  });
});
