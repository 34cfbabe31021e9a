/**
 * WebSocket faults, on demand (POST /sim/ws/faults) and periodic (config): disconnect (the client
 * sees 1006), stall (nothing at all for stallMs, the events meanwhile are never sent), dropRate
 * (deterministic by seed and event id), and the stats/reset endpoints.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  connect,
  sleep,
  startWs,
  type AggEv,
  type Client,
  type DepthEv,
  type WsRunning,
} from './ws-helpers.ts';

let sim: WsRunning | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const fault = (s: WsRunning, body: unknown) =>
  fetch(`${s.url}/sim/ws/faults`, { method: 'POST', body: JSON.stringify(body) });

const aggIds = (c: Client) => c.events<AggEv>().map((e) => e.a);

describe('faults', () => {
  it('disconnect terminates every socket without a close frame: the client sees 1006', async () => {
    sim = await startWs();
    const a = await connect(`${sim.wsUrl}/ws/btcusdt@trade`);
    const b = await connect(`${sim.wsUrl}/usdm/stream?streams=btcusdt@aggTrade`);
    expect((await fault(sim, { disconnect: true })).status).toBe(200);
    expect((await a.closed).code).toBe(1006);
    expect((await b.closed).code).toBe(1006);
    expect(sim.ws.stats().disconnects).toBe(2);
  });

  it('stall: no message at all (no events, no pings) for stallMs; what happened meanwhile is skipped', async () => {
    sim = await startWs({ ws: { spot: { pingIntervalMs: 100, maxIncomingPerSecond: 50 } } });
    const c = await connect(`${sim.wsUrl}/ws/btcusdt@aggTrade`);
    await sleep(500);
    const t0 = Date.now();
    const pingsBefore = c.pings.length;
    expect((await fault(sim, { stallMs: 800 })).status).toBe(200);
    await sleep(1400);
    c.close();
    const quiet = c.messages.filter((m) => m.at > t0 + 60 && m.at < t0 + 780);
    expect(quiet).toHaveLength(0);
    expect(c.pings.filter((p) => p > t0 + 60 && p < t0 + 780)).toHaveLength(0);
    expect(c.pings.length).toBeGreaterThan(pingsBefore);
    const before = c.events<AggEv>(undefined, (m) => m.at <= t0 + 60).map((e) => e.a);
    const after = c.events<AggEv>(undefined, (m) => m.at >= t0 + 780).map((e) => e.a);
    expect(after.length).toBeGreaterThan(10);
    // ~100 aggregated trades/s: the 800 ms of silence lost dozens of them.
    expect(after[0]! - before.at(-1)!).toBeGreaterThan(20);
    expect(sim.ws.stats()).toMatchObject({ stalls: 1, stalled: false });
  });

  it('dropRate drops the same events on every connection (by seed and id); REST still has them', async () => {
    sim = await startWs();
    expect((await fault(sim, { dropRate: 0.3 })).status).toBe(200);
    const a = await connect(`${sim.wsUrl}/ws/btcusdt@aggTrade`);
    const b = await connect(`${sim.wsUrl}/stream?streams=btcusdt@aggTrade`);
    await sleep(1000);
    a.close();
    b.close();
    const [ia, ib] = [aggIds(a), aggIds(b)];
    const span = ia.at(-1)! - ia[0]! + 1;
    expect(ia.length / span).toBeGreaterThan(0.5);
    expect(ia.length / span).toBeLessThan(0.9);
    const common = ia.filter((id) => id >= ib[0]! && id <= ib.at(-1)!);
    expect(common).toEqual(ib.filter((id) => id >= ia[0]! && id <= ia.at(-1)!));
    expect(sim.ws.stats().dropped).toBeGreaterThan(0);
    const rest = await sim.json<Array<{ a: number }>>(
      `/api/v3/aggTrades?symbol=BTCUSDT&fromId=${ia[0]}&limit=${span}`,
    );
    expect(rest.map((r) => r.a)).toEqual(Array.from({ length: span }, (_, i) => ia[0]! + i));
  });

  it('periodic faults from the config: disconnectEveryMs, depthBreakEveryMs', async () => {
    sim = await startWs({ ws: { disconnectEveryMs: 1000, depthBreakEveryMs: 300 } });
    const c = await connect(`${sim.wsUrl}/ws/ethusdt@depth@100ms`);
    expect((await c.closed).code).toBe(1006);
    const ev = c.events<DepthEv>();
    expect(ev.filter((e, i) => i > 0 && e.U !== ev[i - 1]!.u + 1).length).toBeGreaterThanOrEqual(1);
    expect(sim.ws.stats().disconnects).toBeGreaterThanOrEqual(1);
  });

  it('bad fault bodies get 400; /sim/ws/reset and /sim/reset clear the counters', async () => {
    sim = await startWs();
    expect((await fault(sim, { stallMs: -1 })).status).toBe(400);
    expect((await fault(sim, { explode: true })).status).toBe(400);
    await fault(sim, { stallMs: 1 });
    expect(sim.ws.stats().stalls).toBe(1);
    expect((await fetch(`${sim.url}/sim/ws/reset`, { method: 'POST' })).status).toBe(200);
    expect(sim.ws.stats().stalls).toBe(0);
    await fault(sim, { stallMs: 1 });
    await fetch(`${sim.url}/sim/reset`, { method: 'POST' });
    expect(sim.ws.stats().stalls).toBe(0);
    await sim.ws.close();
    // Once the WebSocket server is gone, its routes answer 404.
    expect((await fetch(`${sim.url}/sim/ws/stats`)).status).toBe(404);
  });
});
