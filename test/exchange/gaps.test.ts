/** Planted exchange gaps and listing times: no candles, no trades, and gapsIn tells the truth. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createExchange } from '../../functions/dummy-service/exchange/exchange.ts';
import { aggregate, asCandle, DAY, HOUR, MIN, NOW, start, type Row, type Running } from './helpers.ts';

const GAP = { from: Date.UTC(2025, 3, 10, 2, 17), to: Date.UTC(2025, 3, 10, 5, 43) };
const DAY0 = Date.UTC(2025, 3, 10);

let sim: Running;
beforeAll(async () => {
  sim = await start({
    seed: 3,
    now: () => NOW,
    gaps: { perYear: 2, windows: [{ symbol: 'BTCUSDT', market: 'spot', ...GAP }] },
  });
});
afterAll(() => sim.close());

const spot = (q: string) => sim.json<Row[]>(`/api/v3/klines?symbol=BTCUSDT&${q}`);

describe('a configured maintenance window', () => {
  it('is reported by gapsIn for its series only', async () => {
    expect(sim.ex.gapsIn('BTCUSDT', 'spot', DAY0, DAY0 + DAY)).toEqual([GAP]);
    expect(sim.ex.gapsIn('BTCUSDT', 'spot', GAP.from + HOUR, DAY0 + DAY)).toEqual([
      { from: GAP.from + HOUR, to: GAP.to },
    ]);
    expect(sim.ex.gapsIn('ETHUSDT', 'spot', DAY0, DAY0 + DAY)).toEqual([]);
    expect(sim.ex.gapsIn('BTCUSDT', 'usdm', DAY0, DAY0 + DAY)).toEqual([]);
    const viaHttp = await sim.json<{ gaps: unknown }>(
      `/sim/gaps?symbol=BTCUSDT&market=spot&from=${DAY0}&to=${DAY0 + DAY}`,
    );
    expect(viaHttp.gaps).toEqual([GAP]);
  });

  it('has no 1m candles inside, and candles on both sides', async () => {
    const a = await spot(`interval=1m&startTime=${DAY0}&limit=1000`);
    const b = await spot(`interval=1m&startTime=${a.at(-1)![0] + 1}&endTime=${DAY0 + DAY - 1}&limit=1000`);
    const rows = [...a, ...b];
    expect(rows).toHaveLength(1440 - (GAP.to - GAP.from) / MIN);
    expect(rows.filter((r) => r[0] >= GAP.from && r[0] < GAP.to)).toEqual([]);
    expect(rows.map((r) => r[0])).toContain(GAP.from - MIN);
    expect(rows.map((r) => r[0])).toContain(GAP.to);
  });

  it('skips higher-interval candles wholly inside and aggregates the rest of partly covered ones', async () => {
    const hours = await spot(`interval=1h&startTime=${DAY0}&endTime=${DAY0 + 8 * HOUR}`);
    expect(hours.map((r) => new Date(r[0]).getUTCHours())).toEqual([0, 1, 2, 5, 6, 7, 8]);
    const two = hours.find((r) => r[0] === DAY0 + 2 * HOUR)!;
    expect(asCandle(two)).toEqual(
      aggregate(await spot(`interval=1m&startTime=${DAY0 + 2 * HOUR}&endTime=${GAP.from}`)),
    );
    const five = hours.find((r) => r[0] === DAY0 + 5 * HOUR)!;
    const after = await spot(`interval=1m&startTime=${DAY0 + 5 * HOUR}&endTime=${DAY0 + 6 * HOUR - 1}`);
    expect(after[0]![0]).toBe(GAP.to);
    expect(asCandle(five)).toEqual(aggregate(after));
    // Paging backwards (only endTime) jumps over the gap too.
    const back = await spot(`interval=1h&endTime=${DAY0 + 6 * HOUR}&limit=4`);
    expect(back.map((r) => new Date(r[0]).getUTCHours())).toEqual([1, 2, 5, 6]);
    const secs = await spot(`interval=1s&startTime=${GAP.from}&limit=2`);
    expect(secs.map((r) => r[0])).toEqual([GAP.to, GAP.to + 1000]);
  });

  it('has no trades inside, and trade ids run on across it', async () => {
    const before = await sim.json<Array<{ a: number; l: number; T: number }>>(
      `/api/v3/aggTrades?symbol=BTCUSDT&endTime=${GAP.from - 1}&limit=1`,
    );
    const after = await sim.json<Array<{ a: number; f: number; T: number }>>(
      `/api/v3/aggTrades?symbol=BTCUSDT&startTime=${GAP.from}&limit=1`,
    );
    expect(after[0]!.T).toBeGreaterThanOrEqual(GAP.to);
    expect(after[0]!.a).toBe(before[0]!.a + 1);
    expect(after[0]!.f).toBe(before[0]!.l + 1);
  });
});

describe('random maintenance windows', () => {
  it('are planted per series per year, and the data agrees with gapsIn', async () => {
    const year = { from: Date.UTC(2024, 0, 1), to: Date.UTC(2025, 0, 1) };
    const windows = sim.ex.gapsIn('ETHUSDT', 'spot', year.from, year.to);
    expect(windows.length).toBeGreaterThanOrEqual(1);
    expect(windows.length).toBeLessThanOrEqual(3);
    expect(windows).not.toEqual(sim.ex.gapsIn('ETHBTC', 'spot', year.from, year.to));
    for (const w of windows) {
      expect(w.to - w.from).toBeGreaterThanOrEqual(60 * MIN);
      const rows = await sim.json<Row[]>(
        `/api/v3/klines?symbol=ETHUSDT&interval=1m&startTime=${w.from - 5 * MIN}&endTime=${w.to + 4 * MIN}&limit=1000`,
      );
      const inside = (t: number) => t >= w.from && t < w.to;
      expect(rows.filter((r) => inside(r[0]))).toEqual([]);
      expect(rows.map((r) => r[0])).toEqual(
        [...range(w.from - 5 * MIN, w.from), ...range(w.to, w.to + 5 * MIN)].filter((t) => !inside(t)),
      );
    }
  });

  it('depend on the seed', () => {
    const span = [Date.UTC(2020, 0, 1), Date.UTC(2025, 0, 1)] as const;
    const a = createExchange({ seed: 1 }).gapsIn('BTCUSDT', 'usdm', ...span);
    expect(createExchange({ seed: 1 }).gapsIn('BTCUSDT', 'usdm', ...span)).toEqual(a);
    expect(createExchange({ seed: 2 }).gapsIn('BTCUSDT', 'usdm', ...span)).not.toEqual(a);
    expect(createExchange({ seed: 1, gaps: { perYear: 0 } }).gapsIn('BTCUSDT', 'usdm', ...span)).toEqual([]);
  });
});

describe('listing time', () => {
  it('has nothing before it', async () => {
    const s = await start({
      now: () => NOW,
      gaps: { perYear: 0 },
      symbols: [{ symbol: 'NEWUSDT', listingTime: Date.UTC(2025, 5, 20, 9, 30, 10) }],
    });
    try {
      const listing = s.ex.listingTime('NEWUSDT', 'spot');
      expect(listing).toBe(Date.UTC(2025, 5, 20, 9, 31));
      const day = await s.json<Row[]>(`/api/v3/klines?symbol=NEWUSDT&interval=1d&startTime=0`);
      expect(day.map((r) => r[0])).toEqual([Date.UTC(2025, 5, 20), Date.UTC(2025, 5, 21)]);
      const first = await s.json<Row[]>(`/api/v3/klines?symbol=NEWUSDT&interval=1m&startTime=0&limit=1`);
      expect(first[0]![0]).toBe(listing);
      expect(await s.json(`/api/v3/aggTrades?symbol=NEWUSDT&endTime=${listing - 1}`)).toEqual([]);
      const trades = await s.json<Array<{ id: number; time: number }>>(
        `/api/v3/historicalTrades?symbol=NEWUSDT&fromId=0&limit=1`,
      );
      expect(trades[0]!.id).toBe(0);
      expect(trades[0]!.time).toBeGreaterThanOrEqual(listing);
    } finally {
      await s.close();
    }
  });
});

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let t = from; t < to; t += MIN) out.push(t);
  return out;
}
