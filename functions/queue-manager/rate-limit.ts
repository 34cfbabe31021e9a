/**
 * Workflow creation per client: a token bucket of `perMinute` workflows, refilled continuously,
 * one bucket per client (its bearer token when it sends one, else its address). A request that
 * would create more workflows than the bucket holds is answered 429 with `Retry-After` (the
 * seconds until enough tokens are back), and creates nothing.
 */
import { createHash } from 'node:crypto';
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { OverloadedError } from '../../shared/runtime/errors.ts';

/** Buckets kept at most; the fullest (idle) ones are dropped first beyond it. */
const MAX_CLIENTS = 10_000;

export interface CreateRateLimit {
  /** Takes `cost` tokens for the request's client, or throws OverloadedError (429). */
  take(c: Context, cost: number): void;
}

/** The client a request counts against: a digest of its token, else its address. */
function clientOf(c: Context): string {
  const auth = c.req.header('authorization');
  if (auth) return `t:${createHash('sha256').update(auth).digest('base64url').slice(0, 16)}`;
  try {
    return `a:${getConnInfo(c).remote.address ?? 'unknown'}`;
  } catch {
    return 'a:unknown'; // no socket (app.request in tests)
  }
}

export function createRateLimit(perMinute: number, now: () => number = Date.now): CreateRateLimit {
  const perMs = perMinute / 60_000;
  const buckets = new Map<string, { tokens: number; at: number }>();

  function bucket(key: string, t: number): { tokens: number; at: number } {
    let b = buckets.get(key);
    if (!b) {
      if (buckets.size >= MAX_CLIENTS) {
        // Refilled buckets carry no state worth keeping.
        for (const [k, v] of buckets) if (v.tokens + (t - v.at) * perMs >= perMinute) buckets.delete(k);
        if (buckets.size >= MAX_CLIENTS) buckets.delete(buckets.keys().next().value!);
      }
      b = { tokens: perMinute, at: t };
      buckets.set(key, b);
    }
    b.tokens = Math.min(perMinute, b.tokens + (t - b.at) * perMs);
    b.at = t;
    return b;
  }

  return {
    take(c, requested) {
      // A request larger than the whole bucket waits for a full one rather than never passing.
      const cost = Math.min(requested, perMinute);
      const t = now();
      const b = bucket(clientOf(c), t);
      if (b.tokens >= cost) {
        b.tokens -= cost;
        return;
      }
      const retryAfterSec = Math.ceil((cost - b.tokens) / perMs / 1000);
      throw new OverloadedError(
        `too many workflows created: at most ${perMinute} per minute per client (CREATE_RATE_PER_MINUTE); ` +
          `retry in ${retryAfterSec} s`,
        retryAfterSec,
      );
    },
  };
}
