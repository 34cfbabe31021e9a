/**
 * Kline streams (binance.md §4): updates of the open candle with `x: false`, exactly one final
 * `x: true` update per candle once it closes, with the values REST klines give for that open
 * time and f…L = the ids of the candle's first and last trades.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RawKline } from '../../shared/contracts/binance.ts';
import { connect, sleep, startWs, type KlineEv, type WsRunning } from './ws-helpers.ts';

let sim: WsRunning;
beforeAll(async () => {
  sim = await startWs();
});
afterAll(() => sim.close());

describe('kline streams', () => {
  it('1s: one x:true update per candle, equal to the REST kline; f…L are its trades', async () => {
    const c = await connect(`${sim.wsUrl}/ws/btcusdt@kline_1s`);
    await sleep(2600);
    c.close();
    const ks = c.events<KlineEv>();
    expect(Object.keys(ks[0]!)).toEqual(['e', 'E', 's', 'k']);
    expect(Object.keys(ks[0]!.k)).toEqual([
      't',
      'T',
      's',
      'i',
      'f',
      'L',
      'o',
      'c',
      'h',
      'l',
      'v',
      'n',
      'x',
      'q',
      'V',
      'Q',
      'B',
    ]);
    const finals = ks.filter((k) => k.k.x);
    expect(finals.length).toBeGreaterThanOrEqual(2);
    // Exactly one final per open time, and no update of a candle after its final.
    expect(new Set(finals.map((k) => k.k.t)).size).toBe(finals.length);
    for (const f of finals) {
      const later = ks.slice(ks.indexOf(f) + 1).filter((k) => k.k.t === f.k.t);
      expect(later).toHaveLength(0);
    }
    for (const f of finals) {
      const k = f.k;
      const [row] = await sim.json<RawKline[]>(
        `/api/v3/klines?symbol=BTCUSDT&interval=1s&startTime=${k.t}&limit=1`,
      );
      expect([k.t, k.o, k.h, k.l, k.c, k.v, k.T, k.q, k.n, k.V, k.Q]).toEqual(row!.slice(0, 11));
      expect(f.E).toBeGreaterThan(k.T);
      if (k.n > 0) {
        const trades = await sim.json<Array<{ id: number; time: number }>>(
          `/api/v3/historicalTrades?symbol=BTCUSDT&fromId=${k.f - 1}&limit=${k.n + 2}`,
        );
        expect(k.L - k.f + 1).toBe(k.n);
        const inside = trades.filter((t) => t.time >= k.t && t.time <= k.T).map((t) => t.id);
        expect(inside).toEqual(Array.from({ length: k.n }, (_, i) => k.f + i));
      }
    }
    // Open-candle updates are x:false and at most one per second per candle.
    const open = ks.filter((k) => !k.k.x);
    expect(open.length).toBeGreaterThan(0);
  });

  it('1m on USD-M: x:false updates every 2 s with the values REST shows at that moment', async () => {
    const c = await connect(`${sim.wsUrl}/usdm/ws/btcusdt@kline_1m`);
    const first = await c.waitEvent<KlineEv>();
    expect(first.k.x).toBe(false);
    expect(first.k.i).toBe('1m');
    const { k, E } = first;
    const [row] = sim.ex.data.klines('usdm', 'BTCUSDT', '1m', { startTime: k.t, limit: 1 }, E);
    expect([k.t, k.o, k.h, k.l, k.c, k.v, k.T, k.q, k.n, k.V, k.Q]).toEqual(row!.slice(0, 11));
    const second = await c.waitEvent<KlineEv>((e) => e.E > E, { timeoutMs: 3000 });
    c.close();
    // Usually 2 s apart; a minute boundary brings the final of the old and the first of the new.
    expect(second.E - E >= 1900 || second.k.t !== k.t).toBe(true);
  });
});
