/**
 * Store adapter on one SQLite file (better-sqlite3): the embedded mode's store (DESIGN.md
 * "Ports and adapters"). better-sqlite3 is synchronous; each method does its work in one call
 * and returns a settled promise, so callers code against the same async port as ArangoDB.
 * The tables and statements are sqlite-db.ts's (typed series tables: sqlite-typed.ts).
 */
import type { GraphSnapshot } from '../contracts/analytics.ts';
import type { RecordKind } from '../contracts/records.ts';
import type { Logger } from '../runtime/logger.ts';
import { DependencyError } from '../runtime/errors.ts';
import { SqliteDb, toStoreError, type SqliteDbOptions } from './sqlite-db.ts';
import type {
  Candle,
  CandleQuery,
  FindQuery,
  GraphQuery,
  Range,
  RangeQuery,
  RowBatch,
  SeriesRecord,
  SeriesStats,
  Store,
  StoredDoc,
  UpsertResult,
} from './store.ts';
import { assertCollectionName, toJson } from './validate.ts';

export interface SqliteStoreOptions extends SqliteDbOptions {
  logger?: Logger;
}

/** Opens (or creates) the SQLite file. Throws DependencyError when it cannot be opened. */
export function createSqliteStore(opts: SqliteStoreOptions): Store {
  return new SqliteStore(opts);
}

class SqliteStore implements Store {
  private readonly db: SqliteDb;

  constructor(opts: SqliteStoreOptions) {
    this.db = new SqliteDb(opts);
    opts.logger?.info({ path: opts.path, synchronous: opts.synchronous ?? 'normal' }, 'sqlite store open');
  }

  /** Runs `fn` synchronously, mapping SQLite failures to the platform's errors. */
  private run<T>(fn: (db: SqliteDb) => T): Promise<T> {
    try {
      if (!this.db.open) throw new DependencyError('sqlite store is closed');
      return Promise.resolve(fn(this.db));
    } catch (err) {
      return Promise.reject(toStoreError(err));
    }
  }

  ensureCollection(name: string, kind: 'series' | 'documents', recordKind?: RecordKind): Promise<void> {
    return this.run((db) => db.ensureCollection(name, kind, recordKind));
  }

  upsertRecords(collection: string, records: readonly SeriesRecord[]): Promise<UpsertResult> {
    return this.run((db) => {
      assertCollectionName(collection);
      const { inserted, updated } = db.writeRecords(collection, records);
      return { inserted, updated, unchanged: records.length - inserted - updated };
    });
  }

  upsertRows(collection: string, batch: RowBatch): Promise<UpsertResult> {
    return this.run((db) => {
      const { inserted, updated } = db.writeRows(collection, batch);
      return { inserted, updated, unchanged: batch.rows.length - inserted - updated };
    });
  }

  getRecord(collection: string, key: string): Promise<Record<string, unknown> | null> {
    return this.run((db) => db.getRecord(collection, key));
  }

  rangeQuery(collection: string, rq: RangeQuery): Promise<SeriesRecord[]> {
    return this.run((db) => db.rangeQuery(collection, rq));
  }

  count(collection: string, series?: string): Promise<number> {
    return this.run((db) => db.count(collection, series));
  }

  seriesStats(collection: string, series?: string): Promise<SeriesStats[]> {
    return this.run((db) => db.seriesStats(collection, series));
  }

  candles(collection: string, q: CandleQuery): Promise<Candle[]> {
    return this.run((db) => db.candles(collection, q));
  }

  getDoc<T>(collection: string, key: string): Promise<StoredDoc<T> | null> {
    return this.run((db) => {
      const row = db.getDoc(collection, key);
      return row ? { doc: JSON.parse(row.json) as T, rev: row.rev } : null;
    });
  }

  putDoc<T>(collection: string, key: string, doc: T, expectedRev?: number): Promise<number> {
    return this.run((db) => db.putDoc(collection, key, toJson(`document ${key}`, doc), expectedRev));
  }

  findDocs<T>(collection: string, fq: FindQuery): Promise<{ items: StoredDoc<T>[]; total: number }> {
    return this.run((db) => {
      const { items, total } = db.findDocs(collection, fq);
      return { items: items.map((r) => ({ doc: JSON.parse(r.json) as T, rev: r.rev })), total };
    });
  }

  mergeRanges(collection: string, key: string, add: readonly Range[]): Promise<Range[]> {
    return this.run((db) => db.mergeRanges(collection, key, add));
  }

  getRanges(collection: string, key: string): Promise<Range[]> {
    return this.run((db) => db.getRanges(collection, key));
  }

  putGraphSnapshots(graphId: string, snapshots: readonly GraphSnapshot[]): Promise<void> {
    return this.run((db) => db.graphs.put(graphId, snapshots));
  }

  graphSnapshots(graphId: string, q: GraphQuery): Promise<GraphSnapshot[]> {
    return this.run((db) => db.graphs.read(graphId, q));
  }

  ping(): Promise<void> {
    return this.run((db) => db.ping());
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
