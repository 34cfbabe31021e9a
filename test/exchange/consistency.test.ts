/** The simulated market is consistent across intervals and between candles and trades. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregate, asCandle, DAY, HOUR, MIN, NOW, start, units, type Row, type Running } from './helpers.ts';

interface Trade {
  id: number;
  price: string;
  qty: string;
  quoteQty: string;
  time: number;
  isBuyerMaker: boolean;
}
interface Agg {
  a: number;
  p: string;
  q: string;
  f: number;
  l: number;
  T: number;
  m: boolean;
}

let sim: Running;
beforeAll(async () => {
  sim = await start({ seed: 11, gaps: { perYear: 0 }, now: () => NOW });
});
afterAll(() => sim.close());

const spot = (path: string) => sim.json<Row[]>(`/api/v3/${path}`);
const fut = (path: string) => sim.json<Row[]>(`/fapi/v1/${path}`);

describe('higher intervals aggregate their base candles', () => {
  const hour = Date.UTC(2025, 3, 7, 13);
  it.each([
    ['spot', 'BTCUSDT'],
    ['spot', 'ETHBTC'],
    ['usdm', 'BTCUSDT'],
  ] as const)('%s %s: a 1h candle = its sixty 1m candles', async (market, symbol) => {
    const get = market === 'spot' ? spot : fut;
    for (const t of [hour, hour + 5 * HOUR]) {
      const [h] = await get(`klines?symbol=${symbol}&interval=1h&startTime=${t}&limit=1`);
      const minutes = await get(`klines?symbol=${symbol}&interval=1m&startTime=${t}&endTime=${t + HOUR - 1}`);
      expect(minutes).toHaveLength(60);
      expect(asCandle(h!)).toEqual(aggregate(minutes));
    }
  });

  it('a 1d candle = its 1440 1m candles', async () => {
    const d = Date.UTC(2025, 1, 14);
    const [day] = await spot(`klines?symbol=BTCUSDT&interval=1d&startTime=${d}&limit=1`);
    const a = await spot(`klines?symbol=BTCUSDT&interval=1m&startTime=${d}&limit=1000`);
    const b = await spot(
      `klines?symbol=BTCUSDT&interval=1m&startTime=${d + 1000 * MIN}&endTime=${d + DAY - 1}&limit=1000`,
    );
    expect(a.length + b.length).toBe(1440);
    expect(asCandle(day!)).toEqual(aggregate([...a, ...b]));
  });

  it.each(['3m', '5m', '15m', '30m', '2h', '4h'])('a %s candle = its 1m candles', async (interval) => {
    const t = Date.UTC(2025, 4, 2, 8);
    const [c] = await spot(`klines?symbol=ETHUSDT&interval=${interval}&startTime=${t}&limit=1`);
    const minutes = await spot(
      `klines?symbol=ETHUSDT&interval=1m&startTime=${t}&endTime=${c![6]}&limit=1000`,
    );
    expect(asCandle(c!)).toEqual(aggregate(minutes));
  });

  it('a 1M candle = its 1d candles', async () => {
    const [month] = await spot(`klines?symbol=ETHBTC&interval=1M&startTime=${Date.UTC(2025, 1, 1)}&limit=1`);
    const days = await spot(
      `klines?symbol=ETHBTC&interval=1d&startTime=${Date.UTC(2025, 1, 1)}&endTime=${month![6]}`,
    );
    expect(days).toHaveLength(28);
    expect(asCandle(month!)).toEqual(aggregate(days));
  });

  it('a 1m candle = its sixty 1s candles', async () => {
    for (const t of [Date.UTC(2025, 0, 9, 9, 9), Date.UTC(2025, 0, 9, 9, 10)]) {
      const [m] = await spot(`klines?symbol=BTCUSDT&interval=1m&startTime=${t}&limit=1`);
      const secs = await spot(`klines?symbol=BTCUSDT&interval=1s&startTime=${t}&endTime=${t + MIN - 1}`);
      expect(secs).toHaveLength(60);
      expect(asCandle(m!)).toEqual(aggregate(secs));
    }
  });
});

/** Every trade of minute t, through aggTrades (first id) and historicalTrades (fromId). */
async function minuteTrades(symbol: string, t: number): Promise<{ aggs: Agg[]; trades: Trade[] }> {
  const aggs = await sim.json<Agg[]>(
    `/api/v3/aggTrades?symbol=${symbol}&startTime=${t}&endTime=${t + MIN - 1}&limit=1000`,
  );
  if (aggs.length === 0) return { aggs, trades: [] };
  const n = aggs.at(-1)!.l - aggs[0]!.f + 1;
  const trades = await sim.json<Trade[]>(
    `/api/v3/historicalTrades?symbol=${symbol}&fromId=${aggs[0]!.f}&limit=${n}`,
  );
  return { aggs, trades };
}

