/**
 * What a loader learns from the exchange before paging: its clock (windows and "now" are the
 * exchange's, binance.md §3) and its REQUEST_WEIGHT limit (exchangeInfo `rateLimits`).
 */
import { z } from 'zod';
import type { Market } from '../contracts/common.ts';
import type { ExchangeClient } from './rest-client.ts';
import { SPOT_WEIGHTS, USDM_WEIGHTS } from './weights.ts';

const ServerTime = z.object({ serverTime: z.number().int().nonnegative() });

const RateLimit = z.object({
  rateLimitType: z.string(),
  interval: z.string(),
  intervalNum: z.number().int().positive(),
  limit: z.number().int().positive(),
});
const ExchangeInfo = z.object({ rateLimits: z.array(RateLimit) });

const UNIT_MS: Record<string, number> = { SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };

/**
 * Offset of the exchange clock from the local one (ms to add to `Date.now()`) and its uncertainty:
 * of `samples` `/time` round trips the shortest is used, its midpoint taken as the server's stamp,
 * so the error is at most half that round trip.
 */
export async function clockOffset(
  client: ExchangeClient,
  market: Market,
  signal?: AbortSignal,
  samples = 3,
): Promise<{ offsetMs: number; uncertaintyMs: number }> {
  const path = market === 'spot' ? '/api/v3/time' : '/fapi/v1/time';
  const weight = market === 'spot' ? SPOT_WEIGHTS.time : USDM_WEIGHTS.time;
  let best = { offsetMs: 0, uncertaintyMs: Number.POSITIVE_INFINITY };
  for (let i = 0; i < samples; i++) {
    const sent = Date.now();
    const t = await client.get(path, {}, ServerTime, { weight, signal });
    const received = Date.now();
    const half = (received - sent) / 2;
    if (half < best.uncertaintyMs)
      best = { offsetMs: Math.round(t.serverTime - (sent + half)), uncertaintyMs: Math.ceil(half) + 1 };
  }
  return best;
}

/**
 * The REQUEST_WEIGHT limit and its window from exchangeInfo. On spot, `symbol` narrows the answer
 * and makes an unknown symbol fail here with -1121 before any paging starts.
 */
export async function weightLimit(
  client: ExchangeClient,
  market: Market,
  symbol: string,
  signal?: AbortSignal,
): Promise<{ limit: number; windowMs: number } | null> {
  const info =
    market === 'spot'
      ? await client.get('/api/v3/exchangeInfo', { symbol }, ExchangeInfo, {
          weight: SPOT_WEIGHTS.exchangeInfo,
          signal,
        })
      : await client.get('/fapi/v1/exchangeInfo', {}, ExchangeInfo, {
          weight: USDM_WEIGHTS.exchangeInfo,
          signal,
        });
  const w = info.rateLimits.find((r) => r.rateLimitType === 'REQUEST_WEIGHT');
  const unit = w ? UNIT_MS[w.interval] : undefined;
  return w && unit ? { limit: w.limit, windowMs: w.intervalNum * unit } : null;
}
