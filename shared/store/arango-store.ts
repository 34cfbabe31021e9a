/**
 * Store adapter on ArangoDB (arangojs 10): the cluster's store (DESIGN.md "Ports and adapters").
 * The database and collections are created on first use. Series records are documents
 * `{ _key, series, time, doc }` with a persistent index on (series, time, _key), whether written
 * as records or as compact rows (`upsertRows` turns each row into its record: one document per
 * record with the natural `_key`, so a record kind needs no collection layout of its own here);
 * documents are `{ _key, rev, doc }` where `rev` is our own revision counter for optimistic
 * concurrency.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Database } from 'arangojs';
import { isArangoError, isNetworkError } from 'arangojs/errors';
import type { QueryOptions } from 'arangojs/queries';
import type { GraphSnapshot } from '../contracts/analytics.ts';
import type { RecordKind } from '../contracts/records.ts';
import { recordFromRow, rowIdentifier } from '../contracts/rows.ts';
import type { Logger } from '../runtime/logger.ts';
import { AppError, ConflictError, DependencyError, InvalidInputError } from '../runtime/errors.ts';
import { mergeRangeSet } from './ranges.ts';
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
import {
  assertCollectionName,
  assertKey,
  checkFindQuery,
  checkRangeQuery,
  checkRanges,
  checkRowBatch,
  prepareBatch,
  toJson,
} from './validate.ts';

export interface ArangoStoreOptions {
  url: string;
  database: string;
  username: string;
  password: string;
  logger?: Logger;
  /**
   * Give up on a request after this long (default 60 s): a hung server then answers 503 and the
   * delivery is retried, instead of holding the event forever. A record UPSERT retried after a
   * timeout that did commit finds its records unchanged; a document write finds a newer revision
   * (ConflictError), which callers handle by reading again.
   */
  timeoutMs?: number;
}

type Kind = 'series' | 'documents';

// https://docs.arangodb.com/stable/develop/error-codes/
const ERR = {
  lockTimeout: 18,
  shuttingDown: 30,
  readOnly: 1004,
  conflict: 1200,
  collectionNotFound: 1203,
  duplicateName: 1207,
  uniqueConstraint: 1210,
  databaseNotFound: 1228,
  graphDuplicate: 1925,
} as const;
const UNAVAILABLE: readonly number[] = [
  ERR.lockTimeout,
  ERR.shuttingDown,
  ERR.readOnly,
  ERR.databaseNotFound,
];
const MIN_TIME = Number.MIN_SAFE_INTEGER;
const MAX_TIME = Number.MAX_SAFE_INTEGER;
/** Concurrent UPSERTs of the same new key can collide; the query is idempotent, so run it again. */
const WRITE_ATTEMPTS = 5;

const isWriteRace = (err: unknown): boolean =>
  isArangoError(err) && (err.errorNum === ERR.conflict || err.errorNum === ERR.uniqueConstraint);

/**
 * One AQL query per batch, atomic on a single server. Records identical to the stored ones are
 * filtered out before the UPSERT, so a replay writes nothing (no new `_rev`, no churn); REPLACE
 * (not UPDATE) so that fields dropped from a record do not linger through an object merge.
 * The lookup reads the collection before the UPSERT writes it, which AQL allows.
 */
const UPSERT_AQL = `
FOR r IN @records
  LET old = FIRST(FOR d IN @@c FILTER d._key == r._key LIMIT 1 RETURN d)
  FILTER old == null OR old.series != r.series OR old.time != r.time OR old.doc != r.doc
  UPSERT { _key: r._key } INSERT r REPLACE r IN @@c
  RETURN OLD ? 1 : 0`;

/**
 * Graph snapshots as an ArangoDB named graph (docs/analytics.md): vertex documents per (graph,
 * snapshot, asset) and edge documents between them, with deterministic keys so a snapshot written
 * again replaces itself; its old edges are removed first, all in one stream transaction.
 */
