/**
 * The klines page schema checks rows in plain code (isRawKline) and falls back to the zod tuple
 * only for a page that fails. The two must agree exactly: on every field of a row, the plain
 * check accepts what RawKline accepts and nothing else, and a page parses to the same data, or
 * fails with the same issues, as `z.array(RawKline)`.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { RawKline, RawKlines, isRawKline } from '../../shared/contracts/binance.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures/binance');
const captured = JSON.parse(
  readFileSync(path.join(fixtures, 'rest/spot_klines_BTCUSDT_1m_2021-10-22.json'), 'utf8'),
) as unknown[];
const row = captured[0] as unknown[];
const Contract = z.array(RawKline);

/** Values a field may hold after JSON.parse, and a few it may not. */
const CANDIDATES: unknown[] = [
  // numbers: integers, the safe-integer edge, fractions, non-finite
  0,
  -0,
  1,
  -1,
  1634943780000,
  2 ** 53 - 1,
  2 ** 53,
  1e21,
  1.5,
  Number.MIN_VALUE,
  Number.MAX_VALUE,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  // decimal strings and near misses
  '0',
  '-0',
  '60685.22000000',
  '-1.5',
  '0.00000000',
  '007',
  '1.',
  '.5',
  '-',
  '-.5',
  '',
  '1e5',
  '+1',
  ' 1',
  '1 ',
  '1\n',
  '\n1',
  '1.2.3',
  '0x1f',
  '١٢',
  'abc',
  // other JSON values
  null,
  true,
  false,
  {},
  [],
  ['1'],
  undefined,
];

function withField(i: number, v: unknown): unknown[] {
  const r = [...row];
  r[i] = v;
  return r;
}

describe('isRawKline agrees with the RawKline tuple', () => {
  it('captured rows pass both', () => {
    for (const r of captured) {
      expect(RawKline.safeParse(r).success).toBe(true);
      expect(isRawKline(r)).toBe(true);
    }
  });

  it.each([...Array(12).keys()])('field %i: every candidate value', (i) => {
    let accepted = 0;
    for (const v of CANDIDATES) {
      const r = withField(i, v);
      const zod = RawKline.safeParse(r).success;
      expect({ field: i, value: v, accepted: isRawKline(r) }).toEqual({ field: i, value: v, accepted: zod });
      if (zod) accepted += 1;
    }
    // Each field accepts some candidates and rejects others, so the table exercises both answers.
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(CANDIDATES.length);
  });

  it('shape: length, holes, non-arrays', () => {
    const holey: unknown[] = new Array(12);
    for (const [i, v] of row.entries()) if (i !== 5) holey[i] = v;
    const shapes: unknown[] = [
      [],
      row.slice(0, 11),
      [...row, '0'],
      holey,
      { ...row, length: 12 },
      null,
      'row',
      42,
      JSON.stringify(row),
    ];
    for (const s of shapes) expect(isRawKline(s)).toBe(RawKline.safeParse(s).success);
    expect(shapes.filter((s) => isRawKline(s))).toEqual([]);
  });
});

describe('RawKlines parses pages exactly as z.array(RawKline)', () => {
  const bad = (i: number, v: unknown) => withField(i, v);
  const pages: [string, unknown][] = [
    ['a captured page', captured],
    ['an empty page', []],
    ['one bad decimal', [row, bad(4, '1.'), row]],
    ['a fraction where an int belongs, and a short row', [bad(8, 1.5), row.slice(0, 11)]],
    ['an unsafe integer open time', [bad(0, 2 ** 53)]],
    ['an error body instead of rows', { code: -1121, msg: 'Invalid symbol.' }],
    ['null', null],
    ['rows that are objects', [{ ...row }]],
  ];
  it.each(pages)('%s', (_name, page) => {
    const want = Contract.safeParse(page);
    const got = RawKlines.safeParse(page);
    expect(got.success).toBe(want.success);
    if (want.success) expect(got.data).toEqual(want.data);
    else expect(got.error?.issues).toEqual(want.error.issues);
  });
});
