/**
 * The compiled row check against zod itself: for every record kind's row and a synthetic tuple
 * using every understood part, over many mutated inputs, the check accepts exactly what zod
 * accepts unchanged; a schema part it does not know gets no check at all (zod decides).
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { compileTupleCheck } from '../../shared/contracts/fast-parse.ts';
import { RECORD_KINDS } from '../../shared/contracts/records.ts';
import { rowFromRecord, rowSpec } from '../../shared/contracts/rows.ts';
import { SAMPLES } from '../arango-connector/helpers.ts';
import { ABSENT, EDGE_VALUES } from './edge-values.ts';

/** Values tried in every column: the shared edge values and the rows' own strings. */
const VALUES: unknown[] = [...EDGE_VALUES, 'spot', 'BTCUSDT', '1m', '1M', [['1', '2']], [[1, 2]]];

/** Inputs derived from a valid row: every value in every column, a column missing, one extra. */
function variants(sample: readonly unknown[]): unknown[] {
  const out: unknown[] = [sample, [...sample], null, undefined, 'row', 42, {}, [sample], [...sample, 1]];
  for (let i = 0; i < sample.length; i++) {
    for (const value of VALUES) {
      const v = [...sample];
      if (value === ABSENT) v.splice(i, 1);
      else v[i] = value;
      out.push(v);
    }
  }
  out.push(Object.assign({ length: sample.length }, sample)); // array-like, not an array
  return out;
}

/** The tuple schema's elements (rows.ts builds each kind's schema from these). */
const elementsOf = (schema: z.ZodType): z.ZodType[] =>
  (schema as unknown as z.ZodTuple).def.items as unknown as z.ZodType[];

describe('compileTupleCheck(): the same verdict as zod', () => {
  for (const kind of RECORD_KINDS) {
    it(`${kind} rows`, () => {
      const { schema } = rowSpec(kind);
      const check = compileTupleCheck(elementsOf(schema));
      // Depth rows hold arrays of levels, which the compiler leaves to zod.
      if (kind === 'depth') {
        expect(check).toBeUndefined();
        return;
      }
      expect(check).toBeDefined();
      let accepted = 0;
      for (const sample of SAMPLES[kind].records) {
        for (const x of variants(rowFromRecord(kind, sample as never))) {
          const zod = schema.safeParse(x).success;
          expect(check!(x), JSON.stringify(x)).toBe(zod);
          if (zod) accepted++;
        }
      }
      expect(accepted).toBeGreaterThan(10);
    });
  }

  it('a tuple using every understood part, nullable elements included', () => {
    const elements = [
      z.literal('x'),
      z.number().gt(0).lt(10),
      z.number().lte(5).nullable(),
      z.string(),
      z.boolean(),
      z.enum(['p', 'q']).nullable(),
      z.int().gte(-3),
      z.string().regex(/^\d+$/).regex(/^1/),
      z.boolean().nullable(),
    ];
    const tuple = z.tuple(elements as unknown as [z.ZodType, ...z.ZodType[]]);
    const check = compileTupleCheck(elements)!;
    expect(check).toBeDefined();
    let accepted = 0;
    for (const x of variants(['x', 5, null, 's', false, 'q', -3, '12', true])) {
      const zod = tuple.safeParse(x).success;
      expect(check(x), JSON.stringify(x)).toBe(zod);
      if (zod) accepted++;
    }
    expect(accepted).toBeGreaterThan(20);
  });

  it('compiles nothing for a schema part it does not know', () => {
    const unknown = [
      z.string().min(2),
      z.string().trim(),
      z.string().regex(/x/g),
      z.email(),
      z.string().transform((s) => s.length),
      z.string().default('d'),
      z.string().optional(),
      z.coerce.number(),
      z.number().multipleOf(2),
      z.int32(),
      z.object({ b: z.string() }),
      z.array(z.string()),
      z.literal(undefined),
      z.unknown(),
      z.string().refine((s) => s !== 'b'),
    ];
    for (const el of unknown)
      expect(compileTupleCheck([z.string(), el]), JSON.stringify(el.def.type)).toBeUndefined();
  });
});
