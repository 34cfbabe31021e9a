/**
 * Store port (DESIGN.md "Ports and adapters"): SQLite (better-sqlite3) and ArangoDB (arangojs).
 * One contract suite runs against both (test/store/contract.ts).
 *
 * Two shapes of data live here:
 * - series records: market data indexed by (series, time) and keyed by a natural key; written
 *   only by idempotent batch UPSERTs;
 * - documents: workflow records and coverage ledgers, read and written with optimistic
 *   concurrency (a revision number).
 */
import type { GraphSnapshot } from '../contracts/analytics.ts';
import {
  identify,
  seriesKey,
  type RecordKind,
  type RecordOfKind,
  type SeriesId,
} from '../contracts/records.ts';
import type { Row } from '../contracts/rows.ts';

/** One record to UPSERT, already validated and identified (shared/contracts/records.ts `identify`). */
export interface SeriesRecord {
  /** Natural key, also the ArangoDB `_key`. */
  key: string;
  /** Series id string (`seriesKey()`), e.g. `spot:BTCUSDT:klines_1m`. */
  series: string;
  /** Position on the series' time axis, epoch ms. */
  time: number;
  doc: Record<string, unknown>;
}

/** The SeriesRecord of one validated record (tests, benches and seeding write them directly). */
export function seriesRecord<K extends RecordKind>(kind: K, doc: RecordOfKind[K]): SeriesRecord {
  const id = identify(kind, doc);
  return { key: id.key, series: seriesKey(id.series), time: id.time, doc };
}

/**
 * A compact batch of one series (shared/contracts/rows.ts): rows already validated with
 * `checkRows`, in the kind's ROW_COLUMNS order.
 */
export interface RowBatch {
  kind: RecordKind;
  series: SeriesId;
  rows: readonly Row[];
}

export interface UpsertResult {
  inserted: number;
  updated: number;
  /** Identical to what was stored: nothing written (no revision churn). */
  unchanged: number;
}

export interface RangeQuery {
  series: string;
  /** Inclusive lower bound on time, epoch ms. */
  from?: number | undefined;
  /** Exclusive upper bound on time, epoch ms. */
  to?: number | undefined;
  limit: number;
  /** Resume after this position (the last item's `time` and `key`), for stable paging. */
  after?: { time: number; key: string } | undefined;
}

export interface SeriesStats {
  series: string;
  count: number;
  /** Smallest and largest record time. */
  first: number;
  last: number;
}

export interface StoredDoc<T> {
  doc: T;
  /** Revision for optimistic concurrency; starts at 1 and grows by one on each write. */
  rev: number;
}

export interface FindQuery {
  /** Top-level document fields that must equal the given values. */
  where?: Record<string, string | number | boolean>;
  /** Sort by this top-level field (string or number), descending when `desc`. */
  sortBy?: string;
  desc?: boolean;
  limit: number;
  offset?: number;
}

export interface GraphQuery {
  /** Snapshots with from <= t < to, oldest first (newest first when `newest`), at most `limit`. */
  from?: number | undefined;
  to?: number | undefined;
  limit: number;
  newest?: boolean | undefined;
}

/** Klines of one series bucketed for a chart: [from, to) cut into buckets of `bucket_ms` from `from`. */
export interface CandleQuery {
  series: string;
  from: number;
  to: number;
  bucket_ms: number;
}

/**
 * One bucket's candle, as numbers (for drawing only: the exact decimals stay in the records):
 * first open, highest high, lowest low, last close, summed volume; `t` = the first kline's open time.
 */
export interface Candle {
  t: number;
  o: number;
  h: number;
  l: number;
  c: number;
  v: number;
}

export interface Range {
  from: number;
  to: number;
}

export interface Store {
  /**
   * Creates the collection and its indexes when missing. Safe to call repeatedly.
   *
   * `recordKind` (series only) says the collection holds records of that kind alone: SQLite then
   * keeps it as a typed table (one column per field), migrating a table of the generic layout
   * in place (or refusing, with a DependencyError naming the file, when a stored document is not
   * such a record); InvalidInputError when it holds another kind. Without it, an existing series
   * collection of either layout will do, and a missing one is created generic (any document).
   * ArangoDB keeps one document per record either way and ignores it.
   */
  ensureCollection(name: string, kind: 'series' | 'documents', recordKind?: RecordKind): Promise<void>;

  /**
   * UPSERTs a batch by natural key in one transaction: all of it is written or none. Into a typed
   * collection (SQLite), every doc must be a record of its kind with its own natural key, series
   * and time (identify()), else InvalidInputError.
   */
  upsertRecords(collection: string, records: readonly SeriesRecord[]): Promise<UpsertResult>;
  /**
   * UPSERTs a compact batch: exactly what `upsertRecords` of the records the rows stand for
   * (`recordFromRow`, keys by `rowIdentifier`) would do, with the same counts and the same
   * collapse of rows sharing a key, in one transaction. SQLite keeps such a collection in a typed
   * table (one column per field), created, or migrated from the generic layout, for `batch.kind`
   * (as `ensureCollection(collection, 'series', batch.kind)`); ArangoDB one document per record
   * with the natural `_key`. InvalidInputError (nothing written) for a row that is not a row of
   * the kind, or a series of another kind.
   */
  upsertRows(collection: string, batch: RowBatch): Promise<UpsertResult>;
  getRecord(collection: string, key: string): Promise<Record<string, unknown> | null>;
  /**
   * Records of a series ordered by (time, key). Records of equal time: by key as a string, but in
   * a typed SQLite table by the key's id as a number (they differ only where ids of different
   * lengths share a time); `after.key` must then end in an id (`:<integer>`).
   */
  rangeQuery(collection: string, q: RangeQuery): Promise<SeriesRecord[]>;
  count(collection: string, series?: string): Promise<number>;
  /** Count, first and last time of every series in the collection. */
  seriesStats(collection: string, series?: string): Promise<SeriesStats[]>;
  /**
   * The klines of a series bucketed in the database (a year of 1m is 525,600 rows; the chart
   * needs a few thousand candles), oldest first, empty buckets left out. InvalidInputError when
   * the collection does not hold klines.
   */
  candles(collection: string, q: CandleQuery): Promise<Candle[]>;

  getDoc<T>(collection: string, key: string): Promise<StoredDoc<T> | null>;
  /**
   * Writes a document. `expectedRev` undefined: create only (ConflictError if it exists);
   * a number: replace only if the stored revision equals it (ConflictError otherwise).
   * Returns the new revision.
   */
  putDoc<T>(collection: string, key: string, doc: T, expectedRev?: number): Promise<number>;
  findDocs<T>(collection: string, q: FindQuery): Promise<{ items: StoredDoc<T>[]; total: number }>;

  /**
   * Adds ranges to the merged range set stored under `key` (coverage ledger): overlapping or
   * touching half-open ranges are merged. Returns the merged set, sorted.
   */
  mergeRanges(collection: string, key: string, add: readonly Range[]): Promise<Range[]>;
  getRanges(collection: string, key: string): Promise<Range[]>;

  /**
   * Graph snapshots (graph-builder, docs/analytics.md): UPSERTs each snapshot by (graph, t) with
   * its vertices and edges, replacing what a snapshot of the same time held, in one transaction
   * (SQLite) or one AQL query per snapshot (ArangoDB: a named graph of vertex and edge documents).
   */
  putGraphSnapshots(graphId: string, snapshots: readonly GraphSnapshot[]): Promise<void>;
  graphSnapshots(graphId: string, q: GraphQuery): Promise<GraphSnapshot[]>;

  /** Health probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
