/** Fault injection: each kind observable, deterministic from the seed. */
import { afterEach, describe, expect, it } from 'vitest';
import { createExchange } from '../../functions/dummy-service/exchange/exchange.ts';
import { NOW, start, type Running } from './helpers.ts';

const running: Running[] = [];
async function sim(faults: Record<string, number>, seed = 1) {
  const s = await start({ seed, gaps: { perYear: 0 }, now: () => NOW, faults });
  running.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});

const KLINES = '/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5';

/** Outcome of one request: status and whether the body parsed, or 'reset'. */
async function outcome(s: Running, path = KLINES): Promise<string> {
  try {
    const res = await s.get(path);
    const text = await res.text();
    let parsed = true;
    try {
      JSON.parse(text);
    } catch {
      parsed = false;
    }
    return `${res.status}${parsed ? '' : ' malformed'}`;
  } catch {
    return 'reset';
  }
}

describe('faults', () => {
  it('5xx: 502/503/504 with a body, no weight charged', async () => {
    const s = await sim({ rate5xx: 1 });
    const statuses = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const res = await s.get(KLINES);
      statuses.add(res.status);
      expect(res.headers.get('x-mbx-used-weight-1m')).toBeNull();
      const body = await res.text();
      if (res.status === 502) expect(body).toContain('502 Bad Gateway');
      else expect(JSON.parse(body)).toMatchObject({ code: res.status === 503 ? -1008 : -1007 });
    }
    expect([...statuses].sort()).toEqual([502, 503, 504]);
    const stats = await s.json<{ faults: { http5xx: number }; windows: { spot: unknown[] } }>('/sim/stats');
    expect(stats.faults.http5xx).toBe(20);
    expect(stats.windows.spot).toEqual([]);
  });

  it('malformed: HTTP 200 with a truncated JSON body, weight charged', async () => {
    const s = await sim({ malformedRate: 1 });
    const res = await s.get(KLINES);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-mbx-used-weight-1m')).toBe('2');
    const text = await res.text();
    expect(text.startsWith('[[')).toBe(true);
    expect(() => JSON.parse(text) as unknown).toThrow();
  });

  it('connection reset: the socket is destroyed, the server keeps serving', async () => {
    const s = await sim({ resetRate: 1 });
    await expect(s.get(KLINES)).rejects.toThrow();
    const stats = await s.json<{ faults: { reset: number } }>('/sim/stats');
    expect(stats.faults.reset).toBe(1);
  });

  it('latency: answers wait at least the fixed latency', async () => {
    const s = await sim({ latencyMs: 150, latencyJitterMs: 50 });
    const t0 = performance.now();
    expect(await outcome(s)).toBe('200');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(150);
    expect((await s.json<{ faults: { latency: number } }>('/sim/stats')).faults.latency).toBe(1);
  });

  it('mixed rates give the same sequence for the same seed, another for another seed', async () => {
    const faults = { rate5xx: 0.2, malformedRate: 0.2, resetRate: 0.2 };
    const run = async (s: Running) => {
      const out: string[] = [];
      for (let i = 0; i < 30; i++) out.push(await outcome(s));
      return out;
    };
    const a = await run(await sim(faults, 9));
    const b = await run(await sim(faults, 9));
    const c = await run(await sim(faults, 10));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    for (const kind of ['200', '200 malformed', 'reset']) expect(a).toContain(kind);
    expect(a.some((o) => /^50[234]/.test(o))).toBe(true);
  });

  it('in-process (no socket) a reset becomes an empty 502', async () => {
    const app = createExchange({ faults: { resetRate: 1 }, gaps: { perYear: 0 } }).app;
    const res = await app.request('/api/v3/ping');
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('');
  });
});
