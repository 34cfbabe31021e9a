/**
 * The SQLite engine under both SQLite Store adapters: the direct one (sqlite-store.ts) and the
 * worker-thread one (sqlite-worker-store.ts). Synchronous, like better-sqlite3, and speaking JSON
 * text rather than documents: the worker adapter passes strings between threads and serialises
 * and parses on the caller's thread.
 *
 * Collections are tables created on demand. Series tables hold `_key, series, time, doc` with an
 * index on (series, time, _key) for range reads in key order; document tables hold
 * `_key, rev, doc`. Note that SQLite table names ignore case, so collections differing only in
 * case share a table here (not in ArangoDB).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { AppError, ConflictError, DependencyError, InvalidInputError } from '../runtime/errors.ts';
import { mergeRangeSet } from './ranges.ts';
import type { FindQuery, Range, RangeQuery, SeriesStats } from './store.ts';
import {
  assertCollectionName,
  assertKey,
  checkFindQuery,
  checkRangeQuery,
  checkRanges,
  type PreparedColumns,
} from './validate.ts';

export interface SqliteDbOptions {
  /** File path (its directory is created), or `:memory:`. */
  path: string;
  /** How long a write waits for another connection's lock before failing with 503. */
  busyTimeoutMs?: number | undefined;
  /**
   * `normal` (default): with WAL a commit survives a crash of the process; an OS crash or power
   * loss can lose the last commits, but never corrupts, and records and coverage ledger roll back
   * together, so the ledger still tells what is missing and loaders fetch it again.
   * `full`: fsync on every commit (about 10-15% slower on 1000-record batches here).
   */
  synchronous?: 'normal' | 'full' | undefined;
}

/** Records of a range read as columns; `docs` are JSON text. */
export interface RecordColumns {
  keys: string[];
  series: string[];
  times: number[];
  docs: string[];
}

/** A stored document as JSON text. */
export interface DocRow {
  rev: number;
  json: string;
}

type Kind = 'series' | 'documents';
type Stmt = Database.Statement<unknown[], unknown>;

/** SQLite failures that say "the database is not usable now", answered 503 and retried. */
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL|READONLY|CORRUPT|NOTADB|PROTOCOL|PERM|AUTH)/;
const MIN_TIME = Number.MIN_SAFE_INTEGER;
const MAX_TIME = Number.MAX_SAFE_INTEGER;

/**
 * Rows per multi-row statement. One statement for 64 rows saves better-sqlite3's per-call cost
 * and SQLite's per-statement set-up for 63 others, and an identical replay checks 64 rows per
 * statement instead of running two statements per row. With OR IGNORE (below), instructions per
 * row in better-sqlite3 + SQLite (callgrind, 1000-record batches of klines): new rows 22.9k →
 * 19.2k, identical replay 29.6k → 22.5k, all rows changed 39.2k → 32.3k. 32 rows do as well;
 * 256 bound values stay far below SQLite's limit.
 */
const CHUNK = 64;

/**
 * Connection settings, after WAL and `synchronous`:
 * - a 64 MiB page cache (the default is 2 MiB): index pages of many series stay in memory
 *   during a backfill instead of being read again; SQLite allocates it only as pages are used;
 * - checkpoint the WAL every 10 000 pages (40 MiB) instead of 1000: pages rewritten by
 *   successive batches reach the database file once (10% fewer bytes written and read back on
 *   a 200k-kline insert). These two gave 10-20% more inserts per second (issue 5).
 * - temporary data in memory: a multi-row UPSERT (the replay path) keeps a statement journal,
 *   which otherwise spills to a temporary file (+75% bytes written when all rows change).
 */
const PRAGMAS = ['cache_size = -65536', 'wal_autocheckpoint = 10000', 'temp_store = MEMORY'];

/** Maps SQLite failures to the platform's errors; anything else passes through. */
export function toStoreError(err: unknown): Error {
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
  write: (b: PreparedColumns) => { inserted: number; updated: number };
  get: Stmt;
  range: Stmt;
}

