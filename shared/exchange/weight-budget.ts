/**
 * One request-weight budget per egress IP (DESIGN.md "Things no peer has"). Binance counts
 * REQUEST_WEIGHT per IP in calendar windows (binance.md §3: 6000 per 1 MINUTE) and reports the
 * IP's count in every response (`X-MBX-USED-WEIGHT-1M`). Every process on the IP sees that
 * header, so the header, not a local tally, is the truth: it already includes the weight of the
 * other loaders' answered requests.
 *
 * What the header cannot show is another process's requests still in flight. Each process
 * therefore keeps `used + inflight + cost ≤ limit × (1 − margin)` and caps its own in-flight
 * weight. Between two of our responses another process can get at most about two rounds of its
 * in-flight requests processed (the ones in flight when our header was stamped plus the ones it
 * sends after its own next response), so the weight nobody can see is bounded by
 * `2 · Σ_others maxInflightWeight`. The margin absorbs it: with the default in-flight cap of
 * `margin · limit / 4`, three processes on one IP cannot pass the limit
 * (`2 · 2 · margin·limit/4 = margin·limit`). More processes per IP need a smaller cap
 * (LOADER_CONCURRENCY) or a larger margin; the arithmetic is the same.
 *
 * Until the first header arrives (at start and after every pause) only one request is in flight:
 * that probe learns the IP's count before the process spends anything, so a fourth loader that
 * starts into a full window does not burst past the limit, and a ban is met by one request only.
 *
 * Windows are calendar-aligned on the exchange clock (`floor(serverTime / windowMs)`); the caller
 * supplies that clock (local clock plus the offset learned from `/time`) and its uncertainty, and
 * a window is taken to open that much late: a request sent just before the exchange's reset would
 * count in the old, full window, and its answer (the old count) would then block the new one.
 * An answer to a request sent before the current window opened is not taken as the new window's
 * count (it was most likely stamped in the old one); the next answer brings the new count. A 429
 * or 418 pauses every request of the process until its `Retry-After` has passed.
 */

/** Options of {@link createWeightBudget}. */
export interface WeightBudgetOptions {
  /** REQUEST_WEIGHT limit per window (exchangeInfo `rateLimits`; Binance spot: 6000). */
  limit: number;
  /** Window length in ms (Binance: 60 000, calendar minutes). */
  windowMs: number;
  /** Share of the limit kept free for other processes' invisible in-flight weight (0..0.5). */
  margin: number;
  /** Requests in flight at once in this process; default 4. */
  maxInflightRequests?: number;
  /** Weight in flight at once in this process; default `margin · limit / 4` (at least one request). */
  maxInflightWeight?: number;
  /** Local clock in epoch ms; default `Date.now`. The exchange clock adds `clockOffsetMs`. */
  now?: () => number;
}

/** A reserved slot for one request; call `done` exactly once when its answer (or failure) arrives. */
export interface WeightLease {
  /** Exchange time at which the request was sent. */
  readonly sentAt: number;
  /** `usedWeight`: the response's used-weight header, undefined when it carried none (or failed). */
  done(usedWeight?: number): void;
}

export interface WeightBudgetStats {
  limit: number;
  windowMs: number;
  /** Budget per window: `floor(limit · (1 − margin))`. */
  budget: number;
  /** Current window's used weight as this process knows it. */
  used: number;
  inflightWeight: number;
  inflightRequests: number;
  /** Highest used-weight header seen in any window. */
  peakUsed: number;
  /** Exchange time until which every request waits (0 = none). */
  pausedUntil: number;
  waiting: number;
  /** 429 (over the limit) and 418 (banned) answers this process received (metrics count them). */
  rateLimited: { 429: number; 418: number };
}

export interface WeightBudget {
  /** Waits until `cost` fits the window and the in-flight caps, then reserves it. */
  acquire(cost: number, signal?: AbortSignal): Promise<WeightLease>;
  /**
   * Stops every request of this process until exchange time `until` (429/418 `Retry-After`);
   * `status`, the answer that asked for it, is counted in `stats().rateLimited`.
   */
  pauseUntil(until: number, status?: 429 | 418): void;
  /**
   * Adopts the limit (and window) announced by exchangeInfo, or the exchange clock's offset and
   * its uncertainty (half the round trip it was measured over).
   */
  configure(p: {
    limit?: number | undefined;
    windowMs?: number | undefined;
    clockOffsetMs?: number | undefined;
    clockUncertaintyMs?: number | undefined;
  }): void;
  /** Exchange time now. */
  now(): number;
  /** Start of the next window after exchange time `t`. */
  nextWindowStart(t: number): number;
  stats(): WeightBudgetStats;
}

