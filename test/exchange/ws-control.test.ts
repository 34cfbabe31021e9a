/**
 * Paths (raw, combined, bare, /usdm prefix) and control messages (binance.md §4): SUBSCRIBE,
 * UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET/GET_PROPERTY, error replies and the stream limit.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect, sleep, startWs, type AggEv, type WsRunning } from './ws-helpers.ts';

let sim: WsRunning;
beforeAll(async () => {
  // Generous message limits here; the limit itself is tested in ws-limits.test.ts.
  sim = await startWs({
    ws: { spot: { maxIncomingPerSecond: 100 }, usdm: { maxIncomingPerSecond: 100, maxStreams: 3 } },
  });
});
afterAll(() => sim.close());

describe('paths', () => {
  it('raw /ws/<stream> sends bare events, /stream?streams= wraps them', async () => {
    const raw = await connect(`${sim.wsUrl}/ws/btcusdt@aggTrade`);
    const combined = await connect(`${sim.wsUrl}/stream?streams=btcusdt@aggTrade/ethusdt@bookTicker`);
    const r = await raw.waitFor(() => true);
    expect(r.data.e).toBe('aggTrade');
    const c = await combined.waitFor((m) => m.data.stream === 'btcusdt@aggTrade');
    expect(Object.keys(c.data)).toEqual(['stream', 'data']);
    expect((c.data.data as AggEv).e).toBe('aggTrade');
    const bt = await combined.waitEvent<object>(undefined, { stream: 'ethusdt@bookTicker' });
    expect(Object.keys(bt)).toEqual(['u', 's', 'b', 'B', 'a', 'A']);
    expect(await combined.request('LIST_SUBSCRIPTIONS')).toEqual({
      result: ['btcusdt@aggTrade', 'ethusdt@bookTicker'],
      id: 1,
    });
    raw.close();
    combined.close();
  });

  it('USD-M lives under /usdm; spot names are unknown there and vice versa', async () => {
    const c = await connect(`${sim.wsUrl}/usdm/stream?streams=btcusdt@bookTicker`);
    const bt = await c.waitEvent<object>();
    expect(Object.keys(bt)).toEqual(['e', 'u', 's', 'b', 'B', 'a', 'A', 'T', 'E']);
    c.close();
    await expect(connect(`${sim.wsUrl}/usdm/ws/ethusdt@trade`)).rejects.toThrow('HTTP 400');
    await expect(connect(`${sim.wsUrl}/usdm/ws/btcusdt@kline_1s`)).rejects.toThrow('HTTP 400');
    await expect(connect(`${sim.wsUrl}/ws/nope@trade`)).rejects.toThrow('HTTP 400');
    await expect(connect(`${sim.wsUrl}/elsewhere`)).rejects.toThrow('HTTP 404');
    // timeUnit is accepted (and ignored: times stay in ms).
    (await connect(`${sim.wsUrl}/stream?streams=btcusdt@trade&timeUnit=MILLISECOND`)).close();
  });
});

describe('control messages', () => {
  it('SUBSCRIBE, LIST_SUBSCRIPTIONS, UNSUBSCRIBE on a bare /ws', async () => {
    const c = await connect(`${sim.wsUrl}/ws`);
    expect(await c.request('SUBSCRIBE', ['btcusdt@aggTrade', 'btcusdt@depth@100ms'])).toEqual({
      result: null,
      id: 1,
    });
    expect((await c.request('LIST_SUBSCRIPTIONS')).result).toEqual([
      'btcusdt@aggTrade',
      'btcusdt@depth@100ms',
    ]);
    await c.waitEvent<{ e: string }>((e) => e.e === 'aggTrade');
    await c.waitEvent<{ e: string }>((e) => e.e === 'depthUpdate');
    expect(await c.request('UNSUBSCRIBE', ['btcusdt@aggTrade', 'btcusdt@depth@100ms'])).toEqual({
      result: null,
      id: 3,
    });
    expect((await c.request('LIST_SUBSCRIPTIONS')).result).toEqual([]);
    await sleep(100);
    const n = c.messages.length;
    await sleep(400);
    expect(c.messages.length).toBe(n);
    expect(sim.ws.stats().topics).toBe(0);
    c.close();
  });

  it('SET_PROPERTY combined switches raw to combined; GET_PROPERTY reads it', async () => {
    const c = await connect(`${sim.wsUrl}/ws/btcusdt@aggTrade`);
    expect(await c.request('GET_PROPERTY', ['combined'])).toEqual({ result: false, id: 1 });
    expect(await c.request('SET_PROPERTY', ['combined', true])).toEqual({ result: null, id: 2 });
    expect(await c.request('GET_PROPERTY', ['combined'])).toEqual({ result: true, id: 3 });
    const at = c.messages.length;
    const m = await c.waitFor((x) => x.data.stream !== undefined, 3000, at);
    expect(m.data.stream).toBe('btcusdt@aggTrade');
    expect(await c.request('SET_PROPERTY', ['combined', 'yes'])).toEqual({
      error: { code: 1, msg: 'Invalid value type: expected Boolean' },
      id: 4,
    });
    expect((await c.request('GET_PROPERTY', ['colour'])).error?.code).toBe(0);
    c.close();
  });

  it('errors: unknown symbol or stream (code 2, nothing subscribed), invalid JSON (code 3), unknown method', async () => {
    const c = await connect(`${sim.wsUrl}/ws`);
    expect(await c.request('SUBSCRIBE', ['btcusdt@trade', 'bnbxyz@trade'])).toEqual({
      error: { code: 2, msg: "Invalid request: unknown symbol 'BNBXYZ' in stream 'bnbxyz@trade'" },
      id: 1,
    });
    expect((await c.request('SUBSCRIBE', ['btcusdt@kline_7m'])).error?.code).toBe(2);
    expect((await c.request('LIST_SUBSCRIPTIONS')).result).toEqual([]);
    c.ws.send('{"method":');
    const bad = await c.waitFor((m) => m.data.error?.code === 3);
    expect(bad.data.id).toBeNull();
    expect((await c.request('SUBSCRIBE_ALL')).error?.code).toBe(2);
    c.close();
  });

  it('stream limit per connection: SUBSCRIBE beyond it fails whole, a URL beyond it gets 400', async () => {
    const c = await connect(`${sim.wsUrl}/usdm/ws/btcusdt@trade`);
    const more = ['btcusdt@aggTrade', 'btcusdt@depth', 'btcusdt@kline_1m'];
    const reply = await c.request('SUBSCRIBE', more);
    expect(reply.error?.code).toBe(2);
    expect(reply.error?.msg).toMatch(/too many streams/);
    expect((await c.request('LIST_SUBSCRIPTIONS')).result).toEqual(['btcusdt@trade']);
    expect(await c.request('SUBSCRIBE', more.slice(0, 2))).toEqual({ result: null, id: 3 });
    // Subscribing again to a subscribed stream does not count twice.
    expect(await c.request('SUBSCRIBE', ['btcusdt@trade'])).toEqual({ result: null, id: 4 });
    c.close();
    await expect(connect(`${sim.wsUrl}/usdm/stream?streams=btcusdt@trade/${more.join('/')}`)).rejects.toThrow(
      'HTTP 400',
    );
  });
});
