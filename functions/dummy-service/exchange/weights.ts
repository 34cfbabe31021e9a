/**
 * Request weight: per endpoint (binance.md §2 spot, §6 USD-M) and per client IP in fixed windows
 * aligned to the epoch, like Binance's minute buckets scaled to `windowMs` (binance.md §3).
 * Over the limit → 429 with Retry-After (until the window resets); the `banAfter`-th request
 * after a 429 in the same window → 418 and a ban of `banMs`, during which every request is 418.
 * Weight of a request answered 429 is still counted (the exchange processed it); a request
 * answered 418 (the one that earns the ban, and every one during it) is not.
 */

/** Spot depth: 1–100 → 5, 101–500 → 25, 501–1000 → 50, 1001–5000 → 250. */
export function spotDepthWeight(limit: number): number {
  if (limit <= 100) return 5;
  if (limit <= 500) return 25;
  if (limit <= 1000) return 50;
  return 250;
}

/** USD-M depth: 5/10/20/50 → 2, 100 → 5, 500 → 10, 1000 → 20. */
export function usdmDepthWeight(limit: number): number {
  if (limit <= 50) return 2;
  if (limit <= 100) return 5;
  if (limit <= 500) return 10;
  return 20;
}

/** USD-M klines: [1,100) → 1, [100,500) → 2, [500,1000] → 5, > 1000 → 10. */
export function usdmKlinesWeight(limit: number): number {
  if (limit < 100) return 1;
  if (limit < 500) return 2;
  if (limit <= 1000) return 5;
  return 10;
}

export interface LimiterOptions {
  /** 0 = unlimited. */
  limit: number;
  windowMs: number;
  banMs: number;
  banAfter: number;
}

export type Verdict =
  | { kind: 'ok'; used: number }
  | { kind: 'limited'; used: number; retryAfterS: number }
  | { kind: 'banned'; used: number; until: number; retryAfterS: number };

interface IpState {
  window: number;
  used: number;
  /** Requests over the limit in this window. */
  rejected: number;
  bannedUntil: number;
}

export interface WindowStat {
  windowStart: number;
  weight: number;
  requests: number;
  rejected429: number;
  banned418: number;
}

const HISTORY = 120;

/** Weight accounting of one API (spot or USD-M: separate budgets, as on Binance). */
export class WeightLimiter {
  private readonly ips = new Map<string, IpState>();
  private readonly windows = new Map<number, WindowStat>();
  constructor(readonly opts: LimiterOptions) {}

  /** Counts a request of `weight` from `ip` at `now` and says whether it may proceed. */
  charge(ip: string, weight: number, now: number): Verdict {
    const { limit, windowMs, banMs, banAfter } = this.opts;
    const w = Math.floor(now / windowMs);
    let st = this.ips.get(ip);
    if (!st) {
      st = { window: w, used: 0, rejected: 0, bannedUntil: 0 };
      this.ips.set(ip, st);
    }
    if (st.window !== w) {
      st.window = w;
      st.used = 0;
      st.rejected = 0;
    }
    const stat = this.windowStat(w);
    stat.requests++;
    if (st.bannedUntil > now) {
      stat.banned418++;
      return {
        kind: 'banned',
        used: st.used,
        until: st.bannedUntil,
        retryAfterS: Math.ceil((st.bannedUntil - now) / 1000),
      };
    }
    if (limit > 0 && st.used + weight > limit) {
      st.rejected++;
      if (st.rejected > banAfter) {
        st.bannedUntil = now + banMs;
        stat.banned418++;
        return { kind: 'banned', used: st.used, until: st.bannedUntil, retryAfterS: Math.ceil(banMs / 1000) };
      }
      st.used += weight;
      stat.weight += weight;
      stat.rejected429++;
      return {
        kind: 'limited',
        used: st.used,
        retryAfterS: Math.max(1, Math.ceil(((w + 1) * windowMs - now) / 1000)),
      };
    }
    st.used += weight;
    stat.weight += weight;
    return { kind: 'ok', used: st.used };
  }

  private windowStat(w: number): WindowStat {
    let stat = this.windows.get(w);
    if (!stat) {
      stat = { windowStart: w * this.opts.windowMs, weight: 0, requests: 0, rejected429: 0, banned418: 0 };
      this.windows.set(w, stat);
      if (this.windows.size > HISTORY) this.windows.delete(this.windows.keys().next().value!);
    }
    return stat;
  }

  /** Recent windows (oldest first) and the IPs banned at `now`. */
  stats(now: number): { windows: WindowStat[]; bans: Array<{ ip: string; until: number }> } {
    return {
      windows: [...this.windows.values()],
      bans: [...this.ips]
        .filter(([, s]) => s.bannedUntil > now)
        .map(([ip, s]) => ({ ip, until: s.bannedUntil })),
    };
  }

  reset(): void {
    this.ips.clear();
    this.windows.clear();
  }
}
