/**
 * Typed series tables of the SQLite adapter: one table per collection of one record kind, one
 * column per record field (rows.ts ROW_COLUMNS order), the series id string first:
 *
 *   series TEXT NOT NULL, <id> INTEGER NOT NULL, ... , PRIMARY KEY (series, <id>)  STRICT, WITHOUT ROWID
 *
 * Column types follow the record schema's fields (records.ts): integers INTEGER; decimal strings
 * and other strings TEXT, kept exactly as sent; booleans INTEGER 0/1 (true/false again on read);
 * arrays (depth levels) TEXT holding their JSON. An optional field is NULL when absent. The
 * natural key `<market>:<symbol>:<tag>:<id>` is (series, id): the primary key, and without a
 * rowid the table itself is the B-tree in key order, so a kline range read (time = id) is one
 * scan of it. Kinds whose time differs from their id (trades, depth, ...) add an index on
 * (series, time, id).
 *
 * Reads give exactly the records an `upsertRecords` of the same records into a generic table
 * would: doc = recordFromRow(kind, series, row), key by rowIdentifier, time from TIME_COLUMN.
 * One difference: records of equal time are ordered by id as a number here, by key as a string
 * in a generic table and in ArangoDB (only ids of different lengths at one time tell the two apart).
 *
 * A generic table (`_key, series, time, doc`, an earlier version's layout) that is asked to hold
 * typed records is migrated in one transaction, or refused when a stored document is not a record
 * of the kind: see `migrateToTyped`.
 */
import type Database from 'better-sqlite3';
import { z } from 'zod';
import {
  RECORD_SCHEMAS,
  identify,
  parseSeriesKey,
  seriesKey,
  type Dataset,
  type MarketRecord,
  type RecordKind,
  type SeriesId,
} from '../contracts/records.ts';
import {
  ROW_COLUMNS,
  TIME_COLUMN,
  recordFromRow,
  rowFromRecord,
  rowIdentifier,
  type Row,
} from '../contracts/rows.ts';
import type { Logger } from '../runtime/logger.ts';
import { DependencyError, InvalidInputError } from '../runtime/errors.ts';
import type { RangeQuery, SeriesRecord, SeriesStats } from './store.ts';
import { assertKey } from './validate.ts';

type Stmt = Database.Statement<unknown[], unknown>;

/** How a column's value is bound and read back. */
type Conv = 'direct' | 'bool' | 'json';

interface Column {
  name: string;
  sql: 'INTEGER' | 'TEXT';
  conv: Conv;
  optional: boolean;
}

/** The table layout of a record kind, derived once from its record schema. */
export interface TypedLayout {
  kind: RecordKind;
  /** ROW_COLUMNS order; the first is the id. */
  columns: readonly Column[];
  id: string;
  time: string;
  timeIndex: number;
  /** Some column needs converting (booleans, arrays) when bound or read. */
  converts: boolean;
}

const layouts = new Map<RecordKind, TypedLayout>();

/** The column type of a record field: integers, strings, booleans or arrays (of strings). */
function columnOf(name: string, field: z.ZodType): Column {
  const optional = field instanceof z.ZodOptional;
  const inner = optional ? (field.unwrap() as z.ZodType) : field;
  if (inner instanceof z.ZodNumber) {
    if (!inner.isInt) throw new Error(`record field ${name}: only integer numbers have a column type`);
    return { name, sql: 'INTEGER', conv: 'direct', optional };
  }
  if (inner instanceof z.ZodString) return { name, sql: 'TEXT', conv: 'direct', optional };
  if (inner instanceof z.ZodBoolean) return { name, sql: 'INTEGER', conv: 'bool', optional };
  if (inner instanceof z.ZodArray) return { name, sql: 'TEXT', conv: 'json', optional };
  throw new Error(`record field ${name}: no column type for ${inner.def.type}`);
}

export function typedLayout(kind: RecordKind): TypedLayout {
  let layout = layouts.get(kind);
  if (layout) return layout;
  const shape = (RECORD_SCHEMAS[kind] as unknown as { shape: Record<string, z.ZodType> }).shape;
  const columns = (ROW_COLUMNS[kind] as readonly string[]).map((c) => columnOf(c, shape[c]!));
  const time: string = TIME_COLUMN[kind];
  layout = {
    kind,
    columns,
    id: columns[0]!.name,
    time,
    timeIndex: columns.findIndex((c) => c.name === time),
    converts: columns.some((c) => c.conv !== 'direct'),
  };
  layouts.set(kind, layout);
  return layout;
}

