/**
 * Store adapter on one SQLite file (better-sqlite3): the embedded mode's store (DESIGN.md
 * "Ports and adapters"). better-sqlite3 is synchronous; each method does its work in one call
 * and returns a settled promise, so callers code against the same async port as ArangoDB.
 *
 * Collections are tables created on demand. Series tables hold `_key, series, time, doc` with an
 * index on (series, time, _key) for range reads in key order; document tables hold
 * `_key, rev, doc`. Documents are JSON text. Note that SQLite table names ignore case, so
 * collections differing only in case share a table here (not in ArangoDB).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { Logger } from '../runtime/logger.ts';
import { AppError, ConflictError, DependencyError, InvalidInputError } from '../runtime/errors.ts';
import { mergeRangeSet } from './ranges.ts';
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
import {
  assertCollectionName,
  assertKey,
  checkFindQuery,
  checkRangeQuery,
  checkRanges,
  prepareBatch,
  toJson,
  type PreparedRecord,
} from './validate.ts';

export interface SqliteStoreOptions {
  /** File path (its directory is created), or `:memory:`. */
  path: string;
  logger?: Logger;
  /** How long a write waits for another connection's lock before failing with 503. */
  busyTimeoutMs?: number;
  /**
   * `normal` (default): with WAL a commit survives a crash of the process; an OS crash or power
   * loss can lose the last commits, but never corrupts, and records and coverage ledger roll back
   * together, so the ledger still tells what is missing and loaders fetch it again.
   * `full`: fsync on every commit (about 10-15% slower on 1000-record batches here).
   */
  synchronous?: 'normal' | 'full';
}

type Kind = 'series' | 'documents';
type Stmt = Database.Statement<unknown[], unknown>;

/** SQLite failures that say "the database is not usable now", answered 503 and retried. */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|CORRUPT|NOTADB|PROTOCOL|PERM|AUTH)/;
const MIN_TIME = Number.MIN_SAFE_INTEGER;
const MAX_TIME = Number.MAX_SAFE_INTEGER;

function toStoreError(err: unknown): Error {
  if (err instanceof AppError) return err;
  if (err instanceof Database.SqliteError && UNAVAILABLE.test(err.code))
    return new DependencyError(`sqlite unavailable: ${err.code} ${err.message}`, err);
  if (err instanceof TypeError && /database connection is not open/.test(err.message))
    return new DependencyError('sqlite store is closed', err);
  return err instanceof Error ? err : new Error(String(err));
}

const q = (name: string): string => `"${name}"`;

/** Statements of one series table, prepared once. */
interface SeriesOps {
  write: (rows: PreparedRecord[]) => { inserted: number; updated: number };
  get: Stmt;
  range: Stmt;
}

/** Opens (or creates) the SQLite file. Throws DependencyError when it cannot be opened. */
export function createSqliteStore(opts: SqliteStoreOptions): Store {
  return new SqliteStore(opts);
}

