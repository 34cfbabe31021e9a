/** Same seed, same market — whatever was asked before; another seed, another market. */
import { describe, expect, it } from 'vitest';
import { createExchange } from '../../functions/dummy-service/exchange/exchange.ts';
import { DAY, HOUR, NOW, start } from './helpers.ts';

const T = Date.UTC(2024, 8, 3, 4, 5);

/** A fixed list of queries against an exchange's generator. */
function sample(seed: number, order: 'forward' | 'reverse') {
  const ex = createExchange({ seed });
  const d = ex.data;
  const queries: Array<() => unknown> = [
    () => d.klines('spot', 'BTCUSDT', '1m', { startTime: T, limit: 200 }, NOW),
    () => d.klines('spot', 'ETHBTC', '1h', { endTime: T, limit: 100 }, NOW),
    () => d.klines('usdm', 'ETHUSDT', '1d', { startTime: T - 5 * DAY, limit: 4 }, NOW),
    () => d.klines('spot', 'ETHUSDT', '1s', { startTime: T + HOUR, limit: 300 }, NOW),
    () => d.aggTrades('spot', 'BTCUSDT', { startTime: T, endTime: T + 120_000, limit: 1000 }, NOW),
    () => d.trades('spot', 'ETHBTC', { fromId: 5_000_000, limit: 300 }, NOW),
    () => d.aggTrades('usdm', 'BTCUSDT', { limit: 100 }, NOW),
    () => d.fundingRate(['BTCUSDT', 'ETHUSDT'], { startTime: T, limit: 10 }, NOW),
    () => d.depth('spot', 'BTCUSDT', 20, NOW),
  ];
  const idx = queries.map((_, i) => i);
  if (order === 'reverse') idx.reverse();
  const out: unknown[] = [];
  for (const i of idx) out[i] = queries[i]!();
  return out;
}

describe('determinism', () => {
  it('the same seed gives the same data, in any query order', () => {
    expect(sample(42, 'reverse')).toEqual(sample(42, 'forward'));
  });

  it('a different seed gives different data for every query', () => {
    const a = sample(42, 'forward');
    const b = sample(43, 'forward');
    a.forEach((x, i) => expect(b[i], `query ${i}`).not.toEqual(x));
  });

  it('two servers with the same seed answer byte-identically', async () => {
    const [s1, s2] = await Promise.all([
      start({ seed: 5, now: () => NOW }),
      start({ seed: 5, now: () => NOW }),
    ]);
    try {
      for (const p of [
        `/api/v3/klines?symbol=ETHUSDT&interval=15m&startTime=${T}`,
        `/api/v3/aggTrades?symbol=ETHBTC&fromId=777`,
        `/fapi/v1/klines?symbol=BTCUSDT&interval=1m&endTime=${T}&limit=1500`,
      ]) {
        const [a, b] = await Promise.all([s1.get(p), s2.get(p)]);
        expect(await b.text()).toBe(await a.text());
      }
    } finally {
      await Promise.all([s1.close(), s2.close()]);
    }
  });
});
