import { describe, expect, it } from 'vitest';
import { mergeRangeSet, rangeLength, subtractRanges } from '../../shared/store/ranges.ts';
import type { Range } from '../../shared/store/store.ts';

const r = (from: number, to: number): Range => ({ from, to });

describe('range sets (coverage ledger arithmetic)', () => {
  it.each([
    { name: 'sorts', in: [r(20, 30), r(0, 10)], out: [r(0, 10), r(20, 30)] },
    { name: 'merges overlapping', in: [r(0, 10), r(5, 15)], out: [r(0, 15)] },
    { name: 'merges touching half-open ranges', in: [r(0, 10), r(10, 20)], out: [r(0, 20)] },
    { name: 'keeps a gap of one', in: [r(0, 10), r(11, 20)], out: [r(0, 10), r(11, 20)] },
    { name: 'absorbs contained ranges', in: [r(0, 100), r(10, 20), r(30, 40)], out: [r(0, 100)] },
    { name: 'drops empty and inverted ranges', in: [r(5, 5), r(9, 3), r(1, 2)], out: [r(1, 2)] },
    { name: 'handles nothing', in: [], out: [] },
  ])('mergeRangeSet $name', ({ in: input, out }) => {
    const copy = structuredClone(input);
    expect(mergeRangeSet(input)).toEqual(out);
    expect(input).toEqual(copy); // inputs are not mutated
  });

  it.each([
    { want: r(0, 100), have: [], missing: [r(0, 100)] },
    { want: r(0, 100), have: [r(0, 100)], missing: [] },
    { want: r(0, 100), have: [r(-50, 500)], missing: [] },
    { want: r(0, 100), have: [r(20, 30), r(50, 60)], missing: [r(0, 20), r(30, 50), r(60, 100)] },
    { want: r(0, 100), have: [r(60, 50), r(90, 200), r(0, 10)], missing: [r(10, 90)] },
    { want: r(0, 100), have: [r(100, 200), r(-10, 0)], missing: [r(0, 100)] },
  ])('subtractRanges($want, $have)', ({ want, have, missing }) => {
    expect(subtractRanges(want, have)).toEqual(missing);
  });

  it('measures a set by its merged length', () => {
    expect(rangeLength([r(0, 10), r(5, 15), r(20, 25)])).toBe(20);
    expect(rangeLength([])).toBe(0);
  });
});
