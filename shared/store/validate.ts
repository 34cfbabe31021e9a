/**
 * Checks shared by every Store adapter, so that SQLite and ArangoDB accept and reject the same
 * input (the contract suite runs against both). Anything rejected here is an InvalidInputError:
 * the batch can never succeed, so it is answered 400 and dead-lettered, not retried.
 */
import { z } from 'zod';
import { Market, Symbol } from '../contracts/common.ts';
import {
  Dataset,
  RECORD_SCHEMAS,
  RecordKind,
  datasetKind,
  seriesKey,
  type SeriesId,
} from '../contracts/records.ts';
import { checkRows, recordFromRow, rowSpec, wasChecked, type Row } from '../contracts/rows.ts';
import { InvalidInputError } from '../runtime/errors.ts';
import type { FindQuery, Range, RangeQuery, RowBatch, SeriesRecord } from './store.ts';

/** Collection names: valid as an ArangoDB collection and a (quoted) SQLite table name. */
export const COLLECTION_NAME = /^[a-zA-Z][a-zA-Z0-9_-]{0,119}$/;

/**
 * Keys: the characters ArangoDB allows in `_key`, at most 254 of them
 * (https://docs.arangodb.com/stable/concepts/data-structure/documents/#document-keys).
 */
export const DOC_KEY = /^[a-zA-Z0-9_\-:.@()+,=;$!*'%]{1,254}$/;

/** Top-level field names usable in `findDocs` filters and sorts. */
export const FIELD_NAME = /^[a-zA-Z_][a-zA-Z0-9_]{0,63}$/;

export function assertCollectionName(name: string): void {
  if (!COLLECTION_NAME.test(name))
    throw new InvalidInputError(`invalid collection name ${JSON.stringify(name)}`);
}

export function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || !DOC_KEY.test(key))
    throw new InvalidInputError(`invalid key ${JSON.stringify(key)}`);
}

function assertField(name: string): void {
  if (!FIELD_NAME.test(name)) throw new InvalidInputError(`invalid field name ${JSON.stringify(name)}`);
}

function assertCount(what: string, n: unknown): void {
  if (!Number.isSafeInteger(n) || (n as number) < 0)
    throw new InvalidInputError(`${what} must be a non-negative integer`);
}

/** JSON text of a document; InvalidInputError when it has none (BigInt, cycles, undefined). */
export function toJson(what: string, value: unknown): string {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (err) {
    throw new InvalidInputError(`${what} is not serialisable: ${(err as Error).message}`);
  }
  if (json === undefined) throw new InvalidInputError(`${what} is not serialisable`);
  return json;
}

/** A validated record with its document's JSON text. */
export interface PreparedRecord {
  key: string;
  series: string;
  time: number;
  doc: Record<string, unknown>;
  json: string;
}

/** A validated batch as columns, what the SQLite adapter binds. */
export interface PreparedColumns {
  keys: string[];
  series: string[];
  times: number[];
  json: string[];
}

/** Checks one record of a batch and returns its document's JSON text. */
function checkRecord(r: SeriesRecord | null | undefined, i: number): string {
  if (typeof r !== 'object' || r === null) throw new InvalidInputError(`record ${i} is not an object`);
  assertKey(r.key);
  if (typeof r.series !== 'string' || r.series.length === 0 || r.series.length > 512)
    throw new InvalidInputError(`record ${r.key}: invalid series`);
  if (!Number.isSafeInteger(r.time))
    throw new InvalidInputError(`record ${r.key}: time must be an integer (epoch ms)`);
  const doc = r.doc as unknown;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc))
    throw new InvalidInputError(`record ${r.key}: doc must be an object`);
  let json: string | undefined;
  try {
    json = JSON.stringify(doc);
  } catch (err) {
    throw new InvalidInputError(`record ${r.key} is not serialisable: ${(err as Error).message}`);
  }
  // Only a toJSON() answering undefined gets here; the message matches toJson's.
  if (json === undefined) throw new InvalidInputError(`record ${r.key} is not serialisable`);
  return json;
}

/**
 * Validates and serialises a batch before anything is written, so a bad entry fails the whole
 * batch. Records sharing a key collapse to the last one (what sequential writes would leave);
 * the ones it supersedes wrote nothing of their own and are counted as unchanged.
 */
export function prepareBatch(records: readonly SeriesRecord[]): PreparedRecord[] {
  const byKey = new Map<string, PreparedRecord>();
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as SeriesRecord;
    const json = checkRecord(r, i);
    byKey.set(r.key, { key: r.key, series: r.series, time: r.time, doc: r.doc, json });
  }
  return [...byKey.values()];
}

/**
 * `prepareBatch` as columns: the same checks, errors and collapsing of shared keys (a later
 * record takes the place of the first one with its key).
 */
