/**
 * The SQLite engine under the SQLite Store adapter (sqlite-store.ts): synchronous, like
 * better-sqlite3. Collections are tables created on demand, of three layouts:
 * - typed series tables, one record kind each, one column per field (sqlite-typed.ts): what
 *   `upsertRows` and `ensureCollection(name, 'series', kind)` make;
 * - generic series tables `_key, series, time, doc` (JSON text) with an index on
 *   (series, time, _key) for range reads in key order: series collections given no record kind
 *   (and an earlier version's layout of every series collection, migrated to typed tables when
 *   asked to hold typed records);
 * - document tables `_key, rev, doc`.
 * A table's columns tell its layout, also to another connection. Note that SQLite table names
 * ignore case, so collections differing only in case share a table here (not in ArangoDB).
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { RecordKind } from '../contracts/records.ts';
import type { Logger } from '../runtime/logger.ts';
import { AppError, ConflictError, DependencyError, InvalidInputError } from '../runtime/errors.ts';
import { mergeRangeSet } from './ranges.ts';
import { SqliteGraphs } from './sqlite-graphs.ts';
import { TypedTable, createTypedSql, migrateToTyped, typedKindOf } from './sqlite-typed.ts';
import type {
  Candle,
  CandleQuery,
  FindQuery,
  Range,
  RangeQuery,
  RowBatch,
  SeriesRecord,
  SeriesStats,
} from './store.ts';
import {
  assertCollectionName,
  assertKey,
  checkFindQuery,
  checkRangeQuery,
  checkRanges,
  checkRowBatch,
  prepareColumns,
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
  /** Told when a collection is migrated to the typed layout. */
  logger?: Logger | undefined;
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

/** A table's layout, as its columns tell. */
type Layout =
  | { shape: 'documents' }
  | { shape: 'generic'; table: GenericTable }
  | { shape: 'typed'; kind: RecordKind; table: TypedTable };

/**
 * Buckets of a kline series in one statement: the grouped scan of [from, to) on the (series,
 * time) order gives each bucket's first and last open time, highest high, lowest low and summed
 * volume; the first open and the last close are then two lookups by (series, time). Parameters:
 * @series, @from, @to, @bucket. Decimal text becomes REAL here: candles are for drawing only.
 */
function candleSql(table: string, time: string, field: (name: string, alias: string) => string): string {
  const t = q(table);
  const num = (f: string, alias = ''): string => `CAST(${field(f, alias)} AS REAL)`;
  // MATERIALIZED and CROSS JOIN (SQLite keeps that join order): the grouped scan runs once and
  // drives two lookups per bucket; left to the planner, it became the inner loop of a product.
  return (
    `WITH g AS MATERIALIZED (SELECT min(${time}) AS t0, max(${time}) AS t1, max(${num('high')}) AS h, ` +
    `min(${num('low')}) AS l, total(${num('volume')}) AS v FROM ${t} ` +
    `WHERE series = @series AND ${time} >= @from AND ${time} < @to ` +
    `GROUP BY CAST((${time} - @from) / @bucket AS INTEGER)) ` +
    `SELECT g.t0 AS t, ${num('open', 'a.')} AS o, g.h AS h, g.l AS l, ${num('close', 'z.')} AS c, g.v AS v ` +
    `FROM g CROSS JOIN ${t} AS a ON a.series = @series AND a.${time} = g.t0 ` +
    `CROSS JOIN ${t} AS z ON z.series = @series AND z.${time} = g.t1 ORDER BY g.t0`
  );
}

/** What a table holds, as its columns tell. */
type Shape = { shape: 'documents' } | { shape: 'generic' } | { shape: 'typed'; kind: RecordKind };

/** A series table: generic or typed. */
interface SeriesTable {
  get(key: string): Record<string, unknown> | null;
  /** Records of `rq.series` with lo <= time < hi, after `rq.after`, ordered, at most rq.limit. */
  range(rq: RangeQuery, lo: number, hi: number): SeriesRecord[];
  count(series?: string): number;
  stats(series?: string): SeriesStats[];
}

