/** Request weight per endpoint and per IP, 429 past the limit, 418 bans (binance.md §3). */
import { afterEach, describe, expect, it } from 'vitest';
import { start, type Running } from './helpers.ts';

const T0 = Date.UTC(2025, 5, 21, 12, 0, 0);
let sim: Running | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

/** A simulator on a manual clock (start of a weight window). */
async function manual(opts: Parameters<typeof start>[0] = {}) {
  const clock = { t: T0 };
  sim = await start({ gaps: { perYear: 0 }, now: () => clock.t, ...opts });
  return { sim, clock };
}

async function used(s: Running, path: string) {
  const res = await s.get(path);
  await res.arrayBuffer();
  const oneMinute = res.headers.get('x-mbx-used-weight-1m');
  expect(res.headers.get('x-mbx-used-weight')).toBe(oneMinute);
  return { status: res.status, used: Number(oneMinute), retryAfter: res.headers.get('retry-after') };
}

describe('endpoint weights', () => {
  it('spot: every answer reports the used weight of the window', async () => {
    const { sim } = await manual();
    const steps: Array<[string, number]> = [
      ['/api/v3/ping', 1],
      ['/api/v3/time', 1],
      ['/api/v3/exchangeInfo', 20],
      ['/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1000', 2],
      ['/api/v3/uiKlines?symbol=BTCUSDT&interval=1m&limit=1', 2],
      ['/api/v3/aggTrades?symbol=BTCUSDT&limit=1', 4],
      ['/api/v3/trades?symbol=BTCUSDT&limit=1', 25],
      ['/api/v3/historicalTrades?symbol=BTCUSDT&limit=1', 25],
      ['/api/v3/depth?symbol=BTCUSDT', 5],
      ['/api/v3/depth?symbol=BTCUSDT&limit=101', 25],
      ['/api/v3/depth?symbol=BTCUSDT&limit=1000', 50],
      ['/api/v3/depth?symbol=BTCUSDT&limit=5000', 250],
      ['/api/v3/depth?symbol=BTCUSDT&limit=9000', 250],
      // A request the exchange refuses still costs its weight.
      ['/api/v3/klines?symbol=NOPE&interval=1m', 2],
    ];
    let total = 0;
    for (const [path, w] of steps) {
      total += w;
      expect(await used(sim, path), path).toMatchObject({ used: total });
    }
  });

  it('USD-M: weight by limit, on a budget separate from spot', async () => {
    const { sim } = await manual();
    await used(sim, '/api/v3/exchangeInfo');
    const steps: Array<[string, number]> = [
      ['klines?symbol=BTCUSDT&interval=1m&limit=99', 1],
      ['klines?symbol=BTCUSDT&interval=1m&limit=100', 2],
      ['klines?symbol=BTCUSDT&interval=1m&limit=499', 2],
      ['klines?symbol=BTCUSDT&interval=1m', 5],
      ['klines?symbol=BTCUSDT&interval=1m&limit=1000', 5],
      ['klines?symbol=BTCUSDT&interval=1m&limit=1001', 10],
      ['depth?symbol=BTCUSDT&limit=50', 2],
      ['depth?symbol=BTCUSDT&limit=100', 5],
      ['depth?symbol=BTCUSDT', 10],
      ['depth?symbol=BTCUSDT&limit=1000', 20],
      ['aggTrades?symbol=BTCUSDT&limit=1', 20],
      ['fundingRate?symbol=BTCUSDT', 1],
      ['exchangeInfo', 1],
    ];
    let total = 0;
    for (const [path, w] of steps) {
      total += w;
      expect(await used(sim, `/fapi/v1/${path}`), path).toMatchObject({ used: total });
    }
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ used: 21 });
  });

  it('exchangeInfo reports the configured REQUEST_WEIGHT limit', async () => {
    const { sim } = await manual({ weightLimit: 1234, futuresWeightLimit: 2400 });
    const spot = await sim.json<{
      rateLimits: Array<{ rateLimitType: string; limit: number; interval: string }>;
    }>('/api/v3/exchangeInfo');
    expect(spot.rateLimits[0]).toEqual({
      rateLimitType: 'REQUEST_WEIGHT',
      interval: 'MINUTE',
      intervalNum: 1,
      limit: 1234,
    });
    const fut = await sim.json<typeof spot>('/fapi/v1/exchangeInfo');
    expect(fut.rateLimits[0]!.limit).toBe(2400);
  });
});

