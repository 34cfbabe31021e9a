/**
 * The client and paginators over captured real Binance payloads (test/fixtures/binance),
 * served on a loopback socket: field parsing, the still-open candle, and the error mapping of the
 * exchange's observed error bodies.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Kline, type SeriesId } from '../../shared/contracts/records.ts';
import { checkRows, recordFromRow, type Row } from '../../shared/contracts/rows.ts';
import { fundingPages } from '../../shared/exchange/funding.ts';
import { klinePages } from '../../shared/exchange/klines.ts';
import { createExchangeClient, type ExchangeClient } from '../../shared/exchange/rest-client.ts';
import { aggTradePages, tradePages } from '../../shared/exchange/trades.ts';
import { createWeightBudget } from '../../shared/exchange/weight-budget.ts';
import { ExchangeError } from '../../shared/runtime/errors.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');
const fixtures = path.resolve(repoRoot, 'test/fixtures/binance');
const read = (p: string): string => readFileSync(path.join(fixtures, p), 'utf8');
const json = (p: string): unknown => JSON.parse(read(p)) as unknown;

type Route = (
  url: URL,
  req: IncomingMessage,
) => { status?: number; body: string; headers?: Record<string, string> };

let server: Server | undefined;
const seen: URL[] = [];

async function serveRoutes(routes: Record<string, Route>): Promise<ExchangeClient> {
  seen.length = 0;
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    seen.push(url);
    const route = routes[url.pathname];
    const out = route ? route(url, req) : { status: 404, body: 'not found' };
    res.writeHead(out.status ?? 200, {
      'content-type': 'application/json',
      'x-mbx-used-weight-1m': '7',
      ...out.headers,
    });
    res.end(out.body);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const budget = createWeightBudget({ limit: 6000, windowMs: 60_000, margin: 0.05 });
  return createExchangeClient({ baseUrl: `http://127.0.0.1:${port}`, budget, backoffBaseMs: 1, maxTries: 3 });
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

async function all<T extends Row>(
  gen: AsyncGenerator<{ rows: T[]; covers: { from: number; to: number }; gaps: unknown[] }>,
) {
  const pages = [];
  for await (const p of gen) pages.push(p);
  return pages;
}

describe('captured payloads', () => {
  it('spot klines: 12 fields kept, the still-open candle left out, covers up to the last closed candle', async () => {
    // The capture: startTime 1750477731191, endTime 1750478331191, serverTime 1750478331191.
    const { serverTime } = json('rest/spot_time_2025-06-21.json') as { serverTime: number };
    const client = await serveRoutes({
      '/api/v3/klines': () => ({ body: read('rest/spot_klines_ETHBTC_1m_2025-06-21.json') }),
    });
    const pages = await all(
      klinePages(
        client,
        { market: 'spot', symbol: 'ETHBTC', interval: '1m' },
        { range: { from: 1750477731191, to: 1750478331191 }, now: () => serverTime },
      ),
    );
    const raw = json('rest/spot_klines_ETHBTC_1m_2025-06-21.json') as unknown[][];
    expect(pages).toHaveLength(1);
    const page = pages[0]!;
    expect(page.rows).toHaveLength(raw.length - 1); // the last row is still open at serverTime
    // The exchange's rows are the batch's rows: passed on exactly as they came, and valid ones.
    expect(page.rows).toEqual(raw.slice(0, -1));
    expect(checkRows('kline', page.rows).bad).toEqual([]);
    const series: SeriesId = { market: 'spot', symbol: 'ETHBTC', dataset: 'klines_1m' };
    const records = page.rows.map((r) => recordFromRow('kline', series, r));
    expect(records.every((k) => Kline.safeParse(k).success)).toBe(true);
    expect(records[0]).toEqual({
      market: 'spot',
      symbol: 'ETHBTC',
      interval: '1m',
      open_time: raw[0]![0],
      open: raw[0]![1],
      high: raw[0]![2],
      low: raw[0]![3],
      close: raw[0]![4],
      volume: raw[0]![5],
      close_time: raw[0]![6],
      quote_volume: raw[0]![7],
      trades: raw[0]![8],
      taker_buy_base: raw[0]![9],
      taker_buy_quote: raw[0]![10],
      ignore: raw[0]![11],
    });
    expect(page.covers).toEqual({ from: 1750477731191, to: raw.at(-1)![0] });
    expect(page.gaps).toEqual([]);
    const q = seen[0]!.searchParams;
    expect([q.get('symbol'), q.get('interval'), q.get('startTime'), q.get('endTime')]).toEqual([
      'ETHBTC',
      '1m',
      '1750477740000',
      String(raw.at(-2)![0]),
    ]);
  });

  it('spot aggTrades and historicalTrades become rows of the records with their natural fields', async () => {
    const agg = json('rest/spot_aggTrades_BTCUSDT_2021-10-22.json') as { a: number; T: number; f: number }[];
    const hist = json('rest/spot_historicalTrades_BTCUSDT_2021-10-22.json') as { id: number; time: number }[];
    const client = await serveRoutes({
      '/api/v3/aggTrades': (u) => ({
        body: u.searchParams.has('fromId') ? '[]' : read('rest/spot_aggTrades_BTCUSDT_2021-10-22.json'),
      }),
      '/api/v3/historicalTrades': (u) => ({
        body:
          u.searchParams.get('fromId') === String(agg[0]!.f)
            ? read('rest/spot_historicalTrades_BTCUSDT_2021-10-22.json')
            : '[]',
      }),
    });
    const range = { from: hist[0]!.time, to: agg.at(-1)!.T + 1 };
    const aggPages = await all(
      aggTradePages(client, { symbol: 'BTCUSDT' }, { range, now: () => range.to + 1 }),
    );
    const aggRows = aggPages.flatMap((p) => p.rows);
    expect(checkRows('agg_trade', aggRows).bad).toEqual([]);
    const aggSeries: SeriesId = { market: 'spot', symbol: 'BTCUSDT', dataset: 'agg_trades' };
    const aggRecords = aggRows.map((r) => recordFromRow('agg_trade', aggSeries, r));
    expect(aggRecords.map((r) => r.agg_id)).toEqual(agg.map((a) => a.a));
    expect(aggRecords[0]).toMatchObject({
      market: 'spot',
      symbol: 'BTCUSDT',
      price: '60759.60000000',
      qty: '0.00841000',
      is_buyer_maker: false,
      is_best_match: true,
    });
    expect(aggPages.at(-1)!.covers.to).toBe(range.to);

    const tradeRows = (
      await all(tradePages(client, { symbol: 'BTCUSDT' }, { range, now: () => range.to + 1 }))
    ).flatMap((p) => p.rows);
    expect(checkRows('trade', tradeRows).bad).toEqual([]);
    const tradeSeries: SeriesId = { market: 'spot', symbol: 'BTCUSDT', dataset: 'trades' };
    const tradeRecords = tradeRows.map((r) => recordFromRow('trade', tradeSeries, r));
    expect(tradeRecords.map((t) => t.id)).toEqual(hist.map((t) => t.id));
    expect(tradeRecords[0]).toMatchObject({
      price: '60814.78000000',
      quote_qty: '20.67702520',
      is_buyer_maker: true,
      is_best_match: true,
    });
  });

  it('USD-M funding rates from the documented example', async () => {
    const doc = json('docs/futures_um_rest_examples.json') as Record<string, unknown>;
    const rows = doc['GET /fapi/v1/fundingRate'] as { fundingTime: number }[];
    const client = await serveRoutes({ '/fapi/v1/fundingRate': () => ({ body: JSON.stringify(rows) }) });
    const range = { from: rows[0]!.fundingTime, to: rows.at(-1)!.fundingTime + 1 };
    const pages = await all(fundingPages(client, { symbol: 'BTCUSDT' }, { range, now: () => range.to + 1 }));
    const fundingRows = pages.flatMap((p) => p.rows);
    expect(checkRows('funding', fundingRows).bad).toEqual([]);
    const fundingSeries: SeriesId = { market: 'usdm', symbol: 'BTCUSDT', dataset: 'funding' };
    expect(fundingRows.map((r) => recordFromRow('funding', fundingSeries, r))).toEqual([
      {
        market: 'usdm',
        symbol: 'BTCUSDT',
        funding_time: 1570608000000,
        funding_rate: '-0.03750000',
        mark_price: '34287.54619963',
      },
      {
        market: 'usdm',
        symbol: 'BTCUSDT',
        funding_time: 1570636800000,
        funding_rate: '0.00010000',
        mark_price: '34287.54619963',
      },
    ]);
  });

  it('observed 4xx error bodies become ExchangeErrors with the exchange code and message, unretried', async () => {
    const observed = json('rest/errors_observed.json') as {
      http_status: number;
      body: string;
      api: string;
    }[];
    const spot4xx = observed.filter((e) => e.api === 'spot REST' && e.http_status === 400);
    expect(spot4xx.length).toBeGreaterThan(0);
    for (const e of spot4xx) {
      const client = await serveRoutes({ '/api/v3/klines': () => ({ status: e.http_status, body: e.body }) });
      const want = JSON.parse(e.body) as { code: number; msg: string };
      const err = await all(
        klinePages(
          client,
          { market: 'spot', symbol: 'NOPE', interval: '1m' },
          { range: { from: 0, to: 600_000 }, now: () => 1e13 },
        ),
      ).catch((x: unknown) => x);
      expect(err).toBeInstanceOf(ExchangeError);
      expect(err).toMatchObject({
        httpStatus: 400,
        code: want.code,
        exchangeMessage: want.msg,
        endpoint: 'GET /api/v3/klines',
      });
      expect(seen).toHaveLength(1);
      await new Promise<void>((resolve) => server!.close(() => resolve()));
      server = undefined;
    }
  });
});
