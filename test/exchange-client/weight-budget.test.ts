/**
 * The weight budget's arithmetic against a model of the exchange's IP-wide counter: several
 * processes, each with its own budget, see only the used-weight header of their own responses.
 * Fake timers make the model deterministic; the assertions are on the counter, not on time.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createWeightBudget, type WeightBudget } from '../../shared/exchange/weight-budget.ts';

const W = 10_000;

/** The exchange's per-IP counter in calendar windows. */
function exchangeModel(limit: number) {
  const used = new Map<number, number>();
  let rejected = 0;
  return {
    /** Counts a request processed now; returns the header value, or null for a 429. */
    process(cost: number): number | null {
      const w = Math.floor(Date.now() / W);
      const n = (used.get(w) ?? 0) + cost;
      used.set(w, n);
      if (n > limit) {
        rejected += 1;
        return null;
      }
      return n;
    },
    perWindow: used,
    rejected: () => rejected,
  };
}

/** One loader process: requests back to back through its budget, with latency `lat()` each way. */
async function loader(
  budget: WeightBudget,
  ex: ReturnType<typeof exchangeModel>,
  cost: number,
  until: number,
  lat: () => number,
) {
  const inflight = new Set<Promise<void>>();
  while (Date.now() < until) {
    const lease = await budget.acquire(cost);
    const p = (async () => {
      await new Promise((r) => setTimeout(r, lat()));
      const header = ex.process(cost);
      await new Promise((r) => setTimeout(r, lat()));
      lease.done(header ?? undefined);
    })();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }
  await Promise.all(inflight);
}

function rng(seed: number): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  vi.setSystemTime(Date.UTC(2024, 0, 1));
});
afterEach(() => vi.useRealTimers());

describe('weight budget', () => {
  it.each([
    { processes: 1, cost: 2, limit: 1200 },
    { processes: 3, cost: 2, limit: 1200 },
    { processes: 3, cost: 4, limit: 6000 },
    { processes: 3, cost: 25, limit: 6000 },
  ])(
    '$processes process(es) at cost $cost: no window passes the limit and each full window uses ≥ 90% of it',
    async ({ processes, cost, limit }) => {
      const ex = exchangeModel(limit);
      const until = Date.now() + 6 * W;
      const r = rng(7);
      const runs = Array.from({ length: processes }, () =>
        loader(
          createWeightBudget({ limit, windowMs: W, margin: 0.05, maxInflightRequests: 4 }),
          ex,
          cost,
          until,
          () => 2 + Math.floor(r() * 40),
        ),
      );
      await vi.advanceTimersByTimeAsync(7 * W);
      await Promise.all(runs);
      expect(ex.rejected()).toBe(0);
      const windows = [...ex.perWindow.entries()].sort((a, b) => a[0] - b[0]);
      const full = windows.slice(1, -1); // the first starts mid-window, the last is cut by `until`
      expect(full.length).toBeGreaterThanOrEqual(4);
      for (const [, used] of full) {
        expect(used).toBeLessThanOrEqual(limit);
        expect(used / limit).toBeGreaterThanOrEqual(0.9);
      }
    },
  );

  it('starts with one probe request until the first header arrives', async () => {
    const b = createWeightBudget({ limit: 1000, windowMs: W, margin: 0.05, maxInflightRequests: 4 });
    const first = await b.acquire(2);
    let second = false;
    const p = b.acquire(2).then((l) => {
      second = true;
      return l;
    });
    await vi.advanceTimersByTimeAsync(5);
    expect(second).toBe(false);
    first.done(2);
    await vi.advanceTimersByTimeAsync(0);
    expect(second).toBe(true);
    (await p).done(4);
  });

  it('a pause (Retry-After of a 429 or 418) holds every request until it ends', async () => {
    const b = createWeightBudget({ limit: 1000, windowMs: W, margin: 0.05 });
    const l = await b.acquire(1);
    l.done(1);
    b.pauseUntil(Date.now() + 3000);
    let got = false;
    const p = b.acquire(1).then((x) => {
      got = true;
      x.done(2);
    });
    await vi.advanceTimersByTimeAsync(2990);
    expect(got).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    expect(got).toBe(true);
    await p;
  });

  it('an answer stamped in the old window and received in the new one does not block the new window', async () => {
    vi.setSystemTime(Math.ceil(Date.now() / W) * W + W - 10); // 10 ms before a reset
    const b = createWeightBudget({ limit: 1000, windowMs: W, margin: 0.05 });
    const a = await b.acquire(2);
    a.done(900); // old window nearly full
    const late = await b.acquire(2);
    const later = await b.acquire(2);
    later.done(946); // answered before the reset
    await vi.advanceTimersByTimeAsync(20); // the reset passes while `late` is in flight
    late.done(944); // stamped before the reset (before `later`), answered after it
    expect(b.stats().used).toBe(0);
    const next = await b.acquire(500);
    next.done(500);
    expect(b.stats().used).toBe(500);
  });
});