/** The kind whose typed table has exactly these columns, if any. */
export function typedKindOf(columns: readonly string[]): RecordKind | undefined {
  for (const kind of Object.keys(ROW_COLUMNS) as RecordKind[]) {
    const want = ['series', ...ROW_COLUMNS[kind]];
    if (want.length === columns.length && want.every((c, i) => columns[i] === c)) return kind;
  }
  return undefined;
}

const q = (name: string): string => `"${name}"`;
const indexName = (table: string): string => `${table}_series_time`;

/**
 * SQL creating the typed table `table` for `layout`. STRICT: SQLite itself refuses a value of
 * another type than its column's (a safety net under the checks of validate.ts).
 */
function createTableSql(table: string, layout: TypedLayout): string {
  const cols = layout.columns.map((c) => `${c.name} ${c.sql}${c.optional ? '' : ' NOT NULL'}`);
  return (
    `CREATE TABLE IF NOT EXISTS ${q(table)} (series TEXT NOT NULL, ${cols.join(', ')}, ` +
    `PRIMARY KEY (series, ${layout.id})) STRICT, WITHOUT ROWID;`
  );
}

/** SQL creating the (series, time, id) index of `table`, when its time is not its id. */
function createIndexSql(table: string, layout: TypedLayout): string {
  return layout.time === layout.id
    ? ''
    : `CREATE INDEX IF NOT EXISTS ${q(indexName(table))} ON ${q(table)} (series, ${layout.time}, ${layout.id});`;
}

/** SQL creating the typed table `table` of `kind` and its index. */
export function createTypedSql(table: string, kind: RecordKind): string {
  const layout = typedLayout(kind);
  return createTableSql(table, layout) + createIndexSql(table, layout);
}

const strictSchemas = new Map<RecordKind, z.ZodType>();
/** The kind's record schema refusing unknown fields: a typed table would drop them. */
function strictSchema(kind: RecordKind): z.ZodType {
  let s = strictSchemas.get(kind);
  if (!s) {
    s = z.strictObject((RECORD_SCHEMAS[kind] as z.ZodObject).shape);
    strictSchemas.set(kind, s);
  }
  return s;
}

/**
 * The row a series record stands for in a typed table of `kind`, or why it has none: its doc
 * must be a record of the kind (no unknown fields) whose identify() gives the record's key,
 * series and time, so that reading it back gives the same record.
 */
export function recordRow(kind: RecordKind, r: SeriesRecord): Row | string {
  const parsed = strictSchema(kind).safeParse(r.doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `not a ${kind} record (${issue ? `${issue.path.join('.') || 'doc'}: ${issue.message}` : 'invalid'})`;
  }
  const rec = parsed.data as MarketRecord;
  const id = identify(kind, rec);
  const series = seriesKey(id.series);
  if (id.key !== r.key) return `key ${r.key} is not the record's natural key ${id.key}`;
  if (series !== r.series) return `series ${r.series} is not the record's series ${series}`;
  if (id.time !== r.time) return `time ${r.time} is not the record's time ${id.time}`;
  return rowFromRecord(kind, rec as never);
}

/**
 * Datasets of the kinds whose key tag is fixed (rows.ts KEY_TAG); klines take theirs from the
 * tag (their interval).
 */
const DATASET: Record<Exclude<RecordKind, 'kline'>, Dataset> = {
  trade: 'trades',
  agg_trade: 'agg_trades',
  funding: 'funding',
  depth: 'depth',
  book_ticker: 'book_ticker',
};

/** An id as natural keys write it (a safe integer in its canonical decimal form), else undefined. */
function idOf(text: string): number | undefined {
  const n = Number(text);
  return Number.isSafeInteger(n) && String(n) === text ? n : undefined;
}

/** Statements of one typed table, prepared once. */
export class TypedTable {
  readonly layout: TypedLayout;
  private readonly db: Database.Database;
  private readonly t: string;
  /** Multi-row INSERT OR IGNORE and UPSERT by row count (CHUNK, and the remainders met). */
  private readonly inserts = new Map<number, Stmt>();
  private readonly upserts = new Map<number, Stmt>();
  /** The stored rows of one series among given ids, by id count. */
  private readonly lookups = new Map<number, Stmt>();
  private readonly args: unknown[];
  private readonly writeTx: Database.Transaction<
    (series: string | readonly string[], rows: readonly Row[]) => { inserted: number; updated: number }
  >;
  private readonly getStmt: Stmt;
  private readonly rangeStmt: Stmt;
  private readonly rangeAfterStmt: Stmt;
  private readonly countAll: Stmt;
  private readonly countSeries: Stmt;
  private readonly statsAll: Stmt;
  private readonly statsSeries: Stmt;
  private readonly width: number;
  private readonly select: string;