interface Waiter {
  cost: number;
  resolve: (lease: WeightLease) => void;
  reject: (err: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/** Creates a budget; share one per (egress IP, exchange host) in a process: see {@link budgetFor}. */
export function createWeightBudget(opts: WeightBudgetOptions): WeightBudget {
  const localNow = opts.now ?? Date.now;
  let clockOffset = 0;
  /** How far the exchange clock may be from ours: windows are taken to start this much later. */
  let guard = 0;
  const now = (): number => localNow() + clockOffset;
  let limit = opts.limit;
  let windowMs = opts.windowMs;
  const margin = Math.min(Math.max(opts.margin, 0), 0.5);
  const maxRequests = Math.max(1, opts.maxInflightRequests ?? 4);
  let win = Number.NEGATIVE_INFINITY; // index of the window `used` belongs to
  let used = 0;
  let peakUsed = 0;
  let inflightWeight = 0;
  let inflightRequests = 0;
  let pausedUntil = 0;
  const rateLimited = { 429: 0, 418: 0 };
  /** True until a header has been seen since start or the last pause: one probe at a time. */
  let probing = true;
  const queue: Waiter[] = [];
  let timer: NodeJS.Timeout | undefined;

  const budget = (): number => Math.floor(limit * (1 - margin));
  const maxWeight = (): number => opts.maxInflightWeight ?? Math.max(1, Math.floor((margin * limit) / 4));
  // Window k is taken as [k·W + guard, (k+1)·W + guard): with the exchange clock known to ±guard,
  // nothing is sent into a window the exchange has not opened yet.
  const windowOf = (t: number): number => Math.floor((t - guard) / windowMs);

  function roll(t: number): void {
    const w = windowOf(t);
    if (w > win) {
      win = w;
      used = 0;
    }
  }

  function fits(cost: number): boolean {
    if (inflightRequests >= (probing ? 1 : maxRequests)) return false;
    // A request dearer than the cap still runs, alone, so nothing is starved.
    if (inflightRequests > 0 && inflightWeight + cost > maxWeight()) return false;
    return used + inflightWeight + cost <= budget() || (used === 0 && inflightRequests === 0);
  }

  function lease(cost: number): WeightLease {
    inflightWeight += cost;
    inflightRequests += 1;
    const sentAt = now();
    let settled = false;
    return {
      sentAt,
      done(usedWeight?: number): void {
        if (settled) return;
        settled = true;
        inflightWeight -= cost;
        inflightRequests -= 1;
        observe(usedWeight, sentAt, cost);
        pump();
      },
    };
  }

  function observe(value: number | undefined, sentAt: number, cost: number): void {
    const recvAt = now();
    roll(recvAt);
    if (value === undefined) {
      // No header (a failure or a non-Binance server): count our own weight, conservatively.
      if (windowOf(sentAt) === win) used += cost;
      return;
    }
    probing = false;
    peakUsed = Math.max(peakUsed, value);
    // Sent before the current window began: the exchange most likely stamped it before the reset,
    // and its value (however close to the old window's last count, answers arrive out of order)
    // says nothing about the new window. Taking it could block a whole window for nothing; the
    // next answer to a request sent in this window carries the new count anyway.
    if (windowOf(sentAt) < win) return;
    used = Math.max(used, value);
  }

  function pump(): void {
    if (timer) {
      clearTimeout(timer);
      timer = undefined;
    }
    const t = now();
    if (t < pausedUntil) {
      schedule(pausedUntil - t);
      return;
    }
    roll(t);
    while (queue.length > 0) {
      const head = queue[0]!;
      if (!fits(head.cost)) break;
      queue.shift();
      head.signal?.removeEventListener('abort', head.onAbort);
      head.resolve(lease(head.cost));
    }
    // Blocked by the window (not by in-flight requests, whose answers call pump): wake at reset.
    if (queue.length > 0 && (inflightRequests === 0 || used + inflightWeight + queue[0]!.cost > budget()))
      schedule((win + 1) * windowMs + guard - t);
  }

  function schedule(ms: number): void {
    if (timer) clearTimeout(timer);
    // Kept referenced: a request waiting for the next window is work the process still has to do.
    timer = setTimeout(pump, Math.max(1, ms));
  }

  return {
    acquire(cost: number, signal?: AbortSignal): Promise<WeightLease> {
      if (signal?.aborted) return Promise.reject(signal.reason as Error);
      return new Promise<WeightLease>((resolve, reject) => {
        const waiter: Waiter = {
          cost,
          resolve,
          reject,
          signal,
          onAbort: () => {
            const i = queue.indexOf(waiter);
            if (i >= 0) queue.splice(i, 1);
            reject(
              signal?.reason instanceof Error
                ? signal.reason
                : new Error('aborted', { cause: signal?.reason }),
            );
            pump();
          },
        };
        signal?.addEventListener('abort', waiter.onAbort, { once: true });
        queue.push(waiter);
        pump();
      });
    },
    pauseUntil(until: number, status?: 429 | 418): void {
      if (status !== undefined) rateLimited[status] += 1;
      if (until > pausedUntil) pausedUntil = until;
      probing = true;
      pump();
    },
    configure(p): void {
      if (p.limit !== undefined && p.limit > 0) limit = p.limit;
      if (p.clockOffsetMs !== undefined) clockOffset = p.clockOffsetMs;
      if (p.clockUncertaintyMs !== undefined)
        guard = Math.max(0, Math.min(p.clockUncertaintyMs, windowMs / 10));
      if (p.windowMs !== undefined && p.windowMs > 0 && p.windowMs !== windowMs) {
        windowMs = p.windowMs;
        win = Number.NEGATIVE_INFINITY;
      }
      pump();
    },
    now,
    nextWindowStart(t: number): number {
      return (windowOf(t) + 1) * windowMs + guard;
    },
    stats(): WeightBudgetStats {
      roll(now());
      return {
        limit,
        windowMs,
        budget: budget(),
        used,
        inflightWeight,
        inflightRequests,
        peakUsed,
        pausedUntil,
        waiting: queue.length,
        rateLimited: { ...rateLimited },
      };
    },
  };
}

const registry = new Map<string, WeightBudget>();

/** Every process-wide budget {@link budgetFor} made, by key (read by shared/exchange/metrics.ts). */
export function processBudgets(): ReadonlyMap<string, WeightBudget> {
  return registry;
}

/**
 * The process-wide budget of one exchange host (every loader of this process on that host shares
 * it; other processes on the IP are accounted through the used-weight header).
 */
export function budgetFor(key: string, opts: WeightBudgetOptions): WeightBudget {
  let b = registry.get(key);
  if (!b) {
    b = createWeightBudget(opts);
    registry.set(key, b);
  }
  return b;
}
