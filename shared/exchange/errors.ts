/**
 * Failures of the exchange client after its retries ran out. An answer the exchange gave on
 * purpose (a 4xx with `{code,msg}`) is an ExchangeError (shared/runtime/errors.ts) instead and is
 * never retried.
 */
import { DependencyError } from '../runtime/errors.ts';

/** Why the last try of a request failed. */
export type ExchangeFailure =
  'MALFORMED_RESPONSE' | 'SERVER_ERROR' | 'NETWORK_ERROR' | 'TIMEOUT' | 'RATE_LIMITED' | 'BANNED';

/**
 * The exchange could not be used for `endpoint` after `tries` tries; `code` is the failure of the
 * last one. Its message names the endpoint, so a workflow's error status says where it broke.
 */
export class ExchangeUnavailableError extends DependencyError {
  constructor(
    readonly endpoint: string,
    readonly code: ExchangeFailure,
    readonly tries: number,
    detail: string,
    cause?: unknown,
  ) {
    super(`${endpoint}: ${describe(code)} after ${tries} tries (${detail})`, cause);
  }
}

function describe(code: ExchangeFailure): string {
  switch (code) {
    case 'MALFORMED_RESPONSE':
      return 'malformed response';
    case 'SERVER_ERROR':
      return 'server error';
    case 'NETWORK_ERROR':
      return 'connection failed';
    case 'TIMEOUT':
      return 'timed out';
    case 'RATE_LIMITED':
      return 'still rate limited';
    case 'BANNED':
      return 'still banned';
  }
}