export const GRAPH = {
  name: 'market_graphs',
  snapshots: 'graph_snapshots',
  vertices: 'graph_vertices',
  edges: 'graph_edges',
} as const;

const GRAPH_CLEAR_AQL = `
FOR e IN @@edges FILTER e.graph_id == @g AND e.t IN @ts REMOVE e IN @@edges`;
const GRAPH_CLEAR_VERTICES_AQL = `
FOR v IN @@vertices FILTER v.graph_id == @g AND v.t IN @ts REMOVE v IN @@vertices`;
const GRAPH_INSERT_AQL = `
FOR d IN @docs INSERT d INTO @@c OPTIONS { overwriteMode: "replace" }`;
const graphReadAql = (dir: 'ASC' | 'DESC') => `
FOR s IN @@snapshots
  FILTER s.graph_id == @g AND s.t >= @from AND s.t < @to
  SORT s.t ${dir}
  LIMIT @limit
  LET vertices = (
    FOR v IN @@vertices FILTER v.graph_id == @g AND v.t == s.t SORT v.symbol
    RETURN KEEP(v, "symbol", "n_obs", "missing", "mean_return", "volatility", "last_return", "quote_volume"))
  LET edges = (
    FOR e IN @@edges FILTER e.graph_id == @g AND e.t == s.t SORT e.method, e.source, e.target
    RETURN KEEP(e, "source", "target", "method", "lag", "weight", "sign", "p_value", "n"))
  RETURN { t: s.t, window_start: s.window_start, vertices, edges }`;

/** Connects lazily: nothing is sent until the first call. */
export function createArangoStore(opts: ArangoStoreOptions): Store {
  return new ArangoStore(opts);
}

class ArangoStore implements Store {
  private readonly system: Database;
  private readonly db: Database;
  private ready: Promise<void> | undefined;
  private readonly collections = new Map<string, { kind: Kind; ready: Promise<void> }>();
  private closed = false;

  constructor(private readonly opts: ArangoStoreOptions) {
    this.system = new Database({
      url: opts.url,
      auth: { username: opts.username, password: opts.password },
      timeout: opts.timeoutMs ?? 60_000,
    });
    this.db = this.system.database(opts.database);
  }

  /** Runs `fn` once the database exists, mapping driver errors to the platform's errors. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new DependencyError('arangodb store is closed');
    try {
      await this.init();
      return await fn();
    } catch (err) {
      throw this.toStoreError(err);
    }
  }

  private toStoreError(err: unknown): Error {
    if (err instanceof AppError) return err;
    if (isNetworkError(err)) return new DependencyError(`arangodb unreachable: ${err.message}`, err);
    if (isArangoError(err)) {
      if (err.errorNum === ERR.collectionNotFound || err.errorNum === ERR.databaseNotFound) {
        // Dropped behind our back: create it again on the next call.
        this.collections.clear();
        this.ready = undefined;
      }
      const status = err.code ?? 0;
      if (status >= 500 || status === 401 || status === 403 || UNAVAILABLE.includes(err.errorNum))
        return new DependencyError(`arangodb unavailable: ${err.errorNum} ${err.message}`, err);
      if (err.errorNum === ERR.collectionNotFound)
        return new DependencyError(`arangodb: ${err.message}`, err);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      if (await this.db.exists()) return;
      try {
        await this.system.createDatabase(this.opts.database);
        this.opts.logger?.info({ database: this.opts.database }, 'arangodb database created');
      } catch (err) {
        if (!(isArangoError(err) && err.errorNum === ERR.duplicateName)) throw err; // created concurrently: fine
      }
    })().catch((err: unknown) => {
      this.ready = undefined; // try again on the next call: the server may come up later
      throw err;
    });
    return this.ready;
  }

  private ensure(name: string, kind: Kind): Promise<void> {
    assertCollectionName(name);
    const known = this.collections.get(name);
    if (known) {
      if (known.kind !== kind)
        throw new InvalidInputError(`collection ${name} holds ${known.kind}, not ${kind}`);
      return known.ready;
    }
    const ready = this.createCollection(name, kind).catch((err: unknown) => {
      this.collections.delete(name);
      throw err;
    });
    this.collections.set(name, { kind, ready });
    return ready;
  }

  private async createCollection(name: string, kind: Kind): Promise<void> {
    const col = this.db.collection(name);
    if (!(await col.exists())) {
      try {
        await this.db.createCollection(name);
      } catch (err) {
        if (!(isArangoError(err) && err.errorNum === ERR.duplicateName)) throw err;
      }
    }
    if (kind === 'series') {
      await col.ensureIndex({
        type: 'persistent',
        name: 'series_time_key',
        fields: ['series', 'time', '_key'],
      });
    }
  }

  private async all<T>(
    query: string,
    bindVars: Record<string, unknown>,
    options?: QueryOptions,
  ): Promise<T[]> {
    const cursor = await this.db.query<T>(query, bindVars, options);
    return cursor.all();
  }

  /** Record kinds need no layout here: every series collection holds one document per record. */
  ensureCollection(name: string, kind: 'series' | 'documents', _recordKind?: RecordKind): Promise<void> {
    return this.call(() => this.ensure(name, kind));
  }

