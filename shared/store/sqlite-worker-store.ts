/**
 * Store adapter on one SQLite file whose connection lives on a worker thread (worker_threads),
 * so that SQLite's work overlaps the caller's: the calling thread validates and serialises
 * records (prepareColumns, JSON.stringify) and parses what it reads back, the worker runs the
 * statements (sqlite-db.ts, the same engine as the direct adapter in sqlite-store.ts). A caller
 * that keeps several upserts in flight (the connector, one per partition) prepares the next
 * batch while the worker writes the previous one.
 *
 * Requests are answered in the order they are sent. Errors come back as the same classes as
 * from the direct adapter (sqlite-worker-protocol.ts). If the worker dies (out of memory, a
 * bug), the calls it had not answered fail with DependencyError (503: retried; an upsert is
 * idempotent) and the next call starts a fresh worker.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { DependencyError, InvalidInputError } from '../runtime/errors.ts';
import { SqliteDb, type SqliteDbOptions } from './sqlite-db.ts';
import { toRecords, type SqliteStoreOptions } from './sqlite-store.ts';
import {
  errorFromWire,
  packColumns,
  type SqliteOp,
  type SqliteOps,
  type WorkerReply,
  type WorkerRequest,
} from './sqlite-worker-protocol.ts';
import type {
  FindQuery,
  Range,
  RangeQuery,
  SeriesRecord,
  SeriesStats,
  Store,
  StoredDoc,
  UpsertResult,
} from './store.ts';
import { assertCollectionName, prepareColumns, toJson } from './validate.ts';

export interface SqliteWorkerStoreOptions extends SqliteStoreOptions {
  /** Heap limits of the worker thread; running out ends the worker (its calls answer 503). */
  resourceLimits?: ResourceLimits;
}

const ENTRY = new URL('./sqlite-worker.mjs', import.meta.url);

/**
 * Opens (or creates) the SQLite file and starts its worker thread. Throws DependencyError when
 * the file cannot be opened, like createSqliteStore; `:memory:` is refused (a database in
 * memory would live and die with one worker).
 */
export function createSqliteWorkerStore(opts: SqliteWorkerStoreOptions): Store {
  if (opts.path === ':memory:')
    throw new Error('the sqlite worker store needs a file; use createSqliteStore for :memory:');
  // Open once on this thread: a path that cannot be opened fails here and now, and the file is
  // created and in WAL mode before the worker opens it.
  new SqliteDb(opts).close();
  return new SqliteWorkerStore(opts);
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

/** One worker and the calls it has not answered yet. */
interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Why it stopped, when it reported an error first. */
  error?: Error;
}

class SqliteWorkerStore implements Store {
  private thread: Thread | undefined;
  private nextId = 1;
  private closing: Promise<void> | undefined;
  private readonly dbOptions: SqliteDbOptions;

  constructor(private readonly opts: SqliteWorkerStoreOptions) {
    this.dbOptions = { path: opts.path, busyTimeoutMs: opts.busyTimeoutMs, synchronous: opts.synchronous };
    this.thread = this.start(); // start now: loading the worker takes a moment
    opts.logger?.info(
      { path: opts.path, synchronous: opts.synchronous ?? 'normal' },
      'sqlite store open (worker thread)',
    );
  }

  private start(): Thread {
    const worker = new Worker(ENTRY, {
      workerData: this.dbOptions,
      ...(this.opts.resourceLimits ? { resourceLimits: this.opts.resourceLimits } : {}),
    });
    const t: Thread = { worker, pending: new Map() };
    worker.unref(); // an idle store does not keep the process alive, as the direct one does not
    worker.on('message', (reply: WorkerReply) => {
      const p = t.pending.get(reply.id);
      if (!p) return;
      t.pending.delete(reply.id);
      if (t.pending.size === 0 && this.closing === undefined) worker.unref();
      if ('error' in reply) p.reject(errorFromWire(reply.error));
      else p.resolve(reply.value);
    });
    worker.on('error', (err) => {
      t.error = err;
    });
    worker.on('exit', (code) => {
      if (this.thread === t) this.thread = undefined; // the next call starts a fresh worker
      if (this.closing !== undefined && t.pending.size === 0) return; // closed as asked
      this.opts.logger?.error(
        { code, err: t.error, pending: t.pending.size },
        'sqlite worker stopped; the next call starts another',
      );
      const why = `sqlite worker stopped (exit code ${code})${t.error ? `: ${t.error.message}` : ''}`;
      for (const p of t.pending.values()) p.reject(new DependencyError(why, t.error));
      t.pending.clear();
    });
    return t;
  }

