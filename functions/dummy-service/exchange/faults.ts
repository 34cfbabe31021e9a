/**
 * Fault injection, deterministic from the seed and the request's sequence number (so a
 * sequential client sees the same faults on every run).
 *
 * Order per request: latency → connection reset / 5xx → weight accounting → handler →
 * malformed body. Resets and 5xx stand for failures in front of the matching engine (load
 * balancer, gateway timeout), so they cost no weight and carry no weight header — the outcome of
 * a 5xx is "unknown" for the client (binance.md §3), and it must not assume the weight was spent
 * or refunded. A malformed body is a request the exchange processed (weight counted) whose
 * answer was cut on the way back.
 */
import { z } from 'zod';
import type { ExchangeConfig } from './config.ts';
import { hashKeys, hashString, Rng } from './prng.ts';

export interface FaultPlan {
  latencyMs: number;
  fault: 'none' | 'reset' | '5xx';
  status: 502 | 503 | 504;
  malformed: boolean;
}

/** Bodies of the 5xx answers: the gateway's HTML page, or Binance's own JSON errors. */
export const SERVER_ERRORS: Record<502 | 503 | 504, { type: string; body: string }> = {
  502: {
    type: 'text/html',
    body: '<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>',
  },
  503: {
    type: 'application/json;charset=UTF-8',
    body: '{"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}',
  },
  504: {
    type: 'application/json;charset=UTF-8',
    body: '{"code":-1007,"msg":"Timeout waiting for response from backend server. Send status unknown; execution status unknown."}',
  },
};

export class FaultInjector {
  private readonly key: number;
  private readonly rng = new Rng();
  constructor(
    private readonly cfg: ExchangeConfig['faults'],
    seed: number,
  ) {
    this.key = hashKeys(seed, hashString('faults'));
  }

  plan(seq: number): FaultPlan {
    const r = this.rng.seed(hashKeys(this.key, seq));
    const latencyMs =
      this.cfg.latencyMs + (this.cfg.latencyJitterMs > 0 ? r.int(this.cfg.latencyJitterMs + 1) : 0);
    const u = r.next();
    const fault =
      u < this.cfg.resetRate ? 'reset' : u < this.cfg.resetRate + this.cfg.rate5xx ? '5xx' : 'none';
    const status = ([502, 503, 504] as const)[r.int(3)]!;
    return { latencyMs, fault, status, malformed: r.next() < this.cfg.malformedRate };
  }
}

/**
 * Body of POST /sim/faults: `{"storm":{"status":429,"requests":20,"retryAfterS":1}}` answers the
 * next `requests` weighed requests (any market) with 429 (or 418, a ban) and that Retry-After,
 * as Binance does when an IP is over its limit or banned; `{"storm":null}` ends a storm.
 */
export const RestFault = z.strictObject({
  storm: z
    .strictObject({
      status: z.union([z.literal(429), z.literal(418)]),
      requests: z.number().int().min(1).max(100_000),
      retryAfterS: z.number().int().min(1).max(3600).default(1),
    })
    .nullable(),
});
export type RestFault = z.infer<typeof RestFault>;