class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly kinds = new Map<string, Kind>();
  private readonly seriesOps = new Map<string, SeriesOps>();
  private readonly stmts = new Map<string, Stmt>();

  constructor(opts: SqliteStoreOptions) {
    try {
      if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
      this.db = new Database(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
    } catch (err) {
      throw new DependencyError(`cannot open sqlite store at ${opts.path}: ${(err as Error).message}`, err);
    }
    opts.logger?.info({ path: opts.path, synchronous: opts.synchronous ?? 'normal' }, 'sqlite store open');
  }

  /** Runs `fn` synchronously, mapping SQLite failures to the platform's errors. */
  private run<T>(fn: () => T): Promise<T> {
    try {
      if (!this.db.open) throw new DependencyError('sqlite store is closed');
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(toStoreError(err));
    }
  }

  private stmt(sql: string): Stmt {
    let s = this.stmts.get(sql);
    if (!s) {
      if (this.stmts.size > 500) this.stmts.clear(); // findDocs builds SQL per filter shape
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private ensure(name: string, kind: Kind): void {
    const known = this.kinds.get(name);
    if (known === kind) return;
    assertCollectionName(name);
    if (/^sqlite_/i.test(name)) throw new InvalidInputError(`collection name ${name} is reserved by sqlite`);
    if (known) throw new InvalidInputError(`collection ${name} holds ${known}, not ${kind}`);
    const t = q(name);
    // A table made earlier (maybe by another process) for the other kind would fail later with
    // a confusing SQL error; its columns tell its kind.
    const cols = (this.db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
    if (cols.length > 0 && !cols.includes(kind === 'series' ? 'series' : 'rev'))
      throw new InvalidInputError(`collection ${name} exists with another shape (${cols.join(', ')})`);
    if (kind === 'series') {
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS ${t} (_key TEXT PRIMARY KEY, series TEXT NOT NULL, time INTEGER NOT NULL, doc TEXT NOT NULL);` +
          `CREATE INDEX IF NOT EXISTS ${q(`${name}_series_time`)} ON ${t} (series, time, _key);`,
      );
    } else {
      this.db.exec(
        `CREATE TABLE IF NOT EXISTS ${t} (_key TEXT PRIMARY KEY, rev INTEGER NOT NULL, doc TEXT NOT NULL)`,
      );
    }
    this.kinds.set(name, kind);
  }

  private series(name: string): SeriesOps {
    const cached = this.seriesOps.get(name);
    if (cached) return cached;
    this.ensure(name, 'series');
    const t = q(name);
    const cols = `${t} (_key, series, time, doc) VALUES (?, ?, ?, ?)`;
    // Two statements instead of one UPSERT: the first tells inserted from existing at no extra
    // cost on the common path (new rows); the second rewrites only rows that differ, so an
    // identical replay changes nothing.
    const insertNew = this.db.prepare(`INSERT INTO ${cols} ON CONFLICT(_key) DO NOTHING`);
    const updateChanged = this.db.prepare(
      `INSERT INTO ${cols} ON CONFLICT(_key) DO UPDATE SET series = excluded.series, time = excluded.time, doc = excluded.doc ` +
        `WHERE series IS NOT excluded.series OR time IS NOT excluded.time OR doc IS NOT excluded.doc`,
    );
    const write = this.db.transaction((rows: PreparedRecord[]) => {
      let inserted = 0;
      let updated = 0;
      for (const r of rows) {
        if (insertNew.run(r.key, r.series, r.time, r.json).changes > 0) inserted++;
        else updated += updateChanged.run(r.key, r.series, r.time, r.json).changes;
      }
      return { inserted, updated };
    });
    const ops: SeriesOps = {
      // IMMEDIATE takes the write lock up front, so a busy database waits (busy_timeout)
      // instead of failing halfway when a read transaction has to upgrade.
      write: (rows) => write.immediate(rows),
      get: this.db.prepare(`SELECT doc FROM ${t} WHERE _key = ?`).pluck(),
      range: this.db.prepare(
        `SELECT _key AS key, series, time, doc FROM ${t} WHERE series = ? AND time >= ? AND time < ? ` +
          `AND (time, _key) > (?, ?) ORDER BY time, _key LIMIT ?`,
      ),
    };
    this.seriesOps.set(name, ops);
    return ops;
  }

  ensureCollection(name: string, kind: 'series' | 'documents'): Promise<void> {
    return this.run(() => this.ensure(name, kind));
  }

  upsertRecords(collection: string, records: readonly SeriesRecord[]): Promise<UpsertResult> {
    return this.run(() => {
      const ops = this.series(collection);
      const rows = prepareBatch(records);
      const { inserted, updated } = rows.length > 0 ? ops.write(rows) : { inserted: 0, updated: 0 };
      return { inserted, updated, unchanged: records.length - inserted - updated };
    });
  }

  getRecord(collection: string, key: string): Promise<Record<string, unknown> | null> {
    return this.run(() => {
      const json = this.series(collection).get.get(key) as string | undefined;
      return json === undefined ? null : (JSON.parse(json) as Record<string, unknown>);
    });
  }

  rangeQuery(collection: string, rq: RangeQuery): Promise<SeriesRecord[]> {
    return this.run(() => {
      checkRangeQuery(rq);
      const ops = this.series(collection);
      // The scan starts at max(from, after.time), so a deep page does not re-read earlier rows;
      // without `after`, (MIN_TIME, '') sorts before every stored (time, key).
      const from = Math.max(rq.from ?? MIN_TIME, rq.after?.time ?? MIN_TIME);
      const rows = ops.range.all(
        rq.series,
        from,
        rq.to ?? MAX_TIME,
        rq.after?.time ?? MIN_TIME,
        rq.after?.key ?? '',
        rq.limit,
      ) as { key: string; series: string; time: number; doc: string }[];
      return rows.map((r) => ({
        key: r.key,
        series: r.series,
        time: r.time,
        doc: JSON.parse(r.doc) as Record<string, unknown>,
      }));
    });
  }

  count(collection: string, series?: string): Promise<number> {
    return this.run(() => {
      this.series(collection);
      const t = q(collection);
      const s =
        series === undefined
          ? this.stmt(`SELECT count(*) FROM ${t}`).pluck()
          : this.stmt(`SELECT count(*) FROM ${t} WHERE series = ?`).pluck();
      return (series === undefined ? s.get() : s.get(series)) as number;
    });
  }

  seriesStats(collection: string, series?: string): Promise<SeriesStats[]> {
    return this.run(() => {
      this.series(collection);
      const where = series === undefined ? '' : 'WHERE series = ?';
      const s = this.stmt(
        `SELECT series, count(*) AS count, min(time) AS first, max(time) AS last FROM ${q(collection)} ${where} GROUP BY series ORDER BY series`,
      );
      return (series === undefined ? s.all() : s.all(series)) as SeriesStats[];
    });
  }

  getDoc<T>(collection: string, key: string): Promise<StoredDoc<T> | null> {
    return this.run(() => this.readDoc<T>(collection, key));
  }

  private readDoc<T>(collection: string, key: string): StoredDoc<T> | null {
    this.ensure(collection, 'documents');
    const row = this.stmt(`SELECT rev, doc FROM ${q(collection)} WHERE _key = ?`).get(key) as
      { rev: number; doc: string } | undefined;
    return row ? { doc: JSON.parse(row.doc) as T, rev: row.rev } : null;
  }

  private writeDoc(collection: string, key: string, json: string, expectedRev?: number): number {
    const t = q(collection);
    if (expectedRev === undefined) {
      const r = this.stmt(
        `INSERT INTO ${t} (_key, rev, doc) VALUES (?, 1, ?) ON CONFLICT(_key) DO NOTHING`,
      ).run(key, json);
      if (r.changes === 0) throw new ConflictError(`${collection}/${key} already exists`);
      return 1;
    }
    // The revision check and the write are one statement: no other writer can slip in between.
    const r = this.stmt(`UPDATE ${t} SET rev = rev + 1, doc = ? WHERE _key = ? AND rev = ?`).run(
      json,
      key,
      expectedRev,
    );
    if (r.changes === 0) throw new ConflictError(`${collection}/${key} is not at revision ${expectedRev}`);
    return expectedRev + 1;
  }

  putDoc<T>(collection: string, key: string, doc: T, expectedRev?: number): Promise<number> {
    return this.run(() => {
      this.ensure(collection, 'documents');
      assertKey(key);
      if (expectedRev !== undefined && !Number.isSafeInteger(expectedRev))
        throw new InvalidInputError('expectedRev must be an integer');
      return this.writeDoc(collection, key, toJson(`document ${key}`, doc), expectedRev);
    });
  }

  findDocs<T>(collection: string, fq: FindQuery): Promise<{ items: StoredDoc<T>[]; total: number }> {
    return this.run(() => {
      this.ensure(collection, 'documents');
      checkFindQuery(fq);
      const conds: string[] = [];
      const params: (string | number)[] = [];
      for (const [field, value] of Object.entries(fq.where ?? {})) {
        // json_extract turns JSON true/false into 1/0; json_type keeps booleans apart from numbers.
        if (typeof value === 'boolean')
          conds.push(`json_type(doc, '$.${field}') = '${value ? 'true' : 'false'}'`);
        else {
          conds.push(`json_extract(doc, '$.${field}') = ?`);
          params.push(value);
        }
      }
      const where = conds.length > 0 ? `WHERE ${conds.join(' AND ')}` : '';
      const order = fq.sortBy
        ? `json_extract(doc, '$.${fq.sortBy}') ${fq.desc ? 'DESC' : 'ASC'}, _key`
        : '_key';
      const rows = this.stmt(
        `SELECT rev, doc, count(*) OVER () AS total FROM ${q(collection)} ${where} ORDER BY ${order} LIMIT ? OFFSET ?`,
      ).all(...params, fq.limit, fq.offset ?? 0) as { rev: number; doc: string; total: number }[];
      const total =
        rows[0]?.total ??
        (this.stmt(`SELECT count(*) FROM ${q(collection)} ${where}`)
          .pluck()
          .get(...params) as number);
      return { items: rows.map((r) => ({ doc: JSON.parse(r.doc) as T, rev: r.rev })), total };
    });
  }

  mergeRanges(collection: string, key: string, add: readonly Range[]): Promise<Range[]> {
    return this.run(() => {
      this.ensure(collection, 'documents');
      assertKey(key);
      checkRanges(add);
      // Read, merge and write under one write lock: concurrent writers (other processes on the
      // same file) queue on busy_timeout instead of losing each other's ranges.
      const merge = this.db.transaction(() => {
        const stored = this.readDoc<{ ranges: Range[] }>(collection, key);
        const have = stored?.doc.ranges ?? [];
        const merged = mergeRangeSet([...have, ...add]);
        if (JSON.stringify(merged) === JSON.stringify(have)) return merged; // nothing new: no write
        this.writeDoc(collection, key, JSON.stringify({ ranges: merged }), stored?.rev);
        return merged;
      });
      return merge.immediate();
    });
  }

  getRanges(collection: string, key: string): Promise<Range[]> {
    return this.run(() => this.readDoc<{ ranges: Range[] }>(collection, key)?.doc.ranges ?? []);
  }

  ping(): Promise<void> {
    return this.run(() => {
      this.stmt('SELECT 1').get();
    });
  }

  close(): Promise<void> {
    if (this.db.open) this.db.close();
    return Promise.resolve();
  }
}
