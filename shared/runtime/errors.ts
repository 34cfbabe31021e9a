/**
 * The platform's error classes and their one classification, `classify(err)`, used by every
 * HTTP answer (shared/runtime/app.ts), the ingress, the publisher and the local runner's
 * in-process delivery: invalid input → 400 (never retried), not found → 404, conflict → 409,
 * overloaded → 429, dependency down → 503 (DESIGN.md "Cross-cutting rules"); whether a status is
 * retried follows the KafkaSource dispatcher (knative.md §3 "Delivery").
 */
import { HTTPException } from 'hono/http-exception';
import { z } from 'zod';

export class AppError extends Error {
  readonly status: number;
  readonly issues: unknown[] | undefined;
  constructor(status: number, message: string, opts?: { issues?: unknown[]; cause?: unknown }) {
    super(message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.status = status;
    this.issues = opts?.issues;
  }
}

/** Input that can never succeed: 400, and for events the dead-letter topic. */
export class InvalidInputError extends AppError {
  constructor(message: string, issues?: unknown[]) {
    super(400, message, issues === undefined ? undefined : { issues });
  }
  static fromZod(message: string, err: z.ZodError): InvalidInputError {
    return new InvalidInputError(message, err.issues);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'missing or wrong bearer token') {
    super(401, message);
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super(404, message);
  }
}

export class ConflictError extends AppError {
  constructor(message: string) {
    super(409, message);
  }
}

/** Too much in flight; the caller should retry later (KafkaSource retries 429). */
export class OverloadedError extends AppError {
  /** Seconds the caller should wait (`Retry-After`), when known. */
  readonly retryAfterSec: number | undefined;
  constructor(message: string, retryAfterSec?: number) {
    super(429, message);
    this.retryAfterSec = retryAfterSec;
  }
}

/** A body over the server's limit: 413, with the limit in the message. */
export class PayloadTooLargeError extends AppError {
  constructor(limitBytes: number) {
    super(413, `request body larger than ${limitBytes} bytes`);
  }
}

/** A dependency (store, bus, exchange) is unreachable; retried by the caller (503). */
export class DependencyError extends AppError {
  constructor(message: string, cause?: unknown) {
    super(503, message, { cause });
  }
}

/**
 * An error answered by the exchange, kept with its code and message all the way to the
 * workflow status (e.g. `-1121 Invalid symbol.`).
 */
export class ExchangeError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly code: number | string,
    readonly exchangeMessage: string,
    readonly endpoint: string,
  ) {
    super(`${endpoint}: HTTP ${httpStatus} ${code} ${exchangeMessage}`);
    this.name = 'ExchangeError';
  }
}

/**
 * Statuses a KafkaSource retries (knative.md §3): 5xx, 404 (endpoint not there yet), 408, 409
 * (conflict, in progress) and 429 (overloaded). Any other status ≥ 300 fails at once.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 404 || status === 408 || status === 409 || status === 429;
}

/** What an error means to whoever answers or delivers: its HTTP status, and whether to retry. */
export interface Classified {
  status: number;
  retry: boolean;
  message: string;
  issues?: unknown[] | undefined;
}

/**
 * The one error classification: AppError → its status; zod errors → 400 with issues; hono's
 * HTTPException → its status; an exchange's error → 502 with its code; anything else → 500
 * ("internal error": its message is not shown). `retry` by {@link isRetryableStatus}.
 */
export function classify(err: unknown): Classified {
  const c = ((): Omit<Classified, 'retry'> => {
    if (err instanceof AppError) return { status: err.status, message: err.message, issues: err.issues };
    if (err instanceof z.core.$ZodError) return { status: 400, message: 'invalid input', issues: err.issues };
    if (err instanceof HTTPException) return { status: err.status, message: err.message || 'request failed' };
    if (err instanceof ExchangeError)
      return {
        status: 502,
        message: err.message,
        issues: [{ code: err.code, message: err.exchangeMessage, endpoint: err.endpoint }],
      };
    return { status: 500, message: 'internal error' };
  })();
  return { ...c, retry: isRetryableStatus(c.status) };
}