  constructor(
    db: Database.Database,
    name: string,
    kind: RecordKind,
    private readonly chunk: number,
  ) {
    this.db = db;
    this.layout = typedLayout(kind);
    this.t = q(name);
    const { columns, id, time } = this.layout;
    this.width = columns.length + 1;
    this.args = new Array<unknown>(chunk * this.width);
    this.select = `series, ${columns.map((c) => c.name).join(', ')}`;
    const t = this.t;
    const order = time === id ? id : `${time}, ${id}`;
    const where = `series = ? AND ${time} >= ? AND ${time} < ?`;
    this.getStmt = db.prepare(`SELECT ${this.select} FROM ${t} WHERE series = ? AND ${id} = ?`).raw();
    this.rangeStmt = db
      .prepare(`SELECT ${this.select} FROM ${t} WHERE ${where} ORDER BY ${order} LIMIT ?`)
      .raw();
    this.rangeAfterStmt = db
      .prepare(
        `SELECT ${this.select} FROM ${t} WHERE ${where} AND (${time}, ${id}) > (?, ?) ORDER BY ${order} LIMIT ?`,
      )
      .raw();
    this.countAll = db.prepare(`SELECT count(*) FROM ${t}`).pluck();
    this.countSeries = db.prepare(`SELECT count(*) FROM ${t} WHERE series = ?`).pluck();
    const stats = `SELECT series, count(*) AS count, min(${time}) AS first, max(${time}) AS last FROM ${t}`;
    this.statsAll = db.prepare(`${stats} GROUP BY series ORDER BY series`);
    this.statsSeries = db.prepare(`${stats} WHERE series = ? GROUP BY series ORDER BY series`);
    // Per chunk of rows, one of two ways, whichever the previous chunk suggests:
    // - insert first (new rows, a backfill's common case): the two steps of sqlite-db.ts's
    //   generic write. INSERT OR IGNORE tells new rows from existing ones; only when some
    //   existed, an UPSERT rewrites those that differ (an identical replay writes nothing);
    // - look first (after a chunk that met existing rows: a replay, or a reload of an overlap):
    //   read the stored rows of the chunk's ids and compare them here, then write only the new
    //   and the changed rows. A typed row binds 13 values where a generic one binds 4, so
    //   binding it twice (INSERT OR IGNORE, then UPSERT) made a typed replay slower than a
    //   generic one; reading by id binds numbers only.
    // The first chunk of a batch inserts first: a backfill's batches are new, and its lookup cost
    // 0.5 ms per 1000-row batch (5% of the embedded platform's CPU in bench/e2e.ts); a replayed
    // batch pays one failed insert of a chunk, then looks first. Row values are bound as they
    // are: no object per row and no JSON but for array columns.
    this.writeTx = db.transaction((series: string | readonly string[], rows: readonly Row[]) => {
      const n = rows.length;
      const one = typeof series === 'string' ? series : undefined;
      let inserted = 0;
      let updated = 0;
      let look = false;
      for (let i = 0; i < n; i += this.chunk) {
        const m = Math.min(this.chunk, n - i);
        if (look && one !== undefined) {
          const r = this.lookFirst(one, rows, i, m);
          inserted += r.inserted;
          updated += r.updated;
          look = r.existed > 0;
          continue;
        }
        const args = m === this.chunk ? this.args : new Array<unknown>(m * this.width);
        this.bind(args, series, rows, i, m);
        const added = this.insert(m).run(args).changes;
        inserted += added;
        if (added < m) {
          updated += this.upsert(m).run(args).changes;
          look = true;
        }
      }
      return { inserted, updated };
    });
  }