describe('trades add up to their candles', () => {
  it.each(['BTCUSDT', 'ETHBTC'])(
    '%s: trades of a minute sum to its volume, count and quote volume',
    async (symbol) => {
      const t0 = Date.UTC(2025, 5, 1, 17, 40);
      const candles = await spot(`klines?symbol=${symbol}&interval=1m&startTime=${t0}&limit=5`);
      for (const c of candles) {
        const { trades } = await minuteTrades(symbol, c[0]);
        expect(trades).toHaveLength(c[8]);
        if (trades.length === 0) continue;
        expect(trades.every((x) => x.time >= c[0] && x.time <= c[6])).toBe(true);
        const sum = (xs: Trade[], f: (x: Trade) => string) => xs.reduce((a, x) => a + units(f(x)), 0n);
        const prices = trades.map((x) => units(x.price));
        const takerBuys = trades.filter((x) => !x.isBuyerMaker);
        expect({
          o: prices[0],
          h: prices.reduce((a, b) => (b > a ? b : a)),
          l: prices.reduce((a, b) => (b < a ? b : a)),
          c: prices.at(-1),
          v: sum(trades, (x) => x.qty),
          q: sum(trades, (x) => x.quoteQty),
          n: trades.length,
          vb: sum(takerBuys, (x) => x.qty),
          qb: sum(takerBuys, (x) => x.quoteQty),
        }).toEqual(asCandle(c));
        for (const x of trades) expect(units(x.quoteQty)).toBe((units(x.price) * units(x.qty)) / 10n ** 8n);
      }
    },
  );

  it('aggregated trades cover the trades exactly', async () => {
    const { aggs, trades } = await minuteTrades('BTCUSDT', Date.UTC(2025, 5, 1, 17, 41));
    expect(aggs.length).toBeGreaterThan(1);
    const byId = new Map(trades.map((x) => [x.id, x]));
    aggs.forEach((a, i) => {
      if (i > 0) {
        expect(a.a).toBe(aggs[i - 1]!.a + 1);
        expect(a.f).toBe(aggs[i - 1]!.l + 1);
      }
      const fills = Array.from({ length: a.l - a.f + 1 }, (_, k) => byId.get(a.f + k)!);
      expect(fills.every((x) => x.price === a.p && x.time === a.T && x.isBuyerMaker === a.m)).toBe(true);
      expect(fills.reduce((s, x) => s + units(x.qty), 0n)).toBe(units(a.q));
    });
    expect(aggs.at(-1)!.l - aggs[0]!.f + 1).toBe(trades.length);
  });

  it('trade and aggregated-trade ids are contiguous across minutes and pages', async () => {
    const first = await sim.json<Trade[]>(`/api/v3/historicalTrades?symbol=ETHUSDT&fromId=123456&limit=1000`);
    const next = await sim.json<Trade[]>(
      `/api/v3/historicalTrades?symbol=ETHUSDT&fromId=${first.at(-1)!.id + 1}&limit=1000`,
    );
    const all = [...first, ...next];
    expect(all[0]!.id).toBe(123456);
    all.forEach(
      (x, i) => i > 0 && expect([x.id - all[i - 1]!.id, x.time >= all[i - 1]!.time]).toEqual([1, true]),
    );
    expect(new Set(all.map((x) => Math.floor(x.time / MIN))).size).toBeGreaterThan(10);
    const aggs = await sim.json<Agg[]>(`/api/v3/aggTrades?symbol=ETHUSDT&fromId=98765&limit=1000`);
    aggs.forEach((a, i) => expect(a.a).toBe(98765 + i));
  });

  it('the newest trades end at now and continue the ids', async () => {
    const latest = await sim.json<Trade[]>('/api/v3/trades?symbol=BTCUSDT&limit=50');
    expect(latest).toHaveLength(50);
    expect(latest.at(-1)!.time).toBeLessThanOrEqual(NOW);
    const after = await sim.json<Trade[]>(
      `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${latest.at(-1)!.id + 1}`,
    );
    expect(after).toEqual([]);
    const again = await sim.json<Trade[]>(
      `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${latest[0]!.id}&limit=50`,
    );
    expect(again).toEqual(latest);
  });
});

describe('minutes without trades', () => {
  it('exist as zero-volume candles at the previous close', async () => {
    const rows = await spot(`klines?symbol=ETHBTC&interval=1m&startTime=${Date.UTC(2025, 5, 2)}&limit=1000`);
    const empty = rows.map((r, i) => [r, rows[i - 1]] as const).filter(([r]) => r[8] === 0);
    expect(empty.length).toBeGreaterThan(5);
    expect(empty.length).toBeLessThan(rows.length / 2);
    for (const [r, prev] of empty) {
      if (!prev) continue;
      expect(r[0] - prev[0]).toBe(MIN);
      expect([r[1], r[2], r[3], r[4]]).toEqual([prev[4], prev[4], prev[4], prev[4]]);
      expect([r[5], r[7], r[9], r[10]]).toEqual(['0.00000000', '0.00000000', '0.00000000', '0.00000000']);
    }
  });
});