  upsertRecords(collection: string, records: readonly SeriesRecord[]): Promise<UpsertResult> {
    return this.call(() => this.upsert(collection, records));
  }

  /** The rows' records (`recordFromRow`, keyed by `rowIdentifier`), UPSERTed as `upsertRecords`. */
  upsertRows(collection: string, batch: RowBatch): Promise<UpsertResult> {
    return this.call(() => {
      assertCollectionName(collection);
      const { series, key, rows } = checkRowBatch(batch);
      const id = rowIdentifier(batch.kind, series);
      const records = rows.map((row): SeriesRecord => ({
        key: id.key(row),
        series: key,
        time: id.time(row),
        doc: recordFromRow(batch.kind, series, row),
      }));
      // Rows sharing an id were collapsed by checkRowBatch: they count as unchanged.
      return this.upsert(collection, records, batch.rows.length);
    });
  }

  /** One AQL UPSERT of the batch (`total`: the records the caller was given, for `unchanged`). */
  private async upsert(
    collection: string,
    records: readonly SeriesRecord[],
    total = records.length,
  ): Promise<UpsertResult> {
    await this.ensure(collection, 'series');
    const rows = prepareBatch(records).map((r) => ({
      _key: r.key,
      series: r.series,
      time: r.time,
      doc: r.doc,
    }));
    if (rows.length === 0) return { inserted: 0, updated: 0, unchanged: total };
    for (let attempt = 1; ; attempt++) {
      try {
        const written = await this.all<number>(UPSERT_AQL, { '@c': collection, records: rows });
        const updated = written.reduce((s, w) => s + w, 0);
        return { inserted: written.length - updated, updated, unchanged: total - written.length };
      } catch (err) {
        if (!isWriteRace(err)) throw err;
        if (attempt >= WRITE_ATTEMPTS)
          throw new ConflictError(`upsert into ${collection} kept colliding with other writers`);
        this.opts.logger?.debug(
          { collection, attempt },
          'upsert collided with a concurrent writer; retrying',
        );
        await sleep(5 * attempt + Math.random() * 10);
      }
    }
  }

  getRecord(collection: string, key: string): Promise<Record<string, unknown> | null> {
    return this.call(async () => {
      await this.ensure(collection, 'series');
      const [doc] = await this.all<Record<string, unknown>>(
        'FOR d IN @@c FILTER d._key == @key LIMIT 1 RETURN d.doc',
        { '@c': collection, key },
      );
      return doc ?? null;
    });
  }

