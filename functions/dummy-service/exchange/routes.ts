/**
 * Binance REST paths over the simulated market: spot `/api/v3/*`, USD-M `/fapi/v1/*`, plus
 * `/sim/stats`, `/sim/reset`, `/sim/gaps`, `/sim/faults` (429/418 storms) and the WebSocket server's `/sim/ws/stats`,
 * `/sim/ws/faults`, `/sim/ws/reset` (404 until createWsExchange registered one). Every exchange request goes through the pipeline
 * (pipeline.ts): faults, weight, handler, headers. The data.binance.vision tree `/data/...`
 * (archive.ts) is mounted here too, outside the pipeline.
 */
import { limitBody } from '../../../shared/runtime/app.ts';
import { Hono } from 'hono';
import { KLINE_INTERVALS, type Market } from '../../../shared/contracts/common.ts';
import { archiveRoutes } from './archive.ts';
import type { ExchangeCore } from './exchange.ts';
import { spotExchangeInfo, usdmExchangeInfo } from './exchange-info.ts';
import { createPipeline, type ExchangeEnv, type Handler } from './pipeline.ts';
import { err, readInt, readInterval, readLimit, readSymbol, readTime, type Query } from './params.ts';
import { spotDepthWeight, usdmDepthWeight, usdmKlinesWeight } from './weights.ts';
import { WsFault } from './ws/config.ts';
import { RestFault } from './faults.ts';

type Env = ExchangeEnv;

const FUTURES_INTERVALS = KLINE_INTERVALS.filter((i) => i !== '1s');
const USDM_DEPTH_LIMITS = [5, 10, 20, 50, 100, 500, 1000];

/** The requested `limit` for weight purposes (the handler validates it). */
function limitOf(q: Query, def: number): number {
  const v = Number(q['limit']);
  return Number.isInteger(v) && v > 0 ? v : def;
}

