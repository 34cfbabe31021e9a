/**
 * A KafkaSource's `spec.delivery` as numbers (knative.md §3 "Delivery"): how often to retry, how
 * long to wait before each retry, and which answers are worth retrying.
 */
import { ISO_DURATION, type DeliverySpec } from './schema.ts';

/** Milliseconds of an ISO-8601 duration (`PT0.5S` → 500); throws on anything else. */
export function parseIsoDuration(text: string): number {
  const m = ISO_DURATION.exec(text);
  if (m === null || text === 'P' || text.endsWith('T'))
    throw new Error(`not an ISO-8601 duration: "${text}"`);
  const [, w, d, h, min, s] = m.map((g) => (g === undefined ? 0 : Number(g)));
  const seconds = (w ?? 0) * 604_800 + (d ?? 0) * 86_400 + (h ?? 0) * 3600 + (min ?? 0) * 60 + (s ?? 0);
  return Math.round(seconds * 1000);
}

export interface DeliveryPolicy {
  /** Retries after the first attempt. */
  retries: number;
  /** Wait before retry `n` (1-based): linear delay×n, exponential delay×2ⁿ, 0 without a backoffDelay. */
  backoffMs(n: number): number;
}

/** The retry schedule a KafkaSource dispatcher applies for this delivery spec. */
export function deliveryPolicy(spec: DeliverySpec | undefined): DeliveryPolicy {
  const retries = spec?.retry ?? 0;
  const delay = spec?.backoffDelay === undefined ? 0 : parseIsoDuration(spec.backoffDelay);
  const linear = spec?.backoffPolicy === 'linear';
  return {
    retries,
    backoffMs: (n) => (delay === 0 ? 0 : linear ? delay * n : delay * 2 ** n),
  };
}

export { isRetryableStatus } from '../runtime/errors.ts';
