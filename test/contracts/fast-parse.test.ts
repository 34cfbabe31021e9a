/**
 * The compiled fast path of record validation against zod itself: for every record kind and a
 * synthetic schema using every understood part, over many mutated inputs, it accepts only what
 * zod accepts, with zod's output key for key (in zod's order), and hands everything else to zod.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RECORD_KINDS, RECORD_SCHEMAS, type RecordOfKind } from '../../shared/contracts/records.ts';
import { compileAcceptor, compileTupleCheck, fastParser } from '../../shared/contracts/fast-parse.ts';
import { SAMPLES as BATCH_SAMPLES } from '../arango-connector/helpers.ts';
import { ABSENT, EDGE_VALUES } from './edge-values.ts';

/** One valid record of every kind (the connector tests' samples). */
const SAMPLES = Object.fromEntries(
  Object.entries(BATCH_SAMPLES).map(([kind, s]) => [kind, s.records[0]]),
) as { [K in keyof RecordOfKind]: RecordOfKind[K] };

/** Values tried in every field: the shared edge values and the schemas' own strings. */
const VALUES: unknown[] = [
  ...EDGE_VALUES,
  'spot',
  'usdm',
  'SPOT',
  'BTCUSDT',
  'btcusdt',
  'A',
  'A'.repeat(21),
  '1m',
  '1M',
  '5m',
];

/** Inputs derived from a valid record: every value in every field, and other shapes. */
function variants(sample: Record<string, unknown>, keys: string[]): unknown[] {
  const out: unknown[] = [sample, { ...sample }, null, undefined, 'record', 42, [sample], []];
  for (const key of [...keys, 'extra']) {
    for (const value of VALUES) {
      const v: Record<string, unknown> = { ...sample };
      if (value === ABSENT) delete v[key];
      else v[key] = value;
      out.push(v);
    }
  }
  out.push(Object.fromEntries(Object.entries(sample).reverse())); // keys in another order
  out.push({ extra: 1, ...sample, more: { nested: true } }); // unknown keys are stripped
  out.push(Object.create(sample)); // fields inherited, as zod reads them (`in`, `[]`)
  out.push(JSON.parse(`{"__proto__": {"x": 1}, ${JSON.stringify(sample).slice(1)}`));
  return out;
}

const cache = new Map<
  z.ZodType,
  { accept: ReturnType<typeof compileAcceptor>; parse: (x: unknown) => z.ZodSafeParseResult<unknown> }
>();
function compiledOnce(schema: z.ZodType) {
  let c = cache.get(schema);
  if (c === undefined) {
    c = { accept: compileAcceptor(schema), parse: fastParser(schema) };
    cache.set(schema, c);
  }
  return c;
}
const compiled = (schema: z.ZodType) => compiledOnce(schema).accept;
const parsers = (schema: z.ZodType) => compiledOnce(schema).parse;

/** Checks one input against zod; true when the compiled predicate accepted it. */
function agrees(schema: z.ZodType, x: unknown): boolean {
  const expected = schema.safeParse(x);
  const accepted = compiled(schema)?.(x);
  if (accepted !== undefined) {
    expect(expected.success, JSON.stringify(x)).toBe(true);
    expect(accepted).toStrictEqual(expected.data);
    expect(Object.keys(accepted)).toEqual(Object.keys(expected.data as object));
    expect(JSON.stringify(accepted)).toBe(JSON.stringify(expected.data));
  }
  const got = parsers(schema)(x);
  expect(got.success).toBe(expected.success);
  if (got.success) expect(got.data).toStrictEqual(expected.data);
  else expect(got.error.issues).toEqual(expected.error?.issues);
  return accepted !== undefined;
}