  rangeQuery(collection: string, rq: RangeQuery): Promise<SeriesRecord[]> {
    return this.call(async () => {
      checkRangeQuery(rq);
      await this.ensure(collection, 'series');
      const bind: Record<string, unknown> = {
        '@c': collection,
        series: rq.series,
        // Start at max(from, after.time) so the index scan skips pages already read.
        lo: Math.max(rq.from ?? MIN_TIME, rq.after?.time ?? MIN_TIME),
        hi: rq.to ?? MAX_TIME,
        limit: rq.limit,
      };
      let keyset = '';
      if (rq.after) {
        keyset = 'FILTER d.time > @at OR (d.time == @at AND d._key > @ak)';
        Object.assign(bind, { at: rq.after.time, ak: rq.after.key });
      }
      return this.all<SeriesRecord>(
        `FOR d IN @@c FILTER d.series == @series AND d.time >= @lo AND d.time < @hi ${keyset}
         SORT d.series, d.time, d._key LIMIT @limit
         RETURN { key: d._key, series: d.series, time: d.time, doc: d.doc }`,
        bind,
      );
    });
  }

  candles(collection: string, cq: CandleQuery): Promise<Candle[]> {
    return this.call(async () => {
      if (!(Number.isSafeInteger(cq.bucket_ms) && cq.bucket_ms > 0))
        throw new InvalidInputError(`bucket_ms must be a positive integer, got ${cq.bucket_ms}`);
      await this.ensure(collection, 'series');
      // Grouped on the (series, time) index scan; each group is the bucket's klines in time order
      // (COLLECT's sorted method keeps the input order within a group). Decimal strings become
      // numbers here: candles are for drawing only.
      return this.all<Candle>(
        `FOR d IN @@c FILTER d.series == @series AND d.time >= @lo AND d.time < @hi
         SORT d.time
         COLLECT b = FLOOR((d.time - @lo) / @bucket) INTO g = d.doc OPTIONS { method: "sorted" }
         LET first = FIRST(g)
         LET last = LAST(g)
         SORT b
         RETURN {
           t: first.open_time,
           o: TO_NUMBER(first.open),
           h: MAX(g[* RETURN TO_NUMBER(CURRENT.high)]),
           l: MIN(g[* RETURN TO_NUMBER(CURRENT.low)]),
           c: TO_NUMBER(last.close),
           v: SUM(g[* RETURN TO_NUMBER(CURRENT.volume)])
         }`,
        { '@c': collection, series: cq.series, lo: cq.from, hi: cq.to, bucket: cq.bucket_ms },
      );
    });
  }

  count(collection: string, series?: string): Promise<number> {
    return this.call(async () => {
      await this.ensure(collection, 'series');
      const filter = series === undefined ? '' : 'FILTER d.series == @series';
      const bind = series === undefined ? { '@c': collection } : { '@c': collection, series };
      const [n] = await this.all<number>(`FOR d IN @@c ${filter} COLLECT WITH COUNT INTO n RETURN n`, bind);
      return n ?? 0;
    });
  }

  seriesStats(collection: string, series?: string): Promise<SeriesStats[]> {
    return this.call(async () => {
      await this.ensure(collection, 'series');
      const filter = series === undefined ? '' : 'FILTER d.series == @series';
      const bind = series === undefined ? { '@c': collection } : { '@c': collection, series };
      return this.all<SeriesStats>(
        `FOR d IN @@c ${filter}
         COLLECT s = d.series AGGREGATE n = LENGTH(1), lo = MIN(d.time), hi = MAX(d.time)
         SORT s
         RETURN { series: s, count: n, first: lo, last: hi }`,
        bind,
      );
    });
  }

  private async readDoc<T>(collection: string, key: string): Promise<StoredDoc<T> | null> {
    await this.ensure(collection, 'documents');
    const [found] = await this.all<StoredDoc<T>>(
      'FOR d IN @@c FILTER d._key == @key LIMIT 1 RETURN { doc: d.doc, rev: d.rev }',
      { '@c': collection, key },
    );
    return found ?? null;
  }