/** One SQLite connection. Methods throw; callers map errors with `toStoreError`. */
export class SqliteDb {
  private readonly db: Database.Database;
  private readonly kinds = new Map<string, Kind>();
  private readonly seriesOps = new Map<string, SeriesOps>();
  private readonly stmts = new Map<string, Stmt>();

  /** Opens (or creates) the file. Throws DependencyError when it cannot be opened. */
  constructor(opts: SqliteDbOptions) {
    try {
      if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
      this.db = new Database(opts.path, { timeout: opts.busyTimeoutMs ?? 5000 });
      this.db.pragma('journal_mode = WAL');
      this.db.pragma(`synchronous = ${opts.synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
      for (const p of PRAGMAS) this.db.pragma(p);
    } catch (err) {
      throw new DependencyError(`cannot open sqlite store at ${opts.path}: ${(err as Error).message}`, err);
    }
  }

  get open(): boolean {
    return this.db.open;
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

  ensureCollection(name: string, kind: Kind): void {
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
    this.ensureCollection(name, 'series');
    const t = q(name);
    const values = (n: number): string => Array.from({ length: n }, () => '(?, ?, ?, ?)').join(', ');
    // Two steps instead of one UPSERT: the first tells inserted from existing at no extra cost
    // on the common path (new rows); the second rewrites only rows that differ, so an identical
    // replay changes nothing. Rows the first step just inserted are identical to themselves, so
    // running the second over a whole chunk counts exactly the updated ones.
    // OR IGNORE does what ON CONFLICT(_key) DO NOTHING would here (the only other constraints
    // are NOT NULLs, which validated rows always meet); as it can never abort halfway, SQLite
    // keeps no statement journal for a multi-row one (9% fewer instructions than DO NOTHING).
    const insert = (n: number): Stmt =>
      this.db.prepare(`INSERT OR IGNORE INTO ${t} (_key, series, time, doc) VALUES ${values(n)}`);
    const upsert = (n: number): Stmt =>
      this.db.prepare(
        `INSERT INTO ${t} (_key, series, time, doc) VALUES ${values(n)} ON CONFLICT(_key) DO UPDATE ` +
          `SET series = excluded.series, time = excluded.time, doc = excluded.doc ` +
          `WHERE series IS NOT excluded.series OR time IS NOT excluded.time OR doc IS NOT excluded.doc`,
      );
    const [insertOne, upsertOne, insertChunk, upsertChunk] = [
      insert(1),
      upsert(1),
      insert(CHUNK),
      upsert(CHUNK),
    ];
    const args: unknown[] = new Array<unknown>(CHUNK * 4);
    const write = this.db.transaction((b: PreparedColumns) => {
      const { keys, series, times, json } = b;
      const n = keys.length;
      let inserted = 0;
      let updated = 0;
      let i = 0;
      for (; i + CHUNK <= n; i += CHUNK) {
        for (let j = 0; j < CHUNK; j++) {
          args[4 * j] = keys[i + j];
          args[4 * j + 1] = series[i + j];
          args[4 * j + 2] = times[i + j];
          args[4 * j + 3] = json[i + j];
        }
        const added = insertChunk.run(args).changes;
        inserted += added;
        if (added < CHUNK) updated += upsertChunk.run(args).changes;
      }
      for (; i < n; i++) {
        if (insertOne.run(keys[i], series[i], times[i], json[i]).changes > 0) inserted++;
        else updated += upsertOne.run(keys[i], series[i], times[i], json[i]).changes;
      }
      return { inserted, updated };
    });
    const ops: SeriesOps = {
      // IMMEDIATE takes the write lock up front, so a busy database waits (busy_timeout)
      // instead of failing halfway when a read transaction has to upgrade.
      write: (b) => write.immediate(b),
      get: this.db.prepare(`SELECT doc FROM ${t} WHERE _key = ?`).pluck(),
      range: this.db
        .prepare(
          `SELECT _key, series, time, doc FROM ${t} WHERE series = ? AND time >= ? AND time < ? ` +
            `AND (time, _key) > (?, ?) ORDER BY time, _key LIMIT ?`,
        )
        .raw(),
    };
    this.seriesOps.set(name, ops);
    return ops;
  }

  /**
   * UPSERTs a validated batch (`prepareColumns`: no key twice) in one transaction. Creates the
   * collection when missing, even for an empty batch.
   */
  writeSeries(collection: string, b: PreparedColumns): { inserted: number; updated: number } {
    const ops = this.series(collection);
    return b.keys.length > 0 ? ops.write(b) : { inserted: 0, updated: 0 };
  }

  /** The record's document as JSON text. */
  getRecord(collection: string, key: string): string | undefined {
    return this.series(collection).get.get(key) as string | undefined;
  }

  rangeQuery(collection: string, rq: RangeQuery): RecordColumns {
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
    ) as [string, string, number, string][];
    const out: RecordColumns = { keys: [], series: [], times: [], docs: [] };
    for (const [key, series, time, doc] of rows) {
      out.keys.push(key);
      out.series.push(series);
      out.times.push(time);
      out.docs.push(doc);
    }
    return out;
  }

  count(collection: string, series?: string): number {
    this.series(collection);
    const t = q(collection);
    const s =
      series === undefined
        ? this.stmt(`SELECT count(*) FROM ${t}`).pluck()
        : this.stmt(`SELECT count(*) FROM ${t} WHERE series = ?`).pluck();
    return (series === undefined ? s.get() : s.get(series)) as number;
  }

  seriesStats(collection: string, series?: string): SeriesStats[] {
    this.series(collection);
    const where = series === undefined ? '' : 'WHERE series = ?';
    const s = this.stmt(
      `SELECT series, count(*) AS count, min(time) AS first, max(time) AS last FROM ${q(collection)} ${where} GROUP BY series ORDER BY series`,
    );
    return (series === undefined ? s.all() : s.all(series)) as SeriesStats[];
  }

  getDoc(collection: string, key: string): DocRow | undefined {
    this.ensureCollection(collection, 'documents');
    const row = this.stmt(`SELECT rev, doc AS json FROM ${q(collection)} WHERE _key = ?`).get(key);
    return row as DocRow | undefined;
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

  /** Store.putDoc with the document already serialised (`toJson`). */
  putDoc(collection: string, key: string, json: string, expectedRev?: number): number {
    this.ensureCollection(collection, 'documents');
    assertKey(key);
    if (expectedRev !== undefined && !Number.isSafeInteger(expectedRev))
      throw new InvalidInputError('expectedRev must be an integer');
    return this.writeDoc(collection, key, json, expectedRev);
  }

  findDocs(collection: string, fq: FindQuery): { items: DocRow[]; total: number } {
    this.ensureCollection(collection, 'documents');
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
    return { items: rows.map((r) => ({ rev: r.rev, json: r.doc })), total };
  }

  mergeRanges(collection: string, key: string, add: readonly Range[]): Range[] {
    this.ensureCollection(collection, 'documents');
    assertKey(key);
    checkRanges(add);
    // Read, merge and write under one write lock: concurrent writers (other processes on the
    // same file) queue on busy_timeout instead of losing each other's ranges.
    const merge = this.db.transaction(() => {
      const stored = this.getDoc(collection, key);
      const have = stored ? ((JSON.parse(stored.json) as { ranges?: Range[] }).ranges ?? []) : [];
      const merged = mergeRangeSet([...have, ...add]);
      if (JSON.stringify(merged) === JSON.stringify(have)) return merged; // nothing new: no write
      this.writeDoc(collection, key, JSON.stringify({ ranges: merged }), stored?.rev);
      return merged;
    });
    return merge.immediate();
  }

  getRanges(collection: string, key: string): Range[] {
    const stored = this.getDoc(collection, key);
    return stored ? ((JSON.parse(stored.json) as { ranges?: Range[] }).ranges ?? []) : [];
  }

  ping(): void {
    this.stmt('SELECT 1').get();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