describe('fastParser(): the same verdict and output as zod', () => {
  for (const kind of RECORD_KINDS) {
    it(`${kind} records`, () => {
      const schema = RECORD_SCHEMAS[kind];
      const inputs = variants(SAMPLES[kind], Object.keys(schema.shape));
      let zodAccepted = 0;
      let fastAccepted = 0;
      for (const x of inputs) {
        if (schema.safeParse(x).success) zodAccepted++;
        if (agrees(schema, x)) fastAccepted++;
      }
      expect(zodAccepted).toBeGreaterThan(10);
      // Depth has arrays of tuples, which the compiler leaves to zod; every other kind is
      // compiled, and the fast path takes every input zod accepts.
      expect(fastAccepted).toBe(kind === 'depth' ? 0 : zodAccepted);
    });
  }

  it('a schema using every understood part', () => {
    const schema = z.object({
      lit: z.literal('x'),
      gt: z.number().gt(0).lt(10),
      lte: z.number().lte(5).optional(),
      str: z.string(),
      bool: z.boolean(),
      en: z.enum(['p', 'q']).optional(),
      int: z.int().gte(-3),
      dec: z.string().regex(/^\d+$/).regex(/^1/),
      last: z.number().nonnegative(),
    });
    expect(compileAcceptor(schema)).toBeDefined();
    const sample = { lit: 'x', gt: 5, lte: 5, str: 's', bool: false, en: 'q', int: -3, dec: '12', last: 0 };
    const inputs = variants(sample, Object.keys(schema.shape));
    let accepted = 0;
    for (const x of inputs) if (agrees(schema, x)) accepted++;
    expect(accepted).toBeGreaterThan(20);
    // An optional key in the middle keeps its place in the output.
    expect(Object.keys(compileAcceptor(schema)?.({ ...sample }) ?? {})).toEqual(Object.keys(sample));
  });

  it('nullable fields, and tuples (compileTupleCheck): accepts exactly what zod accepts unchanged', () => {
    const obj = z.object({ a: z.string().regex(/^\d+$/).nullable(), b: z.number().int() });
    for (const x of [{ a: null, b: 1 }, { a: '12', b: 1 }, { a: 'x', b: 1 }, { b: 1 }, { a: null, b: 1.5 }])
      agrees(obj, x);
    const elements = [z.number().int().nonnegative(), z.string().regex(/^\d+$/), z.boolean().nullable()];
    const tuple = z.tuple(elements as unknown as [z.ZodType, z.ZodType, z.ZodType]);
    const check = compileTupleCheck(elements)!;
    const cases: unknown[] = [
      [1, '2', null],
      [1, '2', true],
      [1, '2'],
      [1, '2', null, 4],
      [-1, '2', null],
      [1.5, '2', false],
      [1, 'x', false],
      [1, '2', 'true'],
      { 0: 1, 1: '2', 2: null, length: 3 },
      'abc',
      null,
    ];
    for (const c of cases) expect(check(c), JSON.stringify(c)).toBe(tuple.safeParse(c).success);
    expect(compileTupleCheck([z.array(z.string())])).toBeUndefined();
  });

  it('leaves every schema part it does not know to zod', () => {
    const unknown = [
      z.strictObject({ a: z.string() }),
      z.looseObject({ a: z.string() }),
      z.object({ a: z.string() }).refine((o) => o.a !== 'b'),
      z.object({ a: z.string().min(2) }),
      z.object({ a: z.string().trim() }),
      z.object({ a: z.string().regex(/x/g) }),
      z.object({ a: z.email() }),
      z.object({ a: z.string().transform((s) => s.length) }),
      z.object({ a: z.string().default('d') }),
      z.object({ a: z.string().optional().default('d') }),
      z.object({ a: z.coerce.number() }),
      z.object({ a: z.number().multipleOf(2) }),
      z.object({ a: z.int32() }),
      z.object({ a: z.object({ b: z.string() }) }),
      z.object({ a: z.array(z.string()) }),
      z.object({ a: z.literal(undefined) }),
      z.object({ a: z.unknown() }),
      z.array(z.string()),
      z.string(),
    ];
    for (const schema of unknown) {
      expect(compileAcceptor(schema), JSON.stringify(schema.def.type)).toBeUndefined();
      for (const x of [{ a: 'x' }, { a: 'xx' }, { a: 4 }, { a: undefined }, {}, ['x'], 'x'])
        agrees(schema as z.ZodType, x);
    }
  });
});