  private async writeDoc(
    collection: string,
    key: string,
    doc: unknown,
    expectedRev?: number,
  ): Promise<number> {
    await this.ensure(collection, 'documents');
    try {
      if (expectedRev === undefined) {
        await this.all('INSERT { _key: @key, rev: 1, doc: @doc } INTO @@c', { '@c': collection, key, doc });
        return 1;
      }
      // `_rev` with ignoreRevs: false makes the server re-check, under the document's write
      // lock, that nobody replaced it since our FILTER read it.
      const [rev] = await this.all<number>(
        `FOR d IN @@c FILTER d._key == @key AND d.rev == @rev
           REPLACE { _key: d._key, _rev: d._rev, rev: @rev + 1, doc: @doc } IN @@c OPTIONS { ignoreRevs: false }
           RETURN NEW.rev`,
        { '@c': collection, key, rev: expectedRev, doc },
      );
      if (rev === undefined)
        throw new ConflictError(`${collection}/${key} is not at revision ${expectedRev}`);
      return rev;
    } catch (err) {
      if (isArangoError(err) && err.errorNum === ERR.uniqueConstraint)
        throw new ConflictError(`${collection}/${key} already exists`);
      if (isArangoError(err) && err.errorNum === ERR.conflict)
        throw new ConflictError(`${collection}/${key} was written concurrently`);
      throw err;
    }
  }

  getDoc<T>(collection: string, key: string): Promise<StoredDoc<T> | null> {
    return this.call(() => this.readDoc<T>(collection, key));
  }

  putDoc<T>(collection: string, key: string, doc: T, expectedRev?: number): Promise<number> {
    return this.call(() => {
      assertKey(key);
      if (expectedRev !== undefined && !Number.isSafeInteger(expectedRev))
        throw new InvalidInputError('expectedRev must be an integer');
      toJson(`document ${key}`, doc); // same rejections as the SQLite adapter
      return this.writeDoc(collection, key, doc, expectedRev);
    });
  }

  findDocs<T>(collection: string, fq: FindQuery): Promise<{ items: StoredDoc<T>[]; total: number }> {
    return this.call(async () => {
      checkFindQuery(fq);
      await this.ensure(collection, 'documents');
      const bind: Record<string, unknown> = { '@c': collection, offset: fq.offset ?? 0, limit: fq.limit };
      const filters = Object.entries(fq.where ?? {}).map(([field, value], i) => {
        bind[`f${i}`] = field;
        bind[`v${i}`] = value;
        return `FILTER d.doc[@f${i}] == @v${i}`;
      });
      let sort = 'SORT d._key';
      if (fq.sortBy !== undefined) {
        bind['sortBy'] = fq.sortBy;
        sort = `SORT d.doc[@sortBy] ${fq.desc ? 'DESC' : 'ASC'}, d._key`;
      }
      const cursor = await this.db.query<StoredDoc<T>>(
        `FOR d IN @@c ${filters.join(' ')} ${sort} LIMIT @offset, @limit RETURN { doc: d.doc, rev: d.rev }`,
        bind,
        { fullCount: true },
      );
      const items = await cursor.all();
      return { items, total: cursor.extra.stats?.fullCount ?? items.length };
    });
  }

  mergeRanges(collection: string, key: string, add: readonly Range[]): Promise<Range[]> {
    return this.call(async () => {
      assertKey(key);
      checkRanges(add);
      // Optimistic read-merge-write: a concurrent merge makes our revision stale, so we read
      // again and merge on top of it; nothing is lost and no lock is held across round trips.
      for (let attempt = 1; ; attempt++) {
        const stored = await this.readDoc<{ ranges: Range[] }>(collection, key);
        const have = stored?.doc.ranges ?? [];
        const merged = mergeRangeSet([...have, ...add]);
        if (JSON.stringify(merged) === JSON.stringify(have)) return merged;
        try {
          await this.writeDoc(collection, key, { ranges: merged }, stored?.rev);
          return merged;
        } catch (err) {
          if (!(err instanceof ConflictError) || attempt >= 50) throw err;
          await sleep(Math.random() * 5 * Math.min(attempt, 10));
        }
      }
    });
  }

  getRanges(collection: string, key: string): Promise<Range[]> {
    return this.call(
      async () => (await this.readDoc<{ ranges: Range[] }>(collection, key))?.doc.ranges ?? [],
    );
  }