export function prepareColumns(records: readonly SeriesRecord[]): PreparedColumns {
  const n = records.length;
  const out: PreparedColumns = { keys: [], series: [], times: [], json: [] };
  const at = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = records[i] as SeriesRecord;
    const json = checkRecord(r, i);
    const seen = at.get(r.key);
    if (seen === undefined) {
      at.set(r.key, out.keys.length);
      out.keys.push(r.key);
      out.series.push(r.series);
      out.times.push(r.time);
      out.json.push(json);
    } else {
      out.series[seen] = r.series;
      out.times[seen] = r.time;
      out.json[seen] = json;
    }
  }
  return out;
}

export function checkRangeQuery(q: RangeQuery): void {
  if (typeof q.series !== 'string' || q.series.length === 0)
    throw new InvalidInputError('series is required');
  assertCount('limit', q.limit);
  for (const [name, v] of [
    ['from', q.from],
    ['to', q.to],
    ['after.time', q.after?.time],
  ] as const) {
    if (v !== undefined && !Number.isSafeInteger(v))
      throw new InvalidInputError(`${name} must be an integer`);
  }
  if (q.after !== undefined && typeof q.after.key !== 'string')
    throw new InvalidInputError('after.key must be a string');
}

export function checkFindQuery(q: FindQuery): void {
  assertCount('limit', q.limit);
  if (q.offset !== undefined) assertCount('offset', q.offset);
  for (const [field, value] of Object.entries(q.where ?? {})) {
    assertField(field);
    if (!['string', 'number', 'boolean'].includes(typeof value))
      throw new InvalidInputError(`where.${field} must be a string, number or boolean`);
  }
  if (q.sortBy !== undefined) assertField(q.sortBy);
}

export function checkRanges(ranges: readonly Range[]): void {
  for (const r of ranges) {
    if (!Number.isSafeInteger(r.from) || !Number.isSafeInteger(r.to))
      throw new InvalidInputError('range bounds must be integers (epoch ms)');
  }
}

const SeriesIdSchema = z.object({ market: Market, symbol: Symbol, dataset: Dataset });

/** A RowBatch that passed `checkRowBatch`. */
export interface CheckedRowBatch {
  series: SeriesId;
  /** `seriesKey(series)`. */
  key: string;
  /** The batch's rows, those sharing an id collapsed to the last one (in the first one's place). */
  rows: readonly Row[];
}

/**
 * Checks a compact batch as every adapter does (InvalidInputError, nothing written): its kind and
 * series agree, every row is a row of the kind (the compiled check of rows.ts; zod's issues for
 * the first bad one), and the series fields the rows leave out make valid records (funding is
 * USD-M only). Then collapses rows sharing an id (the natural key within one series) to the
 * last one: what sequential writes would leave; the superseded ones count as unchanged.
 */
export function checkRowBatch(batch: RowBatch): CheckedRowBatch {
  if (typeof batch !== 'object' || batch === null) throw new InvalidInputError('row batch is not an object');
  const kind = RecordKind.safeParse(batch.kind);
  if (!kind.success) throw new InvalidInputError(`invalid record kind ${JSON.stringify(batch.kind)}`);
  const sid = SeriesIdSchema.safeParse(batch.series);
  if (!sid.success) throw InvalidInputError.fromZod('invalid series of a row batch', sid.error);
  const series = sid.data;
  const key = seriesKey(series);
  if (datasetKind(series.dataset) !== kind.data)
    throw new InvalidInputError(
      `series ${key} holds ${datasetKind(series.dataset)} records, not ${kind.data}`,
    );
  const rows = batch.rows as unknown;
  if (!Array.isArray(rows)) throw new InvalidInputError('rows must be an array');
  const { check } = rowSpec(kind.data);
  // Rows the sink already checked (rows.ts checkRows) are not checked a second time.
  const checked = wasChecked(rows);
  for (let i = 0; i < rows.length && !checked; i++) {
    if (check(rows[i])) continue;
    const { bad } = checkRows(kind.data, [rows[i]]);
    if (bad.length > 0)
      throw new InvalidInputError(`row ${i} is not a ${kind.data} row of ${key}`, bad[0]!.issues);
  }
  if (rows.length > 0) {
    const first = RECORD_SCHEMAS[kind.data].safeParse(recordFromRow(kind.data, series, rows[0] as Row));
    if (!first.success) throw InvalidInputError.fromZod(`rows of ${key} make no valid records`, first.error);
  }
  return { series, key, rows: collapseRows(rows as Row[]) };
}

/** Rows of one series with no id twice (ids in column 0); the same array when ids increase. */
function collapseRows(rows: readonly Row[]): readonly Row[] {
  let increasing = true;
  for (let i = 1; i < rows.length && increasing; i++)
    increasing = (rows[i]![0] as number) > (rows[i - 1]![0] as number);
  if (increasing) return rows;
  const at = new Map<number, number>();
  const out: Row[] = [];
  for (const row of rows) {
    const id = row[0] as number;
    const seen = at.get(id);
    if (seen === undefined) {
      at.set(id, out.length);
      out.push(row);
    } else out[seen] = row;
  }
  return out;
}
