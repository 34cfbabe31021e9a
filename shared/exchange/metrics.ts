/**
 * The exchange's request-weight budgets as metrics, read when Prometheus scrapes (nothing on the
 * request path): every budget of this process ({@link processBudgets}, one per market and
 * exchange host), labelled by `market` and `host`: bounded by the exchange URLs the process is
 * configured with (spot and USD-M: two series per metric in practice).
 */
import type { Registry } from 'prom-client';
import { counter, gauge, metricsDisabled } from '../runtime/metrics.ts';
import { processBudgets, type WeightBudget } from './weight-budget.ts';

/** `market` and `host` of a budget key `<market> <base URL>` (shared/loader/job.ts, loader-ws). */
function labelsOf(key: string): { market: string; host: string } {
  const [market = 'unknown', url = ''] = key.split(' ', 2);
  try {
    return { market, host: new URL(url).host };
  } catch {
    return { market, host: 'unknown' };
  }
}

/**
 * Registers the weight and rate-limit metrics on `registry`; `budgets` defaults to every
 * process-wide budget (tests pass their own).
 */
export function exchangeMetrics(
  registry: Registry,
  budgets: () => ReadonlyMap<string, WeightBudget> = processBudgets,
): void {
  if (metricsDisabled()) return;
  const seen = new Map<string, number>();
  const limited = counter(
    registry,
    'streamforge_exchange_rate_limited_total',
    'Exchange answers 429 (request weight over the limit) and 418 (IP banned), by status',
    ['market', 'host', 'status'],
  );
  const used = gauge(
    registry,
    'streamforge_exchange_weight_used',
    "Request weight used in the exchange's current window, as the X-MBX-USED-WEIGHT-1M header said",
    ['market', 'host'],
  );
  const remaining = gauge(
    registry,
    'streamforge_exchange_weight_remaining',
    'Request weight this process may still spend in the current window (budget minus used and in flight)',
    ['market', 'host'],
  );
  const limit = gauge(
    registry,
    'streamforge_exchange_weight_limit',
    "The exchange's request-weight limit per window (exchangeInfo rateLimits)",
    ['market', 'host'],
  );
  const paused = gauge(
    registry,
    'streamforge_exchange_paused',
    '1 while every request waits for a 429/418 Retry-After to pass',
    ['market', 'host'],
  );
  const refresh = (): void => {
    for (const [key, b] of budgets()) {
      const l = labelsOf(key);
      const s = b.stats();
      used.set(l, s.used);
      remaining.set(l, Math.max(0, s.budget - s.used - s.inflightWeight));
      limit.set(l, s.limit);
      paused.set(l, s.pausedUntil > b.now() ? 1 : 0);
      for (const status of [429, 418] as const) {
        const id = `${key}|${status}`;
        const last = seen.get(id) ?? 0;
        const now = s.rateLimited[status];
        if (now > last) limited.inc({ ...l, status: String(status) }, now - last);
        else if (!seen.has(id)) limited.inc({ ...l, status: String(status) }, 0);
        seen.set(id, Math.max(last, now));
      }
    }
  };
  // prom-client reads metrics in registration order: the first one's collect refreshes them all.
  (limited as unknown as { collect?: () => void }).collect = refresh;
}
