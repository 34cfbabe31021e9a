/**
 * validateRows() (compiled tuple checks, zod only for the rejected) against the definition: zod's
 * row tuple schema (rowSpec(kind).schema, derived from the record schema) on every row. Over many
 * mutated rows of every kind: the same rows accepted, exactly as they arrived (not copied, not
 * reordered), and every other one dead-lettered at its index with zod's own issues.
 */
import { describe, expect, it } from 'vitest';
import { DataBatch, canonicalCollection } from '../../shared/contracts/events.ts';
import { RECORD_KINDS, type RecordKind } from '../../shared/contracts/records.ts';
import { recordFromRow, rowFromRecord, rowSpec, type RowValue } from '../../shared/contracts/rows.ts';
import { validateRows } from '../../functions/arango-connector/handler.ts';
import { SAMPLES, klineBatch, klineRow } from './helpers.ts';
import { ABSENT, EDGE_VALUES } from '../contracts/edge-values.ts';

/** The definition: one zod safeParse of the row tuple per row. */
function reference(batch: DataBatch) {
  const schema = rowSpec(batch.kind).schema;
  const good: unknown[] = [];
  const bad: unknown[] = [];
  batch.rows.forEach((row, index) => {
    const r = schema.safeParse(row);
    if (r.success) {
      // zod accepts a row unchanged (value for value; a named property on the array, which JSON
      // cannot carry anyway, is all it drops): what is stored is what arrived.
      expect(JSON.stringify(r.data)).toBe(JSON.stringify(row));
      good.push(row);
    } else {
      const issues = r.error.issues;
      bad.push({ index, reason: 'invalid_record', message: 'row failed validation', issues, record: row });
    }
  });
  return { good, bad };
}

/** Values tried in every column: the shared edge values and the rows' own. */
const VALUES: unknown[] = [
  ...EDGE_VALUES,
  '1634942949263',
  [['1', '2']],
  [['1', '2', '3']],
  [['1']],
  [[1, 2]],
];

/** Rows derived from a valid one: every value in every column, other lengths and other shapes. */
function variants(kind: RecordKind, row: RowValue[], record: unknown): unknown[] {
  const out: unknown[] = [row, [...row], JSON.parse(JSON.stringify(row)), null, undefined, 'row', 42, {}, []];
  out.push([row], record, { ...row }, { ...row, length: row.length }); // nested, a record, array-likes
  out.push(Object.assign([...row], { extra: 1 })); // a named property on the array itself
  for (let i = 0; i < row.length; i++) {
    for (const value of VALUES) {
      const r: unknown[] = [...row];
      if (value === ABSENT)
        r.splice(i, 1); // the column missing, the rest shifted
      else r[i] = value;
      out.push(r);
    }
    out.push(row.slice(0, i)); // truncated
    // A sparse array: the element is not there at all.
    const hole: unknown[] = new Array<unknown>(row.length);
    row.forEach((v, j) => {
      if (j !== i) hole[j] = v;
    });
    out.push(hole);
  }
  for (const more of [null, 'x', 0, []]) out.push([...row, more]);
  out.push([...row].reverse());
  // Rows of the other kinds.
  for (const other of RECORD_KINDS)
    if (other !== kind) out.push(...SAMPLES[other].records.map((r) => rowFromRecord(other, r)));
  return out;
}

describe('validateRows(): the same verdict as zod row by row', () => {
  for (const kind of RECORD_KINDS) {
    it(`${kind} rows`, () => {
      const { series, records } = SAMPLES[kind];
      const rows = records.flatMap((r) => variants(kind, rowFromRecord(kind, r), r));
      const batch = DataBatch.parse({
        kind,
        ...series,
        collection: canonicalCollection(kind),
        seq: 0,
        rows,
      });
      expect(batch.rows).toHaveLength(rows.length);
      const got = validateRows(batch);
      const want = reference(batch);
      expect(got).toStrictEqual(want);
      // Accepted rows are the very rows of the batch, in order; nothing is copied.
      got.good.forEach((row, i) => expect(row).toBe(want.good[i]));
      expect(got.good.length + got.bad.length).toBe(rows.length);
      expect(got.good.length).toBeGreaterThan(records.length);
      expect(got.bad.length).toBeGreaterThan(rows.length / 2);
      // Every accepted row stands for a valid record of the batch's series.
      for (const row of got.good) expect(() => recordFromRow(kind, series, row)).not.toThrow();

      // The check that decides never accepts what zod rejects, and takes every row zod accepts
      // (compiled for every kind but depth, whose levels it leaves to zod itself).
      const { check, schema } = rowSpec(kind);
      let fast = 0;
      for (const row of rows) {
        if (!check(row)) continue;
        fast++;
        expect(schema.safeParse(row).success, JSON.stringify(row)).toBe(true);
      }
      expect(fast).toBe(got.good.length);
    });
  }

  it('a kline batch as the loader sends it: dead letters name their row index and column', () => {
    const float = klineRow(1);
    float[1] = 42001.01; // a float where the exchange sends a decimal string
    const negative = klineRow(3);
    negative[8] = -1;
    const rows: unknown[] = [klineRow(0), float, klineRow(2), negative, null, klineRow(5).slice(0, 11)];
    const batch = DataBatch.parse(klineBatch(0, rows.length, { rows }).data);
    const got = validateRows(batch);
    expect(got).toStrictEqual(reference(batch));
    expect(got.good).toEqual([klineRow(0), klineRow(2)]);
    expect(got.bad.map((b) => [b.index, b.reason, b.record])).toEqual([
      [1, 'invalid_record', float],
      [3, 'invalid_record', negative],
      [4, 'invalid_record', null],
      [5, 'invalid_record', klineRow(5).slice(0, 11)],
    ]);
    expect(got.bad.map((b) => (b.issues as { path: unknown[] }[]).map((i) => i.path))).toEqual([
      [[1]],
      [[8]],
      [[]],
      [[]],
    ]);
  });
});