  /** Rows [from, from + m) of `series`: stored ones read and compared, then only the rest written. */
  private lookFirst(
    series: string,
    rows: readonly Row[],
    from: number,
    m: number,
  ): { inserted: number; updated: number; existed: number } {
    const ids = new Array<unknown>(m + 1);
    ids[0] = series;
    for (let j = 0; j < m; j++) ids[j + 1] = rows[from + j]![0];
    const stored = this.lookup(m).all(ids) as unknown[][];
    if (stored.length === 0) {
      const args = m === this.chunk ? this.args : new Array<unknown>(m * this.width);
      this.bind(args, series, rows, from, m);
      return { inserted: this.insert(m).run(args).changes, updated: 0, existed: 0 };
    }
    const byId = new Map<unknown, unknown[]>();
    for (const s of stored) byId.set(s[0], s);
    const fresh: number[] = [];
    const changed: number[] = [];
    for (let j = from; j < from + m; j++) {
      const row = rows[j]!;
      const s = byId.get(row[0]);
      if (s === undefined) fresh.push(j);
      else if (!this.same(s, row)) changed.push(j);
    }
    let inserted = 0;
    let updated = 0;
    if (fresh.length > 0) {
      const args = new Array<unknown>(fresh.length * this.width);
      this.bind(args, series, rows, 0, fresh.length, fresh);
      inserted = this.insert(fresh.length).run(args).changes;
    }
    if (changed.length > 0) {
      const args = new Array<unknown>(changed.length * this.width);
      this.bind(args, series, rows, 0, changed.length, changed);
      updated = this.upsert(changed.length).run(args).changes;
    }
    return { inserted, updated, existed: stored.length };
  }

  /** Whether a stored row (columns in order, as read) holds exactly a row's values. */
  private same(stored: readonly unknown[], row: Row): boolean {
    const { columns, converts } = this.layout;
    for (let x = 0; x < columns.length; x++) {
      const v = row[x];
      if (!converts) {
        if (stored[x] !== v) return false;
        continue;
      }
      if (stored[x] !== this.value(columns[x]!.conv, v)) return false;
    }
    return true;
  }

  /** A row value as bound (and as read back raw): booleans 0/1, arrays JSON, absent NULL. */
  private value(conv: Conv, v: unknown): unknown {
    if (v === null || v === undefined) return null;
    return conv === 'direct' ? v : conv === 'bool' ? (v === true ? 1 : 0) : JSON.stringify(v);
  }

  private lookup(n: number): Stmt {
    let s = this.lookups.get(n);
    if (!s) {
      const { columns, id } = this.layout;
      s = this.db
        .prepare(
          `SELECT ${columns.map((c) => c.name).join(', ')} FROM ${this.t} WHERE series = ? AND ${id} IN ` +
            `(${Array.from({ length: n }, () => '?').join(', ')})`,
        )
        .raw();
      this.lookups.set(n, s);
    }
    return s;
  }

  private statement(cache: Map<number, Stmt>, n: number, upsert: boolean): Stmt {
    let s = cache.get(n);
    if (s) return s;
    const { columns, id } = this.layout;
    const row = `(${Array.from({ length: this.width }, () => '?').join(', ')})`;
    const values = Array.from({ length: n }, () => row).join(', ');
    let sql = `INSERT ${upsert ? '' : 'OR IGNORE '}INTO ${this.t} (${this.select}) VALUES ${values}`;
    if (upsert) {
      const rest = columns.slice(1).map((c) => c.name);
      sql +=
        ` ON CONFLICT(series, ${id}) DO UPDATE SET ${rest.map((c) => `${c} = excluded.${c}`).join(', ')}` +
        ` WHERE ${rest.map((c) => `${c} IS NOT excluded.${c}`).join(' OR ')}`;
    }
    s = this.db.prepare(sql);
    cache.set(n, s);
    return s;
  }

  private insert(n: number): Stmt {
    return this.statement(this.inserts, n, false);
  }

  private upsert(n: number): Stmt {
    return this.statement(this.upserts, n, true);
  }

  /**
   * Fills `args` with m rows as bound values (series, then the row's columns): rows
   * [from, from + m), or rows `at[0..m)` when given.
   */
  private bind(
    args: unknown[],
    series: string | readonly string[],
    rows: readonly Row[],
    from: number,
    m: number,
    at?: readonly number[],
  ): void {
    const { columns, converts } = this.layout;
    const c = columns.length;
    const one = typeof series === 'string' ? series : undefined;
    let k = 0;
    for (let j = 0; j < m; j++) {
      const i = at === undefined ? from + j : at[j]!;
      const row = rows[i]!;
      args[k++] = one ?? (series as readonly string[])[i];
      if (!converts) {
        for (let x = 0; x < c; x++) args[k++] = row[x];
        continue;
      }
      for (let x = 0; x < c; x++) args[k++] = this.value(columns[x]!.conv, row[x]);
    }
  }

