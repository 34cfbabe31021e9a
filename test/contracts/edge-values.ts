/** Edge values of every type records and rows use, shared by the validation tests. */

/** Stands for "the key (or column) is missing". */
export const ABSENT = Symbol('absent');

/** Values tried in every field or column. */
export const EDGE_VALUES: readonly unknown[] = [
  ABSENT,
  undefined,
  null,
  true,
  false,
  0,
  -0,
  1,
  -1,
  1.5,
  Number.NaN,
  Infinity,
  -Infinity,
  2 ** 53,
  -(2 ** 53),
  Number.MAX_SAFE_INTEGER,
  '',
  '0',
  '-0',
  '1.',
  '.5',
  '-1.25',
  '+1',
  ' 1',
  '1\n',
  '1e5',
  '١٢',
  '0x10',
  'x',
  [],
  {},
  ['1', '2'],
];
