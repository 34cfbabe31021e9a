/**
 * Messages between the SQLite worker store (main thread) and its worker (sqlite-worker.ts).
 * A request names a method of the engine (sqlite-db.ts) and its arguments; the reply carries
 * the method's value or its error, flattened to data: errors do not keep their class across
 * threads, so the main thread rebuilds the platform's error classes from the HTTP status.
 */
import {
  AppError,
  ConflictError,
  DependencyError,
  InvalidInputError,
  NotFoundError,
  OverloadedError,
} from '../runtime/errors.ts';
import type { SqliteDb } from './sqlite-db.ts';

/** The engine methods a worker answers. */
export type SqliteOps = Pick<
  SqliteDb,
  | 'ensureCollection'
  | 'writeSeries'
  | 'getRecord'
  | 'rangeQuery'
  | 'count'
  | 'seriesStats'
  | 'getDoc'
  | 'putDoc'
  | 'findDocs'
  | 'mergeRanges'
  | 'getRanges'
  | 'ping'
>;
export type SqliteOp = keyof SqliteOps;

export type WorkerRequest =
  | { id: number; op: SqliteOp; args: unknown[] }
  /** Answer what came before, close the database and end the thread. */
  | { id: number; op: 'close'; args: [] };

export interface WireError {
  name: string;
  message: string;
  /** HTTP status of an AppError. */
  status?: number | undefined;
  issues?: unknown[] | undefined;
  /** SqliteError's code, e.g. SQLITE_CONSTRAINT. */
  code?: string | undefined;
}

export type WorkerReply = { id: number; value: unknown } | { id: number; error: WireError };

export function errorToWire(err: Error): WireError {
  const code = (err as { code?: unknown }).code;
  return {
    name: err.name,
    message: err.message,
    status: err instanceof AppError ? err.status : undefined,
    issues: err instanceof AppError ? err.issues : undefined,
    code: typeof code === 'string' ? code : undefined,
  };
}

/** The error the direct adapter would have thrown: same class (by status), same message. */
export function errorFromWire(w: WireError): Error {
  switch (w.status) {
    case 400:
      return new InvalidInputError(w.message, w.issues);
    case 404:
      return new NotFoundError(w.message);
    case 409:
      return new ConflictError(w.message);
    case 429:
      return new OverloadedError(w.message);
    case 503:
      return new DependencyError(w.message);
    case undefined:
      break;
    default:
      return new AppError(w.status, w.message, w.issues === undefined ? undefined : { issues: w.issues });
  }
  const err = new Error(w.message);
  err.name = w.name;
  if (w.code !== undefined) Object.assign(err, { code: w.code });
  return err;
}
