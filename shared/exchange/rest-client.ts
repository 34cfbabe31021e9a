/**
 * Binance REST client: every GET goes through the weight budget, is retried when the exchange's
 * answer says nothing about the request itself (5xx = outcome unknown, binance.md §3; resets,
 * timeouts, bodies that do not parse) and fails at once on a 4xx with the exchange's own code and
 * message. Each try has its own timeout; the transport is node:http(s) with keep-alive
 * (http-get.ts), or a given fetch.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { z } from 'zod';
import { BinanceErrorBody } from '../contracts/binance.ts';
import { ExchangeError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import { ExchangeUnavailableError, type ExchangeFailure } from './errors.ts';
import { createHttpGet, fetchTransport, type HttpAnswer } from './http-get.ts';
import type { WeightBudget } from './weight-budget.ts';

export interface ExchangeClientOptions {
  /** e.g. `https://api.binance.com` or `https://fapi.binance.com` (or the simulator). */
  baseUrl: string;
  budget: WeightBudget;
  logger?: Logger | undefined;
  /** Per-try timeout; default 10 s. */
  timeoutMs?: number;
  /** Tries for retryable failures (5xx, resets, timeouts, malformed bodies); default 6. */
  maxTries?: number;
  /** First backoff; doubles per try, jittered; default 250 ms. */
  backoffBaseMs?: number;
  /** Longest backoff; default 10 s. */
  backoffMaxMs?: number;
  /** 429/418 answers survived (each waits its Retry-After) before giving up; default 10. */
  maxPauses?: number;
  /** Use this fetch instead of the node:http transport. */
  fetch?: typeof fetch;
  random?: () => number;
}

export type QueryParams = Record<string, string | number | undefined>;

export interface RequestOptions {
  /** Request weight reserved in the budget (shared/exchange/weights.ts). */
  weight: number;
  signal?: AbortSignal | undefined;
}

export interface ExchangeClient {
  readonly baseUrl: string;
  readonly budget: WeightBudget;
  /** GET `path` and parse the body with `schema`; see the module comment for retries. */
  get<S extends z.ZodType>(
    path: string,
    params: QueryParams,
    schema: S,
    opts: RequestOptions,
  ): Promise<z.infer<S>>;
  /** `get`, also handing back the body's text (a paginator may pass a page on as it came). */
  getWithText<S extends z.ZodType>(
    path: string,
    params: QueryParams,
    schema: S,
    opts: RequestOptions,
  ): Promise<{ value: z.infer<S>; text: string }>;
}

/** `X-MBX-USED-WEIGHT-1M` (or another interval, or the legacy header); undefined when absent. */
export function readUsedWeight(headers: Headers): number | undefined {
  let fallback: string | null = headers.get('x-mbx-used-weight-1m');
  if (fallback === null) {
    for (const [name, value] of headers) {
      if (/^x-mbx-used-weight-\d+[smhd]$/i.test(name)) {
        fallback = value;
        break;
      }
    }
  }
  fallback ??= headers.get('x-mbx-used-weight');
  if (fallback === null) return undefined;
  const n = Number(fallback);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** `Retry-After` in ms (seconds on the wire, binance.md §3); undefined when absent or unreadable. */
function retryAfterMs(headers: Headers): number | undefined {
  const v = headers.get('retry-after');
  if (v === null) return undefined;
  const s = Number(v);
  return Number.isFinite(s) && s >= 0 ? s * 1000 : undefined;
}

function causeText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause =
    err.cause instanceof Error ? `: ${(err.cause as NodeJS.ErrnoException).code ?? err.cause.message}` : '';
  return `${err.message}${cause}`;
}