  private graphReady: Promise<void> | undefined;

  /** The named graph and its collections (created with it), plus the (graph_id, t) indexes. */
  private ensureGraph(): Promise<void> {
    this.graphReady ??= (async () => {
      await this.ensure(GRAPH.snapshots, 'documents');
      const graph = this.db.graph(GRAPH.name);
      if (!(await graph.exists())) {
        try {
          await graph.create([{ collection: GRAPH.edges, from: [GRAPH.vertices], to: [GRAPH.vertices] }]);
        } catch (err) {
          if (!(
            isArangoError(err) && [ERR.duplicateName, ERR.graphDuplicate].includes(err.errorNum as never)
          ))
            throw err;
        }
      }
      for (const name of [GRAPH.snapshots, GRAPH.vertices, GRAPH.edges])
        await this.db
          .collection(name)
          .ensureIndex({ type: 'persistent', name: 'graph_t', fields: ['graph_id', 't'] });
    })().catch((err: unknown) => {
      this.graphReady = undefined;
      throw err;
    });
    return this.graphReady;
  }

  putGraphSnapshots(graphId: string, snapshots: readonly GraphSnapshot[]): Promise<void> {
    return this.call(async () => {
      assertKey(graphId);
      if (snapshots.length === 0) return;
      await this.ensureGraph();
      const ts = snapshots.map((s) => s.t);
      const vkey = (t: number, symbol: string) => `${graphId}:${t}:${symbol}`;
      const snaps = snapshots.map((s) => ({
        _key: `${graphId}:${s.t}`,
        graph_id: graphId,
        t: s.t,
        window_start: s.window_start,
      }));
      const vertices = snapshots.flatMap((s) =>
        s.vertices.map((v) => ({ _key: vkey(s.t, v.symbol), graph_id: graphId, t: s.t, ...v })),
      );
      const edges = snapshots.flatMap((s) =>
        s.edges.map((e) => ({
          _key: `${graphId}:${s.t}:${e.method}:${e.source}:${e.target}`,
          _from: `${GRAPH.vertices}/${vkey(s.t, e.source)}`,
          _to: `${GRAPH.vertices}/${vkey(s.t, e.target)}`,
          graph_id: graphId,
          t: s.t,
          ...e,
        })),
      );
      await this.db.withTransaction(
        { write: [GRAPH.snapshots, GRAPH.vertices, GRAPH.edges] },
        async (step) => {
          await step(() => this.db.query(GRAPH_CLEAR_AQL, { '@edges': GRAPH.edges, g: graphId, ts }));
          await step(() =>
            this.db.query(GRAPH_CLEAR_VERTICES_AQL, { '@vertices': GRAPH.vertices, g: graphId, ts }),
          );
          await step(() => this.db.query(GRAPH_INSERT_AQL, { '@c': GRAPH.snapshots, docs: snaps }));
          await step(() => this.db.query(GRAPH_INSERT_AQL, { '@c': GRAPH.vertices, docs: vertices }));
          await step(() => this.db.query(GRAPH_INSERT_AQL, { '@c': GRAPH.edges, docs: edges }));
        },
      );
    });
  }

  graphSnapshots(graphId: string, q: GraphQuery): Promise<GraphSnapshot[]> {
    return this.call(async () => {
      await this.ensureGraph();
      // The direction is one of two constants, not a bind parameter (AQL binds values, not keywords).
      return this.all<GraphSnapshot>(graphReadAql(q.newest ? 'DESC' : 'ASC'), {
        '@snapshots': GRAPH.snapshots,
        '@vertices': GRAPH.vertices,
        '@edges': GRAPH.edges,
        g: graphId,
        from: q.from ?? MIN_TIME,
        to: q.to ?? MAX_TIME,
        limit: q.limit,
      });
    });
  }

  ping(): Promise<void> {
    return this.call(async () => {
      await this.db.version();
    });
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.system.close();
    }
    return Promise.resolve();
  }
}