/** Statements of one generic series table (`_key, series, time, doc`), prepared once. */
class GenericTable implements SeriesTable {
  private readonly writeTx: Database.Transaction<
    (b: PreparedColumns) => { inserted: number; updated: number }
  >;
  private readonly getStmt: Stmt;
  private readonly rangeStmt: Stmt;
  private readonly countAll: Stmt;
  private readonly countSeries: Stmt;
  private readonly statsAll: Stmt;
  private readonly statsSeries: Stmt;

  constructor(db: Database.Database, name: string) {
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
      db.prepare(`INSERT OR IGNORE INTO ${t} (_key, series, time, doc) VALUES ${values(n)}`);
    const upsert = (n: number): Stmt =>
      db.prepare(
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
    this.writeTx = db.transaction((b: PreparedColumns) => {
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
    this.getStmt = db.prepare(`SELECT doc FROM ${t} WHERE _key = ?`).pluck();
    this.rangeStmt = db
      .prepare(
        `SELECT _key, series, time, doc FROM ${t} WHERE series = ? AND time >= ? AND time < ? ` +
          `AND (time, _key) > (?, ?) ORDER BY time, _key LIMIT ?`,
      )
      .raw();
    this.countAll = db.prepare(`SELECT count(*) FROM ${t}`).pluck();
    this.countSeries = db.prepare(`SELECT count(*) FROM ${t} WHERE series = ?`).pluck();
    const stats = `SELECT series, count(*) AS count, min(time) AS first, max(time) AS last FROM ${t}`;
    this.statsAll = db.prepare(`${stats} GROUP BY series ORDER BY series`);
    this.statsSeries = db.prepare(`${stats} WHERE series = ? GROUP BY series ORDER BY series`);
  }

  /**
   * UPSERTs a validated batch (`prepareColumns`: no key twice) in one IMMEDIATE transaction: the
   * write lock taken up front, so a busy database waits (busy_timeout) instead of failing
   * halfway when a read transaction has to upgrade.
   */
  write(b: PreparedColumns): { inserted: number; updated: number } {
    return b.keys.length > 0 ? this.writeTx.immediate(b) : { inserted: 0, updated: 0 };
  }

  get(key: string): Record<string, unknown> | null {
    const json = this.getStmt.get(key) as string | undefined;
    return json === undefined ? null : (JSON.parse(json) as Record<string, unknown>);
  }

  range(rq: RangeQuery, lo: number, hi: number): SeriesRecord[] {
    // Without `after`, (MIN_TIME, '') sorts before every stored (time, key).
    const rows = this.rangeStmt.all(
      rq.series,
      lo,
      hi,
      rq.after?.time ?? MIN_TIME,
      rq.after?.key ?? '',
      rq.limit,
    ) as [string, string, number, string][];
    return rows.map(([key, series, time, doc]) => ({
      key,
      series,
      time,
      doc: JSON.parse(doc) as Record<string, unknown>,
    }));
  }

  count(series?: string): number {
    return (series === undefined ? this.countAll.get() : this.countSeries.get(series)) as number;
  }

  stats(series?: string): SeriesStats[] {
    return (series === undefined ? this.statsAll.all() : this.statsSeries.all(series)) as SeriesStats[];
  }
}

/** Errors of statements prepared for a table that another connection has since changed. */
const STALE = /no such (table|column)|has no column named/;

/** One SQLite connection. Methods throw; callers map errors with `toStoreError`. */
export class SqliteDb {
  private readonly db: Database.Database;
  private readonly path: string;
  private readonly logger: Logger | undefined;
  private readonly layouts = new Map<string, Layout>();
  private readonly stmts = new Map<string, Stmt>();
  private graphTables: SqliteGraphs | undefined;

  /** Opens (or creates) the file. Throws DependencyError when it cannot be opened. */
  constructor(opts: SqliteDbOptions) {
    this.path = opts.path;
    this.logger = opts.logger;
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

  /** What the existing table `name` holds, as its columns tell, or undefined when there is none. */
  private shapeOf(name: string): Shape | undefined {
    const cols = (this.db.prepare(`PRAGMA table_info(${q(name)})`).all() as { name: string }[]).map(
      (c) => c.name,
    );
    if (cols.length === 0) return undefined;
    if (cols.includes('rev')) return { shape: 'documents' };
    if (['_key', 'series', 'time', 'doc'].every((c) => cols.includes(c))) return { shape: 'generic' };
    const kind = typedKindOf(cols);
    if (kind) return { shape: 'typed', kind };
    throw new InvalidInputError(`collection ${name} exists with another shape (${cols.join(', ')})`);
  }

  /** The layout of collection `name`, or undefined while it has no table. */
  private layout(name: string): Layout | undefined {
    const known = this.layouts.get(name);
    if (known) return known;
    assertCollectionName(name);
    if (/^sqlite_/i.test(name)) throw new InvalidInputError(`collection name ${name} is reserved by sqlite`);
    const found = this.shapeOf(name);
    if (!found) return undefined;
    const layout: Layout =
      found.shape === 'documents'
        ? found
        : found.shape === 'generic'
          ? { shape: 'generic', table: new GenericTable(this.db, name) }
          : { ...found, table: new TypedTable(this.db, name, found.kind, CHUNK) };
    this.layouts.set(name, layout);
    return layout;
  }

  /** The series table of `name`, undefined while it has none; InvalidInputError for documents. */
  private seriesTable(name: string): SeriesTable | undefined {
    const layout = this.layout(name);
    if (layout?.shape === 'documents')
      throw new InvalidInputError(`collection ${name} holds documents, not series`);
    return layout?.table;
  }

  /**
   * Runs `fn` once more, with the collection's layout read again, when its statements failed
   * because another connection changed the table (e.g. migrated it to the typed layout).
   */
  private fresh<T>(name: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (!(err instanceof Database.SqliteError && STALE.test(err.message)) || !this.layouts.has(name))
        throw err;
      this.layouts.delete(name);
      return fn();
    }
  }

  /**
   * Creates the collection when missing. A series collection with `recordKind` is a typed table
   * of that kind (a generic one is migrated: `typed`); without, an existing series table of
   * either layout will do, and a missing one is created generic.
   */
  ensureCollection(name: string, kind: Kind, recordKind?: RecordKind): void {
    if (kind === 'series' && recordKind !== undefined) {
      this.typed(name, recordKind);
      return;
    }
    const layout = this.layout(name);
    if (layout) {
      const has: Kind = layout.shape === 'documents' ? 'documents' : 'series';
      if (has !== kind) throw new InvalidInputError(`collection ${name} holds ${has}, not ${kind}`);
      return;
    }
    this.db.exec(
      kind === 'series'
        ? `CREATE TABLE IF NOT EXISTS ${q(name)} (_key TEXT PRIMARY KEY, series TEXT NOT NULL, time INTEGER NOT NULL, doc TEXT NOT NULL);` +
            `CREATE INDEX IF NOT EXISTS ${q(`${name}_series_time`)} ON ${q(name)} (series, time, _key);`
        : `CREATE TABLE IF NOT EXISTS ${q(name)} (_key TEXT PRIMARY KEY, rev INTEGER NOT NULL, doc TEXT NOT NULL)`,
    );
    this.layouts.delete(name);
    this.layout(name);
  }

  /**
   * The typed table of `kind` named `name`: created when missing, migrated from the generic
   * layout when it has that one (sqlite-typed.ts `migrateToTyped`), all under the write lock so
   * that two connections cannot both migrate. InvalidInputError when it holds another kind or
   * documents.
   */
  private typed(name: string, kind: RecordKind): TypedTable {
    const known = this.layout(name);
    if (known?.shape === 'typed' && known.kind === kind) return known.table;
    const settle = this.db.transaction(() => {
      const now = this.shapeOf(name); // another connection may have changed it meanwhile
      if (now?.shape === 'documents')
        throw new InvalidInputError(`collection ${name} holds documents, not series`);
      if (now?.shape === 'typed') {
        if (now.kind !== kind)
          throw new InvalidInputError(`collection ${name} holds ${now.kind} records, not ${kind}`);
        return;
      }
      if (now?.shape === 'generic')
        migrateToTyped(this.db, name, kind, { path: this.path, logger: this.logger });
      else this.db.exec(createTypedSql(name, kind));
    });
    settle.immediate();
    this.layouts.delete(name);
    const layout = this.layout(name);
    if (layout?.shape !== 'typed') throw new Error(`collection ${name} is not typed after creating it`);
    return layout.table;
  }

  /** Store.upsertRecords: into a typed table as rows (sqlite-typed.ts), else a generic one. */
  writeRecords(collection: string, records: readonly SeriesRecord[]): { inserted: number; updated: number } {
    return this.fresh(collection, () => {
      let table = this.seriesTable(collection);
      if (!table) {
        const b = prepareColumns(records); // checked before the collection is created
        this.ensureCollection(collection, 'series');
        table = this.seriesTable(collection);
        if (table instanceof GenericTable) return table.write(b);
      }
      return table instanceof TypedTable
        ? table.writeRecords(records)
        : (table as GenericTable).write(prepareColumns(records));
    });
  }

  /** Store.upsertRows: into the typed table of the batch's kind, created or migrated as needed. */
  writeRows(collection: string, batch: RowBatch): { inserted: number; updated: number } {
    assertCollectionName(collection);
    const { key, rows } = checkRowBatch(batch);
    return this.fresh(collection, () => this.typed(collection, batch.kind).write(key, rows));
  }

  getRecord(collection: string, key: string): Record<string, unknown> | null {
    return this.fresh(collection, () => this.seriesTable(collection)?.get(key) ?? null);
  }

  rangeQuery(collection: string, rq: RangeQuery): SeriesRecord[] {
    checkRangeQuery(rq);
    // The scan starts at max(from, after.time), so a deep page does not re-read earlier rows.
    const lo = Math.max(rq.from ?? MIN_TIME, rq.after?.time ?? MIN_TIME);
    const hi = rq.to ?? MAX_TIME;
    return this.fresh(collection, () => this.seriesTable(collection)?.range(rq, lo, hi) ?? []);
  }

  count(collection: string, series?: string): number {
    return this.fresh(collection, () => this.seriesTable(collection)?.count(series) ?? 0);
  }

  seriesStats(collection: string, series?: string): SeriesStats[] {
    return this.fresh(collection, () => this.seriesTable(collection)?.stats(series) ?? []);
  }

  candles(collection: string, cq: CandleQuery): Candle[] {
    if (!(Number.isSafeInteger(cq.bucket_ms) && cq.bucket_ms > 0))
      throw new InvalidInputError(`bucket_ms must be a positive integer, got ${cq.bucket_ms}`);
    return this.fresh(collection, () => {
      const layout = this.layout(collection);
      if (layout === undefined) return [];
      if (layout.shape === 'documents')
        throw new InvalidInputError(`collection ${collection} holds documents, not series`);
      if (layout.shape === 'typed' && layout.kind !== 'kline')
        throw new InvalidInputError(`collection ${collection} holds ${layout.kind} records, not klines`);
      const sql =
        layout.shape === 'typed'
          ? candleSql(collection, 'open_time', (f, alias) => `${alias}${f}`)
          : candleSql(collection, 'time', (f, alias) => `json_extract(${alias}doc, '$.${f}')`);
      return this.stmt(sql).all({
        series: cq.series,
        from: cq.from,
        to: cq.to,
        bucket: cq.bucket_ms,
      }) as Candle[];
    });
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

  /** The graph tables (sqlite-graphs.ts), created on first use. */
  get graphs(): SqliteGraphs {
    this.graphTables ??= new SqliteGraphs(this.db);
    return this.graphTables;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