  /**
   * UPSERTs rows (of one series, or each of `series[i]`) in one IMMEDIATE transaction (the write
   * lock taken up front: a busy database waits busy_timeout instead of failing halfway). Rows
   * must be valid rows of the kind with no key twice.
   */
  write(series: string | readonly string[], rows: readonly Row[]): { inserted: number; updated: number } {
    if (rows.length === 0) return { inserted: 0, updated: 0 };
    return this.writeTx.immediate(series, rows);
  }

  /** Raw rows (series first) as the port's records. */
  private toRecords(raws: unknown[][]): SeriesRecord[] {
    const { kind, columns, timeIndex } = this.layout;
    const out = new Array<SeriesRecord>(raws.length);
    let lastSeries: string | undefined;
    let sid: SeriesId | undefined;
    let prefix = '';
    const row = new Array<unknown>(columns.length);
    for (let i = 0; i < raws.length; i++) {
      const raw = raws[i]!;
      const series = raw[0] as string;
      if (series !== lastSeries) {
        sid = parseSeriesKey(series);
        prefix = rowIdentifier(kind, sid).prefix;
        lastSeries = series;
      }
      for (let x = 0; x < columns.length; x++) {
        const v = raw[x + 1];
        const conv = columns[x]!.conv;
        row[x] = v === null || conv === 'direct' ? v : conv === 'bool' ? v === 1 : JSON.parse(v as string);
      }
      out[i] = {
        key: `${prefix}${raw[1] as number}`,
        series,
        time: row[timeIndex] as number,
        doc: recordFromRow(kind, sid!, row),
      };
    }
    return out;
  }

  /** The (series, id) a natural key names in this table, if it can name any. */
  private locate(key: string): [string, number] | undefined {
    const parts = key.split(':');
    if (parts.length !== 4) return undefined;
    const [market, symbol, tag, idText] = parts as [string, string, string, string];
    const kind = this.layout.kind;
    const dataset = (kind === 'kline' ? `klines_${tag}` : DATASET[kind]) as Dataset;
    const sid = { market, symbol, dataset } as SeriesId;
    if (rowIdentifier(kind, sid).prefix !== `${market}:${symbol}:${tag}:`) return undefined;
    const id = idOf(idText);
    return id === undefined ? undefined : [seriesKey(sid), id];
  }

  get(key: string): Record<string, unknown> | null {
    const at = this.locate(key);
    const raw = at && (this.getStmt.get(at[0], at[1]) as unknown[] | undefined);
    return raw ? this.toRecords([raw])[0]!.doc : null;
  }

  range(rq: RangeQuery, lo: number, hi: number): SeriesRecord[] {
    if (rq.after === undefined)
      return this.toRecords(this.rangeStmt.all(rq.series, lo, hi, rq.limit) as unknown[][]);
    // The cursor's key names the id of the last record read: its last segment.
    const id = idOf(rq.after.key.slice(rq.after.key.lastIndexOf(':') + 1));
    if (id === undefined)
      throw new InvalidInputError(`after.key ${JSON.stringify(rq.after.key)} is not a record key`);
    return this.toRecords(
      this.rangeAfterStmt.all(rq.series, lo, hi, rq.after.time, id, rq.limit) as unknown[][],
    );
  }

  count(series?: string): number {
    return (series === undefined ? this.countAll.get() : this.countSeries.get(series)) as number;
  }

  stats(series?: string): SeriesStats[] {
    return (series === undefined ? this.statsAll.all() : this.statsSeries.all(series)) as SeriesStats[];
  }

  /**
   * `upsertRecords` into this table: every record must be a record of the kind (`recordRow`),
   * else InvalidInputError and nothing written. Records sharing a key collapse to the last one.
   */
  writeRecords(records: readonly SeriesRecord[]): { inserted: number; updated: number } {
    const kind = this.layout.kind;
    const rows: Row[] = [];
    const series: string[] = [];
    const at = new Map<string, number>();
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (typeof r !== 'object' || r === null) throw new InvalidInputError(`record ${i} is not an object`);
      assertKey(r.key);
      const row = recordRow(kind, r);
      if (typeof row === 'string') throw new InvalidInputError(`record ${r.key}: ${row}`);
      const seen = at.get(r.key);
      if (seen === undefined) {
        at.set(r.key, rows.length);
        rows.push(row);
        series.push(r.series);
      } else rows[seen] = row;
    }
    // One series (the common case) takes the write path of row batches, lookups included.
    const one = series.length > 0 && series.every((x) => x === series[0]) ? series[0]! : undefined;
    return this.write(one ?? series, rows);
  }
}