describe('limits and bans', () => {
  it('fixed windows: the count restarts when the window turns', async () => {
    const { sim, clock } = await manual({ weightWindowMs: 10_000 });
    await used(sim, '/api/v3/exchangeInfo');
    clock.t += 9_999;
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ used: 21 });
    clock.t += 1;
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ used: 1 });
  });

  it('429 past the limit with Retry-After until the window resets, 418 on the 3rd request after it, ban lifts', async () => {
    const { sim, clock } = await manual({ weightLimit: 100, weightWindowMs: 10_000, banMs: 25_000 });
    const trades = '/api/v3/trades?symbol=ETHBTC&limit=1';
    for (let i = 1; i <= 4; i++) expect(await used(sim, trades)).toMatchObject({ status: 200, used: 25 * i });
    clock.t += 2_500;
    const res = await sim.get(trades);
    expect(res.status).toBe(429);
    expect(res.headers.get('retry-after')).toBe('8');
    expect(res.headers.get('x-mbx-used-weight-1m')).toBe('125');
    expect(await res.json()).toEqual({
      code: -1003,
      msg: 'Too much request weight used; current limit is 100 request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API.',
    });
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 429 });
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 429 });
    const banned = await sim.get('/api/v3/ping');
    expect(banned.status).toBe(418);
    expect(banned.headers.get('retry-after')).toBe('25');
    const until = T0 + 2_500 + 25_000;
    expect(await banned.json()).toEqual({
      code: -1003,
      msg: `Way too much request weight used; IP banned until ${until}. Please use WebSocket Streams for live updates to avoid bans.`,
    });
    // A new window does not lift the ban; its end does.
    clock.t = T0 + 20_000;
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 418, retryAfter: '8' });
    expect(await used(sim, '/fapi/v1/ping')).toMatchObject({ status: 200 });
    clock.t = until;
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 200, used: 1 });
    const stats = await sim.json<{
      rateLimited429: number;
      banned418: number;
      windows: { spot: Array<{ weight: number }> };
    }>('/sim/stats');
    expect(stats.rateLimited429).toBe(3);
    expect(stats.banned418).toBe(2);
    expect(stats.windows.spot[0]!.weight).toBe(127);
  });

  it('limit 0 is unlimited', async () => {
    const { sim } = await manual({ weightLimit: 0 });
    for (let i = 0; i < 25; i++) await used(sim, '/api/v3/depth?symbol=BTCUSDT&limit=1001');
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 200, used: 25 * 250 + 1 });
  });

  it('POST /sim/reset clears weights, bans and counters', async () => {
    const { sim } = await manual({ weightLimit: 10, banAfter: 1 });
    await used(sim, '/api/v3/exchangeInfo');
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 418 });
    expect((await fetch(`${sim.url}/sim/reset`, { method: 'POST' })).status).toBe(200);
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 200, used: 1 });
    expect(await sim.json('/sim/stats')).toMatchObject({ requests: 1, rateLimited429: 0, banned418: 0 });
  });

  it('on the real clock a ban lifts after Retry-After', async () => {
    sim = await start({
      gaps: { perYear: 0 },
      weightLimit: 5,
      weightWindowMs: 1_000,
      banMs: 1_200,
      banAfter: 1,
    });
    let last = { status: 200, used: 0, retryAfter: null as string | null };
    for (let i = 0; i < 20 && last.status !== 418; i++)
      last = await used(sim, '/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=1');
    expect(last).toMatchObject({ status: 418, retryAfter: '2' });
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await used(sim, '/api/v3/ping')).toMatchObject({ status: 200, used: 1 });
  });
});
