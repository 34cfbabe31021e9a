/**
 * The platform's error classes. One handler (shared/runtime/app.ts) maps them to HTTP:
 * invalid input → 400 (never retried), not found → 404, conflict → 409, overloaded → 429,
 * dependency down → 503 (DESIGN.md "Cross-cutting rules").
 */
import type { z } from 'zod';

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
  constructor(message: string) {
    super(429, message);
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
