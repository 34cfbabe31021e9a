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

export interface Range {
  from: number;
  to: number;
}

export interface Store {
  /** Creates the collection and its indexes when missing. Safe to call repeatedly. */
  ensureCollection(name: string, kind: 'series' | 'documents'): Promise<void>;

  /** UPSERTs a batch by natural key in one transaction: all of it is written or none. */
  upsertRecords(collection: string, records: readonly SeriesRecord[]): Promise<UpsertResult>;
  getRecord(collection: string, key: string): Promise<Record<string, unknown> | null>;
  /** Records of a series ordered by (time, key). */
  rangeQuery(collection: string, q: RangeQuery): Promise<SeriesRecord[]>;
  count(collection: string, series?: string): Promise<number>;
  /** Count, first and last time of every series in the collection. */
  seriesStats(collection: string, series?: string): Promise<SeriesStats[]>;

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

  /** Health probe for /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
