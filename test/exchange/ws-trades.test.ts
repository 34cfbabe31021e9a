/**
 * Live trade and aggTrade streams carry exactly the records REST returns for the same ids
 * (binance.md §4, §6): a live loader can prove it lost nothing by comparing the two.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawAggTrade, RawTrade } from '../../shared/contracts/binance.ts';
import { connect, sleep, startWs, type AggEv, type TradeEv, type WsRunning } from './ws-helpers.ts';

type Trade = RawTrade;
type Agg = RawAggTrade;

let sim: WsRunning;
beforeAll(async () => {
  sim = await startWs();
});
afterAll(() => sim.close());

const consecutive = (ids: number[]) => ids.forEach((id, i) => i > 0 && expect(id).toBe(ids[i - 1]! + 1));

describe('trade and aggTrade streams', () => {
  it('spot: every event equals the REST record of its id, ids consecutive, sent once due', async () => {
    const c = await connect(`${sim.wsUrl}/stream?streams=btcusdt@trade/btcusdt@aggTrade`);
    const started = Date.now();
    await sleep(1500);
    c.close();
    const trades = c.events<TradeEv>('btcusdt@trade');
    const aggs = c.events<AggEv>('btcusdt@aggTrade');
    expect(trades.length).toBeGreaterThan(50);
    expect(aggs.length).toBeGreaterThan(50);
    // A stream starts at "now": nothing older than the connection.
    expect(trades[0]!.T).toBeGreaterThanOrEqual(started - 100);
    consecutive(trades.map((t) => t.t));
    consecutive(aggs.map((a) => a.a));

    const rest = await sim.json<Trade[]>(
      `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${trades[0]!.t}&limit=${trades.length}`,
    );
    expect(rest).toHaveLength(trades.length);
    trades.forEach((ev, i) => {
      const r = rest[i]!;
      expect(Object.keys(ev)).toEqual(['e', 'E', 's', 't', 'p', 'q', 'T', 'm', 'M']);
      expect(ev).toEqual({
        e: 'trade',
        E: ev.E,
        s: 'BTCUSDT',
        t: r.id,
        p: r.price,
        q: r.qty,
        T: r.time,
        m: r.isBuyerMaker,
        M: r.isBestMatch,
      });
      expect(ev.E).toBeGreaterThanOrEqual(ev.T);
    });

    const restAggs = await sim.json<Agg[]>(
      `/api/v3/aggTrades?symbol=BTCUSDT&fromId=${aggs[0]!.a}&limit=${aggs.length}`,
    );
    aggs.forEach((ev, i) => {
      expect(ev).toEqual({ e: 'aggTrade', E: ev.E, s: 'BTCUSDT', ...restAggs[i] });
      expect(Object.keys(ev)).toEqual(['e', 'E', 's', 'a', 'p', 'q', 'f', 'l', 'T', 'm', 'M']);
    });
    // Aggregates cover the trades: f…l of the streamed aggregates are streamed trade ids.
    const ids = new Set(trades.map((t) => t.t));
    const inside = aggs.filter((a) => a.f >= trades[0]!.t && a.l <= trades.at(-1)!.t);
    expect(inside.length).toBeGreaterThan(0);
    for (const a of inside) for (let id = a.f; id <= a.l; id++) expect(ids.has(id)).toBe(true);
  });

  it('USD-M: trades carry X:"MARKET" and no M, aggTrades equal /fapi/v1/aggTrades', async () => {
    const t = await connect(`${sim.wsUrl}/usdm/ws/btcusdt@trade`);
    const a = await connect(`${sim.wsUrl}/usdm/ws/btcusdt@aggTrade`);
    await sleep(1200);
    t.close();
    a.close();
    const trades = t.events<TradeEv>();
    const aggs = a.events<AggEv>();
    expect(trades.length).toBeGreaterThan(20);
    consecutive(trades.map((x) => x.t));
    consecutive(aggs.map((x) => x.a));
    const rest = sim.ex.data.trades(
      'usdm',
      'BTCUSDT',
      { fromId: trades[0]!.t, limit: trades.length },
      Date.now(),
    );
    trades.forEach((ev, i) => {
      const r = rest[i]!;
      expect(ev).toEqual({
        e: 'trade',
        E: ev.E,
        T: r.time,
        s: 'BTCUSDT',
        t: r.id,
        p: r.price,
        q: r.qty,
        X: 'MARKET',
        m: r.isBuyerMaker,
      });
    });
    const restAggs = await sim.json<Agg[]>(
      `/fapi/v1/aggTrades?symbol=BTCUSDT&fromId=${aggs[0]!.a}&limit=${aggs.length}`,
    );
    aggs.forEach((ev, i) => expect(ev).toEqual({ e: 'aggTrade', E: ev.E, s: 'BTCUSDT', ...restAggs[i] }));
    expect(aggs[0]).not.toHaveProperty('M');
  });

  it('two connections on one stream receive the same events', async () => {
    const [x, y] = await Promise.all([
      connect(`${sim.wsUrl}/ws/btcusdt@aggTrade`),
      connect(`${sim.wsUrl}/ws/btcusdt@aggTrade`),
    ]);
    await sleep(600);
    x.close();
    y.close();
    const ids = (c: typeof x) => new Map(c.events<AggEv>().map((e) => [e.a, JSON.stringify(e)]));
    const [mx, my] = [ids(x), ids(y)];
    const common = [...mx.keys()].filter((k) => my.has(k));
    expect(common.length).toBeGreaterThan(10);
    for (const k of common) expect(mx.get(k)).toBe(my.get(k));
  });
});
