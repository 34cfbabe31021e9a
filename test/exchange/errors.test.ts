/** Binance's error answers: HTTP 400 with the exact compact `{code,msg}` bodies of the captures. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, HOUR, NOW, start, type Running } from './helpers.ts';

interface Observed {
  api: string;
  case: string;
  http_status: number | null;
  body: string;
}
const observed = fixture('rest/errors_observed.json') as Observed[];
const captured = (code: number, caseIncludes = '') =>
  observed.find((o) => o.body.includes(`"code":${code},`) && o.case.includes(caseIncludes))!;

let sim: Running;
beforeAll(async () => {
  sim = await start({ now: () => NOW, gaps: { perYear: 0 } });
});
afterAll(() => sim.close());

async function error(path: string) {
  const res = await sim.get(path);
  return { status: res.status, body: await res.text() };
}

describe('error answers', () => {
  it.each([
    ['/api/v3/klines?symbol=NOPE&interval=1m', -1121, ''],
    ['/api/v3/klines?symbol=BTCUSDT&interval=1D', -1120, ''],
    ['/api/v3/klines?interval=1m', -1102, 'symbol'],
    ['/api/v3/klines?symbol=btcusdt&interval=1m', -1100, 'symbol'],
    ['/api/v3/klines?symbol=BTCUSDT&interval=1m&endTime=abc', -1100, 'endTime'],
    ['/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime=2000&endTime=1000', -1023, ''],
    ['/fapi/v1/klines?symbol=BTCUSDT&interval=1s', -1120, ''],
  ])('%s → the captured body', async (path, code, caseIncludes) => {
    const want = captured(code, caseIncludes);
    expect(await error(path)).toEqual({ status: want.http_status, body: want.body });
  });

  it.each([
    ['/api/v3/exchangeInfo?symbol=NOPE', -1121],
    ['/api/v3/exchangeInfo?symbols=%5B%22BTCUSDT%22%2C%22NOPE%22%5D', -1121],
    ['/api/v3/aggTrades?symbol=NOPE', -1121],
    ['/api/v3/trades?symbol=ETHBTC&limit=0', -1130],
    ['/api/v3/depth?symbol=NOPE', -1121],
    ['/api/v3/klines?symbol=BTCUSDT', -1102],
    ['/api/v3/aggTrades?symbol=BTCUSDT&fromId=5&startTime=1', -1128],
    ['/fapi/v1/klines?symbol=ETHBTC&interval=1m', -1121],
    ['/fapi/v1/fundingRate?symbol=NOPE', -1121],
    ['/fapi/v1/depth?symbol=BTCUSDT&limit=7', -1130],
    [`/fapi/v1/aggTrades?symbol=BTCUSDT&startTime=${NOW - 2 * HOUR}&endTime=${NOW - HOUR}`, -1127],
  ])('%s → %i', async (path, code) => {
    const { status, body } = await error(path);
    expect(status).toBe(400);
    const parsed = JSON.parse(body) as { code: number; msg: string };
    expect(parsed.code).toBe(code);
    expect(Object.keys(parsed)).toEqual(['code', 'msg']);
  });

  it('names the missing parameter', async () => {
    expect(JSON.parse((await error('/api/v3/klines?symbol=BTCUSDT')).body)).toEqual({
      code: -1102,
      msg: "Mandatory parameter 'interval' was not sent, was empty/null, or malformed.",
    });
  });

  it('USD-M aggTrades accepts a window just under one hour', async () => {
    const res = await sim.get(
      `/fapi/v1/aggTrades?symbol=BTCUSDT&startTime=${NOW - HOUR}&endTime=${NOW - 1}&limit=5`,
    );
    expect(res.status).toBe(200);
  });
});
