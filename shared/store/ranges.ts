/** Half-open range set arithmetic for the coverage ledger. */
import type { Range } from './store.ts';

/** Sorts and merges overlapping or touching half-open ranges; drops empty ones. */
export function mergeRangeSet(ranges: readonly Range[]): Range[] {
  const sorted = ranges.filter((r) => r.to > r.from).sort((a, b) => a.from - b.from);
  const out: Range[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.from <= last.to) last.to = Math.max(last.to, r.to);
    else out.push({ from: r.from, to: r.to });
  }
  return out;
}

/** Parts of `want` not covered by `have` (both half-open; `have` merged). */
export function subtractRanges(want: Range, have: readonly Range[]): Range[] {
  const out: Range[] = [];
  let cursor = want.from;
  for (const h of mergeRangeSet(have)) {
    if (h.to <= cursor) continue;
    if (h.from >= want.to) break;
    if (h.from > cursor) out.push({ from: cursor, to: Math.min(h.from, want.to) });
    cursor = Math.max(cursor, h.to);
    if (cursor >= want.to) break;
  }
  if (cursor < want.to) out.push({ from: cursor, to: want.to });
  return out;
}

/** Total length of a range set. */
export function rangeLength(ranges: readonly Range[]): number {
  return mergeRangeSet(ranges).reduce((s, r) => s + (r.to - r.from), 0);
}