export function createExchangeClient(opts: ExchangeClientOptions): ExchangeClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const { budget } = opts;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const maxTries = opts.maxTries ?? 6;
  const base = opts.backoffBaseMs ?? 250;
  const maxBackoff = opts.backoffMaxMs ?? 10_000;
  const maxPauses = opts.maxPauses ?? 10;
  const transport = opts.fetch ? fetchTransport(opts.fetch) : createHttpGet();
  const random = opts.random ?? Math.random;

  async function getWithText<S extends z.ZodType>(
    path: string,
    params: QueryParams,
    schema: S,
    ro: RequestOptions,
  ): Promise<{ value: z.infer<S>; text: string }> {
    const endpoint = `GET ${path}`;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query.set(k, String(v));
    const url = `${baseUrl}${path}${query.size > 0 ? `?${query.toString()}` : ''}`;
    const signal = ro.signal;
    let tries = 0;
    let pauses = 0;

    /** Counts a failed try; throws when they are used up, else waits a jittered backoff. */
    const retry = async (code: ExchangeFailure, detail: string, cause?: unknown): Promise<void> => {
      tries += 1;
      if (tries >= maxTries) throw new ExchangeUnavailableError(endpoint, code, tries, detail, cause);
      const ceiling = Math.min(maxBackoff, base * 2 ** (tries - 1));
      const delay = ceiling / 2 + (random() * ceiling) / 2;
      // Expected now and then (5xx, resets, timeouts) and retried: info; giving up is the error.
      opts.logger?.info(
        { endpoint, failure: code, detail, try: tries, delay_ms: Math.round(delay) },
        'exchange request failed, retrying',
      );
      await sleep(delay, undefined, { signal });
    };

    for (;;) {
      const lease = await budget.acquire(ro.weight, signal);
      let res: HttpAnswer;
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        res = await transport(url, signal ? AbortSignal.any([signal, timeout]) : timeout);
      } catch (err) {
        lease.done(undefined);
        if (signal?.aborted) throw signal.reason;
        // The timeout itself says whether it fired: a body cut off by it fails as a reset would.
        await retry(timeout.aborted ? 'TIMEOUT' : 'NETWORK_ERROR', causeText(err), err);
        continue;
      }
      const text = res.text;
      lease.done(readUsedWeight(res.headers));

      if (res.status === 429 || res.status === 418) {
        // 429: the IP is over its limit; 418: banned. Either way nothing from this process may go
        // out before Retry-After, or the ban grows (binance.md §3).
        const wait = retryAfterMs(res.headers) ?? budget.nextWindowStart(budget.now()) - budget.now();
        budget.pauseUntil(budget.now() + wait, res.status);
        pauses += 1;
        opts.logger?.warn(
          { endpoint, status: res.status, retry_after_ms: wait, body: text.slice(0, 200) },
          'exchange rate limit answer, pausing',
        );
        if (pauses > maxPauses)
          throw new ExchangeUnavailableError(
            endpoint,
            res.status === 418 ? 'BANNED' : 'RATE_LIMITED',
            pauses,
            text.slice(0, 200),
          );
        continue;
      }
      if (res.status >= 500) {
        await retry('SERVER_ERROR', `HTTP ${res.status}`);
        continue;
      }
      if (res.status >= 400) throw exchangeError(res.status, text, endpoint);

      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch (err) {
        await retry('MALFORMED_RESPONSE', `body is not JSON: ${text.slice(0, 60)}`, err);
        continue;
      }
      const parsed = schema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        await retry(
          'MALFORMED_RESPONSE',
          `unexpected body: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'invalid'}`,
          parsed.error,
        );
        continue;
      }
      return { value: parsed.data, text };
    }
  }

  return {
    baseUrl,
    budget,
    get: async (path, params, schema, ro) => (await getWithText(path, params, schema, ro)).value,
    getWithText,
  };
}

/** A 4xx keeps the exchange's `{code,msg}` (e.g. -1121 Invalid symbol.) all the way to the workflow. */
function exchangeError(status: number, text: string, endpoint: string): ExchangeError {
  try {
    const body = BinanceErrorBody.safeParse(JSON.parse(text));
    if (body.success) return new ExchangeError(status, body.data.code, body.data.msg, endpoint);
  } catch {
    // not JSON: fall through
  }
  return new ExchangeError(status, `HTTP_${status}`, text.slice(0, 200) || `HTTP ${status}`, endpoint);
}
