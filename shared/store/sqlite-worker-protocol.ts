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
import type { PreparedColumns } from './validate.ts';

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

/**
 * A batch's columns as they cross to the worker: thousands of short strings cost ~3 ms per
 * 1000 records to clone, a few long ones a fraction of that. `\n` separates the keys and the
 * documents: document keys never contain it (DOC_KEY) and JSON.stringify escapes it.
 */
export interface PackedColumns {
  keys: string;
  json: string;
  /** The distinct series of the batch, and each record's index into it. */
  series: string[];
  seriesAt: Uint32Array;
  times: Float64Array;
}

export function packColumns(c: PreparedColumns): PackedColumns {
  const series: string[] = [];
  const index = new Map<string, number>();
  const seriesAt = new Uint32Array(c.keys.length);
  for (let i = 0; i < c.series.length; i++) {
    const s = c.series[i] as string;
    let at = index.get(s);
    if (at === undefined) {
      at = series.push(s) - 1;
      index.set(s, at);
    }
    seriesAt[i] = at;
  }
  return {
    keys: c.keys.join('\n'),
    json: c.json.join('\n'),
    series,
    seriesAt,
    times: Float64Array.from(c.times),
  };
}

export function unpackColumns(p: PackedColumns): PreparedColumns {
  const n = p.times.length;
  if (n === 0) return { keys: [], series: [], times: [], json: [] };
  const keys = p.keys.split('\n');
  const json = p.json.split('\n');
  if (keys.length !== n || json.length !== n) throw new Error('packed batch: column lengths differ');
  return {
    keys,
    json,
    series: Array.from(p.seriesAt, (i) => p.series[i] as string),
    times: Array.from(p.times),
  };
}

export type WorkerRequest =
  | { id: number; op: SqliteOp; args: unknown[] }
  /** writeSeries with its columns packed (packColumns). */
  | { id: number; op: 'writePacked'; args: [collection: string, batch: PackedColumns] }
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