export function exchangeRoutes(ex: ExchangeCore): Hono<Env> {
  const app = new Hono<Env>();
  const { data } = ex;
  // Binance's market-data endpoints take no bodies; whatever is sent is not read past this.
  app.use('*', limitBody(64 * 1024));

  const endpoint = createPipeline(ex);

  const known = (market: Market, symbol: string) => {
    if (!data.has(market, symbol)) throw err.badSymbol();
    return symbol;
  };
  const spotSymbol = (q: Query) => known('spot', readSymbol(q)!);
  const usdmSymbol = (q: Query) => known('usdm', readSymbol(q)!);
  const times = (q: Query, micros: boolean) => ({
    startTime: readTime(q, 'startTime', micros),
    endTime: readTime(q, 'endTime', micros),
  });

  // --- spot (binance.md §2) ---
  const spot = (path: string, weight: (q: Query) => number, h: Handler) =>
    app.get(`/api/v3/${path}`, endpoint('spot', weight, h));
  spot(
    'ping',
    () => 1,
    () => ({}),
  );
  spot(
    'time',
    () => 1,
    (_q, now) => ({ serverTime: now }),
  );
  spot(
    'exchangeInfo',
    () => 20,
    (q, now) => {
      let list = data.symbols('spot');
      const one = readSymbol(q, false);
      let many: unknown = undefined;
      if (q['symbols'] !== undefined) {
        try {
          many = JSON.parse(q['symbols']);
        } catch {
          throw err.invalid('symbols');
        }
        if (!Array.isArray(many) || !many.every((s) => typeof s === 'string')) throw err.invalid('symbols');
      }
      const wanted = one !== undefined ? [one] : (many as string[] | undefined);
      if (wanted) {
        for (const s of wanted) known('spot', s);
        list = list.filter((s) => wanted.includes(s.symbol));
      }
      if (q['symbolStatus'] !== undefined && q['symbolStatus'] !== 'TRADING') list = [];
      return spotExchangeInfo(list, ex.config.weightLimit, now, q['showPermissionSets'] !== 'false');
    },
  );
  const spotKlines: Handler = (q, now) => {
    const symbol = readSymbol(q)!;
    const interval = readInterval(q);
    const limit = readLimit(q, 500, 1000);
    const t = times(q, true);
    return data.klines('spot', known('spot', symbol), interval, { ...t, limit }, now);
  };
  spot('klines', () => 2, spotKlines);
  spot('uiKlines', () => 2, spotKlines);
  spot(
    'aggTrades',
    () => 4,
    (q, now) => {
      const symbol = spotSymbol(q);
      const fromId = readInt(q, 'fromId');
      const t = times(q, true);
      const limit = readLimit(q, 500, 1000);
      if (fromId !== undefined && (t.startTime !== undefined || t.endTime !== undefined))
        throw err.badCombination();
      return data.aggTrades('spot', symbol, { fromId, ...t, limit }, now);
    },
  );
  spot(
    'trades',
    () => 25,
    (q, now) => data.trades('spot', spotSymbol(q), { limit: readLimit(q, 500, 1000) }, now),
  );
  spot(
    'historicalTrades',
    () => 25,
    (q, now) => {
      const symbol = spotSymbol(q);
      return data.trades(
        'spot',
        symbol,
        { fromId: readInt(q, 'fromId'), limit: readLimit(q, 500, 1000) },
        now,
      );
    },
  );
  spot(
    'depth',
    (q) => spotDepthWeight(Math.min(limitOf(q, 100), 5000)),
    (q, now) => data.depth('spot', spotSymbol(q), readLimit(q, 100, 5000), now),
  );

  // --- USD-M futures (binance.md §6) ---
  const fapi = (path: string, weight: (q: Query) => number, h: Handler) =>
    app.get(`/fapi/v1/${path}`, endpoint('usdm', weight, h));
  fapi(
    'ping',
    () => 1,
    () => ({}),
  );
  fapi(
    'time',
    () => 1,
    (_q, now) => ({ serverTime: now }),
  );
  fapi(
    'exchangeInfo',
    () => 1,
    (_q, now) => usdmExchangeInfo(data.symbols('usdm'), ex.config.futuresWeightLimit, now),
  );
  fapi(
    'klines',
    (q) => usdmKlinesWeight(limitOf(q, 500)),
    (q, now) => {
      const symbol = readSymbol(q)!;
      const interval = readInterval(q, FUTURES_INTERVALS);
      const limit = readLimit(q, 500, 1500);
      const t = times(q, false);
      if (t.startTime !== undefined && t.endTime !== undefined && t.startTime > t.endTime)
        throw err.startAfterEnd();
      return data.klines('usdm', known('usdm', symbol), interval, { ...t, limit }, now);
    },
  );
  fapi(
    'fundingRate',
    () => 1,
    (q, now) => {
      const symbol = readSymbol(q, false);
      const t = times(q, false);
      if (t.startTime !== undefined && t.endTime !== undefined && t.startTime > t.endTime)
        throw err.startAfterEnd();
      const symbols =
        symbol !== undefined ? [known('usdm', symbol)] : data.symbols('usdm').map((s) => s.symbol);
      return data.fundingRate(symbols, { ...t, limit: readLimit(q, 100, 1000) }, now);
    },
  );
  fapi(
    'depth',
    (q) => usdmDepthWeight(limitOf(q, 500)),
    (q, now) => {
      const symbol = usdmSymbol(q);
      const limit = readInt(q, 'limit') ?? 500;
      if (!USDM_DEPTH_LIMITS.includes(limit)) throw err.invalid('limit');
      return data.depth('usdm', symbol, limit, now);
    },
  );
  fapi(
    'aggTrades',
    () => 20,
    (q, now) => {
      const symbol = usdmSymbol(q);
      const fromId = readInt(q, 'fromId');
      const t = times(q, false);
      const limit = readLimit(q, 500, 1000);
      if (fromId !== undefined && (t.startTime !== undefined || t.endTime !== undefined))
        throw err.badCombination();
      if (t.startTime !== undefined && t.endTime !== undefined) {
        if (t.startTime > t.endTime) throw err.startAfterEnd();
        // USD-M still enforces start–end < 1 h (binance.md §6).
        if (t.endTime - t.startTime >= 3_600_000) throw err.rangeTooBig(1);
      }
      return data.aggTrades('usdm', symbol, { fromId, ...t, limit }, now);
    },
  );

  // --- data.binance.vision (binance.md §5): no request weight, so outside the pipeline ---
  app.route('/', archiveRoutes(ex));

  // --- simulator controls ---
  app.get('/sim/stats', (c) => c.json(ex.stats()));
  app.post('/sim/reset', (c) => {
    ex.reset();
    return c.json({ ok: true });
  });
  app.post('/sim/faults', async (c) => {
    const body: unknown = await c.req.json().catch(() => undefined);
    const fault = RestFault.safeParse(body);
    if (!fault.success) return c.json({ error: fault.error.issues.map((i) => i.message).join('; ') }, 400);
    const s = fault.data.storm;
    ex.storm.current =
      s === null ? undefined : { status: s.status, remaining: s.requests, retryAfterS: s.retryAfterS };
    return c.json({ ok: true, injected: fault.data });
  });
  const noWs = { error: 'no WebSocket server on this exchange' };
  app.get('/sim/ws/stats', (c) => (ex.ws.current ? c.json(ex.ws.current.stats()) : c.json(noWs, 404)));
  app.post('/sim/ws/reset', (c) => {
    if (!ex.ws.current) return c.json(noWs, 404);
    ex.ws.current.reset();
    return c.json({ ok: true });
  });
  app.post('/sim/ws/faults', async (c) => {
    if (!ex.ws.current) return c.json(noWs, 404);
    const body: unknown = await c.req.json().catch(() => undefined);
    const fault = WsFault.safeParse(body);
    if (!fault.success) return c.json({ error: fault.error.issues.map((i) => i.message).join('; ') }, 400);
    ex.ws.current.inject(fault.data);
    return c.json({ ok: true, injected: fault.data });
  });
  app.get('/sim/gaps', (c) => {
    const q = c.req.query();
    const market = q['market'] === 'usdm' ? 'usdm' : 'spot';
    const symbol = q['symbol'] ?? '';
    if (!data.has(market, symbol)) return c.json({ error: `unknown ${market} symbol ${symbol}` }, 404);
    const from = Number(q['from'] ?? 0);
    const to = Number(q['to'] ?? ex.now());
    return c.json({
      market,
      symbol,
      listingTime: data.listingTime(symbol, market),
      gaps: data.gapsIn(symbol, market, from, to),
    });
  });
  return app;
}
