/**
 * Connection limits (binance.md §4, §6): incoming messages per second (close 1008, counted),
 * server pings and the pong timeout, the maximum connection age (close 1001), connection
 * attempts per IP (429 on the upgrade).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { connect, sleep, startWs, type WsRunning } from './ws-helpers.ts';

let sim: WsRunning | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

describe('limits', () => {
  it('more than 5 incoming messages in 1 s on spot closes with 1008 and counts a violation', async () => {
    sim = await startWs();
    const c = await connect(`${sim.wsUrl}/ws/btcusdt@trade`);
    for (let i = 1; i <= 6; i++) c.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: i }));
    expect(await c.closed).toEqual({ code: 1008, reason: 'too many messages' });
    const replies = c.messages.filter((m) => 'result' in m.data);
    expect(replies).toHaveLength(5);
    const stats = sim.ws.stats();
    expect(stats.violations).toBe(1);
    expect(stats.maxIncomingPerSecond).toBe(6);
  });

  it('a client that keeps to the limit stays connected; stats show its busiest second', async () => {
    sim = await startWs();
    const c = await connect(`${sim.wsUrl}/usdm/ws`);
    // USD-M allows 10 per second: 10 at once, then 10 more a second later.
    for (let i = 1; i <= 10; i++) c.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: i }));
    await sleep(1150);
    for (let i = 11; i <= 20; i++) c.ws.send(JSON.stringify({ method: 'LIST_SUBSCRIPTIONS', id: i }));
    await c.waitFor((m) => m.data.id === 20);
    const stats = await sim.json<{
      violations: number;
      connections: Array<{ maxIncomingPerSecond: number }>;
    }>('/sim/ws/stats');
    expect(stats.violations).toBe(0);
    expect(stats.connections[0]!.maxIncomingPerSecond).toBe(10);
    c.close();
  });

  it('server pings; a client that does not pong is closed after pongTimeoutMs', async () => {
    sim = await startWs({
      ws: { spot: { pingIntervalMs: 100, pongTimeoutMs: 300, maxIncomingPerSecond: 50 } },
    });
    const good = await connect(`${sim.wsUrl}/ws`);
    // Taken before connecting: the server's clock for this connection starts later.
    const opened = Date.now();
    const deaf = await connect(`${sim.wsUrl}/ws`, { autoPong: false });
    const closed = await deaf.closed;
    expect(closed).toEqual({ code: 1001, reason: 'pong timeout' });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(390);
    expect(Date.now() - opened).toBeLessThan(1500);
    await sleep(300);
    expect(good.pings.length).toBeGreaterThanOrEqual(4);
    expect(good.ws.readyState).toBe(good.ws.OPEN);
    expect(sim.ws.stats().pongTimeouts).toBe(1);
    good.close();
  });

  it('every connection is closed with 1001 after maxConnectionMs', async () => {
    sim = await startWs({ ws: { maxConnectionMs: 400 } });
    const opened = Date.now();
    const c = await connect(`${sim.wsUrl}/stream?streams=btcusdt@aggTrade`);
    expect(await c.closed).toEqual({ code: 1001, reason: 'max connection time' });
    expect(Date.now() - opened).toBeGreaterThanOrEqual(395);
    expect(c.messages.length).toBeGreaterThan(0);
    expect(sim.ws.stats().maxConnectionCuts).toBe(1);
  });

  it('connection attempts beyond the per-IP limit get HTTP 429', async () => {
    sim = await startWs({ ws: { connectLimit: 3 } });
    const open = [];
    for (let i = 0; i < 3; i++) open.push(await connect(`${sim.wsUrl}/ws`));
    await expect(connect(`${sim.wsUrl}/ws`)).rejects.toThrow('HTTP 429');
    // Attempts count, not open connections: closing one does not free a slot in the window.
    open[0]!.close();
    await sleep(50);
    await expect(connect(`${sim.wsUrl}/usdm/ws`)).rejects.toThrow('HTTP 429');
    expect(sim.ws.stats()).toMatchObject({ refused: 2, connectionsOpened: 3 });
    for (const c of open) c.close();
  });
});