  private call<K extends SqliteOp>(
    op: K,
    ...args: Parameters<SqliteOps[K]>
  ): Promise<ReturnType<SqliteOps[K]>> {
    return this.post({ id: 0, op, args });
  }

  /** Sends one request (its id is assigned here) and resolves with the worker's answer. */
  private post<T>(request: WorkerRequest): Promise<T> {
    if (this.closing) return Promise.reject(new DependencyError('sqlite store is closed'));
    const t = (this.thread ??= this.start());
    const id = this.nextId++;
    const op = request.op;
    return new Promise<T>((resolve, reject) => {
      const req = { ...request, id };
      try {
        t.worker.postMessage(req);
      } catch (err) {
        // Arguments that cannot cross threads (functions, symbols): nothing was sent.
        reject(new InvalidInputError(`${op}: ${(err as Error).message}`));
        return;
      }
      if (t.pending.size === 0) t.worker.ref();
      t.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  ensureCollection(name: string, kind: 'series' | 'documents'): Promise<void> {
    return this.call('ensureCollection', name, kind);
  }

  /** Validates and serialises on this thread (synchronously, before the first await). */
  async upsertRecords(collection: string, records: readonly SeriesRecord[]): Promise<UpsertResult> {
    if (this.closing) throw new DependencyError('sqlite store is closed');
    assertCollectionName(collection);
    const { inserted, updated } = await this.post<{ inserted: number; updated: number }>({
      id: 0,
      op: 'writePacked',
      args: [collection, packColumns(prepareColumns(records))],
    });
    return { inserted, updated, unchanged: records.length - inserted - updated };
  }

  async getRecord(collection: string, key: string): Promise<Record<string, unknown> | null> {
    const json = await this.call('getRecord', collection, key);
    return json === undefined ? null : (JSON.parse(json) as Record<string, unknown>);
  }

  async rangeQuery(collection: string, rq: RangeQuery): Promise<SeriesRecord[]> {
    return toRecords(await this.call('rangeQuery', collection, rq));
  }

  count(collection: string, series?: string): Promise<number> {
    return this.call('count', collection, series);
  }

  seriesStats(collection: string, series?: string): Promise<SeriesStats[]> {
    return this.call('seriesStats', collection, series);
  }

  async getDoc<T>(collection: string, key: string): Promise<StoredDoc<T> | null> {
    const row = await this.call('getDoc', collection, key);
    return row ? { doc: JSON.parse(row.json) as T, rev: row.rev } : null;
  }

  async putDoc<T>(collection: string, key: string, doc: T, expectedRev?: number): Promise<number> {
    if (this.closing) throw new DependencyError('sqlite store is closed');
    return this.call('putDoc', collection, key, toJson(`document ${key}`, doc), expectedRev);
  }

  async findDocs<T>(collection: string, fq: FindQuery): Promise<{ items: StoredDoc<T>[]; total: number }> {
    const { items, total } = await this.call('findDocs', collection, fq);
    return { items: items.map((r) => ({ doc: JSON.parse(r.json) as T, rev: r.rev })), total };
  }

  mergeRanges(collection: string, key: string, add: readonly Range[]): Promise<Range[]> {
    return this.call('mergeRanges', collection, key, add);
  }

  getRanges(collection: string, key: string): Promise<Range[]> {
    return this.call('getRanges', collection, key);
  }

  ping(): Promise<void> {
    return this.call('ping');
  }

  /** Lets the worker answer what was sent before, close the database and end; idempotent. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      const t = this.thread;
      if (!t) return resolve();
      t.worker.ref();
      t.worker.once('exit', () => resolve());
      const req: WorkerRequest = { id: 0, op: 'close', args: [] };
      t.worker.postMessage(req);
    });
    return this.closing;
  }
}
