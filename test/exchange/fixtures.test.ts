/** The simulator's JSON has the captured payloads' field types, key sets and key order. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, HOUR, NOW, start, type Running } from './helpers.ts';

/** Type skeleton: primitives → typeof; arrays of primitives → tuple of types; lists → shape of items (all equal). */
function shape(v: unknown): unknown {
  if (v === null) return 'null';
  if (Array.isArray(v)) {
    if (v.length === 0) return [];
    if (v.every((x) => x === null || typeof x !== 'object')) return v.map(shape);
    const first = shape(v[0]);
    for (const x of v) expect(shape(x)).toEqual(first);
    return [first];
  }
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => [k, shape(x)]);
  return typeof v;
}

const docs = {
  spot: fixture('docs/spot_rest_examples.json') as Record<string, unknown>,
  usdm: fixture('docs/futures_um_rest_examples.json') as Record<string, unknown>,
};
const rest = (name: string) => fixture(`rest/${name}.json`);

let sim: Running;
beforeAll(async () => {
  sim = await start({ now: () => NOW, gaps: { perYear: 0 } });
});
afterAll(() => sim.close());

const T = NOW - 3 * HOUR;

describe('payload shapes match the captures', () => {
  it.each([
    [
      'spot klines',
      '/api/v3/klines?symbol=ETHBTC&interval=1m&limit=10',
      [rest('spot_klines_ETHBTC_1m_2025-06-21'), rest('spot_klines_BTCUSDT_1m_2021-10-22')],
    ],
    [
      'USD-M klines',
      '/fapi/v1/klines?symbol=BTCUSDT&interval=1h&limit=3',
      [docs.usdm['GET /fapi/v1/klines']],
    ],
    [
      'spot aggTrades',
      `/api/v3/aggTrades?symbol=BTCUSDT&startTime=${T}&limit=5`,
      [rest('spot_aggTrades_BTCUSDT_2021-10-22'), docs.spot['GET /api/v3/aggTrades']],
    ],
    [
      'USD-M aggTrades',
      `/fapi/v1/aggTrades?symbol=ETHUSDT&startTime=${T}&limit=5`,
      [docs.usdm['GET /fapi/v1/aggTrades']],
    ],
    [
      'trades',
      '/api/v3/trades?symbol=BTCUSDT&limit=5',
      [rest('spot_trades_BTCUSDT_2021-10-22'), docs.spot['GET /api/v3/trades']],
    ],
    [
      'historicalTrades',
      '/api/v3/historicalTrades?symbol=BTCUSDT&fromId=1000&limit=5',
      [rest('spot_historicalTrades_BTCUSDT_2021-10-22')],
    ],
    [
      'spot depth',
      '/api/v3/depth?symbol=BTCUSDT&limit=10',
      [rest('spot_depth_BTCUSDT_10levels_2021-10-22'), rest('spot_depth_NKNUSDT_limit1000_2021-10-11')],
    ],
    [
      'USD-M depth',
      '/fapi/v1/depth?symbol=BTCUSDT&limit=1000',
      [rest('futures_um_depth_SUSHIUSDT_limit1000_2021-07-22'), docs.usdm['GET /fapi/v1/depth']],
    ],
    ['fundingRate', '/fapi/v1/fundingRate?symbol=BTCUSDT&limit=3', [docs.usdm['GET /fapi/v1/fundingRate']]],
    ['ping', '/api/v3/ping', [docs.spot['GET /api/v3/ping']]],
    ['time', '/api/v3/time', [rest('spot_time_2025-06-21')]],
    ['error body', '/api/v3/klines?symbol=NOPE&interval=1m', [docs.spot['error_payload_example']]],
  ])('%s', async (_name, path, captures) => {
    const body: unknown = await (await sim.get(path)).json();
    expect(Array.isArray(body) ? body.length : 1).toBeGreaterThan(0);
    for (const capture of captures) expect(shape(body)).toEqual(shape(capture));
  });

  it('exchangeInfo: top-level keys and symbol entries as captured', async () => {
    const spot = await sim.json<Record<string, unknown> & { symbols: Array<Record<string, unknown>> }>(
      '/api/v3/exchangeInfo',
    );
    const spotCapture = rest('spot_exchangeInfo_2025-06-21_ETHBTC_only') as typeof spot;
    expect(Object.keys(spot)).toEqual(Object.keys(spotCapture));
    expect(Object.keys(spot)).toEqual(Object.keys(rest('spot_exchangeInfo_2021-10-11_trimmed') as object));
    expect(spot.symbols.map((s) => s['symbol'])).toEqual(['BTCUSDT', 'ETHUSDT', 'ETHBTC']);
    expect(Object.keys(spot.symbols[0]!)).toEqual(Object.keys(spotCapture.symbols[0]!));
    const usdm = await sim.json<typeof spot>('/fapi/v1/exchangeInfo');
    const usdmCapture = rest('futures_um_exchangeInfo_2021-07-21_trimmed') as typeof spot;
    expect(Object.keys(usdm)).toEqual(Object.keys(usdmCapture));
    expect(Object.keys(usdm.symbols[0]!)).toEqual(Object.keys(usdmCapture.symbols[0]!));
    expect(shape(usdm.rateLimits)).toEqual(shape(usdmCapture['rateLimits']));
    const one = await sim.json<typeof spot>('/api/v3/exchangeInfo?symbol=ETHBTC&showPermissionSets=false');
    expect(one.symbols.map((s) => [s['symbol'], s['permissionSets']])).toEqual([['ETHBTC', []]]);
  });

  it('decimal strings follow the capture style: 8 decimals on spot, the symbol precision on USD-M', async () => {
    const [spot] = await sim.json<string[][]>('/api/v3/klines?symbol=ETHBTC&interval=1m&limit=1');
    for (const i of [1, 2, 3, 4, 5, 7, 9, 10]) expect(spot![i]).toMatch(/^\d+\.\d{8}$/);
    const depth = await sim.json<{ bids: string[][] }>('/fapi/v1/depth?symbol=BTCUSDT&limit=5');
    expect(depth.bids[0]).toEqual([
      expect.stringMatching(/^\d+\.\d{2}$/),
      expect.stringMatching(/^\d+\.\d{3}$/),
    ]);
    const [funding] = await sim.json<Array<{ fundingRate: string; markPrice: string; fundingTime: number }>>(
      '/fapi/v1/fundingRate?symbol=ETHUSDT&limit=1',
    );
    expect(funding!.fundingRate).toMatch(/^-?\d\.\d{8}$/);
    expect(funding!.markPrice).toMatch(/^\d+\.\d{8}$/);
    expect(funding!.fundingTime % (8 * HOUR)).toBe(0);
  });
});