/** Name of the SQL function the migration checks stored documents with. */
const CHECK_FN = 'streamforge_typed_problem';
const registered = new WeakSet<Database.Database>();

/**
 * Turns the generic table `name` (`_key, series, time, doc`) into a typed table of `kind`, inside
 * the caller's transaction: every stored document is checked to be a record of the kind with its
 * stored key, series and time (`recordRow`); if one is not, nothing is changed and a
 * DependencyError names the file and the table (the file must be dealt with by hand; retrying
 * later is harmless and loses nothing, which a 400 for the batch being written would). Else the
 * rows are copied with json_extract into a new table under a temporary name, the count is
 * verified, and the new table replaces the old one. An empty generic table is simply replaced.
 */
export function migrateToTyped(
  db: Database.Database,
  name: string,
  kind: RecordKind,
  at: { path: string; logger?: Logger | undefined },
): void {
  const t = q(name);
  const layout = typedLayout(kind);
  const total = db.prepare(`SELECT count(*) FROM ${t}`).pluck().get() as number;
  const tmp = `_typed_${name}`; // not a valid collection name: no collection can own it
  const replace = (): void => {
    db.exec(
      `DROP INDEX IF EXISTS ${q(indexName(name))}; DROP TABLE ${t}; ALTER TABLE ${q(tmp)} RENAME TO ${t};` +
        createIndexSql(name, layout),
    );
  };
  db.exec(`DROP TABLE IF EXISTS ${q(tmp)}; ${createTableSql(tmp, layout)}`);
  if (total === 0) {
    replace();
    at.logger?.info({ collection: name, path: at.path, kind }, `replaced the empty ${name} by a typed table`);
    return;
  }
  if (!registered.has(db)) {
    db.function(CHECK_FN, { deterministic: true }, (k, key, series, time, doc) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(doc as string);
      } catch {
        return 'doc is not JSON';
      }
      const row = recordRow(k as RecordKind, {
        key: key as string,
        series: series as string,
        time: time as number,
        doc: parsed as Record<string, unknown>,
      });
      return typeof row === 'string' ? row : null;
    });
    registered.add(db);
  }
  const problem = `${CHECK_FN}(?, _key, series, time, doc)`;
  const bad = db
    .prepare(
      `SELECT key, problem FROM (SELECT _key AS key, ${problem} AS problem FROM ${t}) ` +
        `WHERE problem IS NOT NULL ORDER BY key LIMIT 3`,
    )
    .all(kind) as { key: string; problem: string }[];
  if (bad.length > 0) {
    const n = db
      .prepare(`SELECT count(*) FROM ${t} WHERE ${problem} IS NOT NULL`)
      .pluck()
      .get(kind) as number;
    throw new DependencyError(
      `sqlite store ${at.path}: table ${name} holds ${total} records in the generic layout (one ` +
        `JSON document each, as earlier versions kept every series), and ${n} of them cannot ` +
        `become ${kind} records of the typed layout ` +
        `(${bad.map((b) => `${b.key}: ${b.problem}`).join('; ')}). Nothing was changed. ` +
        `Move the file aside (or export the table ${name} and drop it) and start again, ` +
        `or write these records to another collection.`,
    );
  }
  const cols = layout.columns.map((c) => c.name);
  const copied = db
    .prepare(
      `INSERT INTO ${q(tmp)} (series, ${cols.join(', ')}) SELECT series, ` +
        `${cols.map((c) => `json_extract(doc, '$.${c}')`).join(', ')} FROM ${t}`,
    )
    .run().changes;
  const now = db
    .prepare(`SELECT count(*) FROM ${q(tmp)}`)
    .pluck()
    .get() as number;
  if (copied !== total || now !== total)
    throw new DependencyError(
      `sqlite store ${at.path}: migrating table ${name} copied ${now} of its ${total} records; nothing was changed`,
    );
  replace();
  at.logger?.info(
    { collection: name, path: at.path, kind, records: total },
    `migrated ${total} records of ${name} in ${at.path} to the typed layout`,
  );
}
