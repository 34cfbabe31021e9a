/** Funding history (binance.md §6) and order-book snapshots. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR, NOW, start, units, type Running } from './helpers.ts';

interface Funding {
  symbol: string;
  fundingRate: string;
  fundingTime: number;
  markPrice: string;
}
interface Book {
  lastUpdateId: number;
  bids: Array<[string, string]>;
  asks: Array<[string, string]>;
}

const clock = { t: NOW };
let sim: Running;
beforeAll(async () => {
  sim = await start({ now: () => clock.t, gaps: { perYear: 0 } });
});
afterAll(() => sim.close());

const funding = (q: string) => sim.json<Funding[]>(`/fapi/v1/fundingRate?${q}`);

describe('fundingRate', () => {
  it('every 8 h at 00:00/08:00/16:00 UTC, newest 100 by default', async () => {
    const rows = await funding('symbol=BTCUSDT');
    expect(rows).toHaveLength(100);
    expect(rows.at(-1)!.fundingTime).toBe(Date.UTC(2025, 5, 21, 8));
    rows.forEach((r, i) => {
      expect(r.symbol).toBe('BTCUSDT');
      expect([0, 8, 16]).toContain(new Date(r.fundingTime).getUTCHours());
      if (i > 0) expect(r.fundingTime - rows[i - 1]!.fundingTime).toBe(8 * HOUR);
    });
  });

  it('startTime and endTime are inclusive; limit is cut to 1000', async () => {
    const s = Date.UTC(2024, 0, 1);
    const rows = await funding(`symbol=ETHUSDT&startTime=${s}&endTime=${s + 16 * HOUR}`);
    expect(rows.map((r) => r.fundingTime)).toEqual([s, s + 8 * HOUR, s + 16 * HOUR]);
    expect(await funding(`symbol=ETHUSDT&startTime=${s}&limit=5000`)).toHaveLength(1000);
  });

  it('without symbol covers every USD-M symbol; nothing before the listing', async () => {
    const rows = await funding(`startTime=${Date.UTC(2024, 0, 1)}&limit=4`);
    expect(rows.map((r) => r.symbol)).toEqual(['BTCUSDT', 'ETHUSDT', 'BTCUSDT', 'ETHUSDT']);
    const first = await funding('symbol=ETHUSDT&startTime=0&limit=1');
    expect(first[0]!.fundingTime).toBeGreaterThanOrEqual(sim.ex.listingTime('ETHUSDT', 'usdm'));
    expect(first[0]!.fundingTime - sim.ex.listingTime('ETHUSDT', 'usdm')).toBeLessThan(8 * HOUR);
  });
});

describe('depth', () => {
  const book = (q: string) => sim.json<Book>(`/api/v3/depth?${q}`);
  it('bids descend, asks ascend, the spread is positive; limit default 100; the model has 100 levels a side', async () => {
    const b = await book('symbol=ETHUSDT');
    expect([b.bids.length, b.asks.length]).toEqual([100, 100]);
    const bids = b.bids.map(([p]) => units(p));
    const asks = b.asks.map(([p]) => units(p));
    bids.forEach((p, i) => i > 0 && expect(p < bids[i - 1]!).toBe(true));
    asks.forEach((p, i) => i > 0 && expect(p > asks[i - 1]!).toBe(true));
    expect(bids[0]! < asks[0]!).toBe(true);
    // The book model (book.ts) holds `bookLevels` (default 100) per side: a larger limit gets them all.
    expect((await book('symbol=ETHUSDT&limit=7000')).asks).toHaveLength(100);
    expect((await book('symbol=ETHUSDT&limit=5')).asks).toEqual(b.asks.slice(0, 5));
  });

  it('sits inside the traded range of its minute (open → close path); its update id grows with time', async () => {
    const a = await book('symbol=BTCUSDT&limit=5');
    const minute = NOW - (NOW % 60_000);
    const [k] = sim.ex.data.klines('spot', 'BTCUSDT', '1m', { startTime: minute, limit: 1 }, minute + 60_000);
    const bestBid = units(a.bids[0]![0]);
    expect(bestBid).toBeGreaterThanOrEqual(units(k![3]));
    expect(bestBid).toBeLessThanOrEqual(units(k![2]));
    // One tick (0.01 = 1_000_000 units of 8 decimals) spread.
    expect(units(a.asks[0]![0]) - bestBid).toBe(1_000_000n);
    clock.t += 1_000;
    try {
      expect((await book('symbol=BTCUSDT&limit=5')).lastUpdateId).toBeGreaterThan(a.lastUpdateId);
    } finally {
      clock.t = NOW;
    }
  });
});
