/**
 * The coverage ledger (DESIGN.md "Things no peer has"): per stored series, the merged half-open
 * time ranges the store holds and the exchange's own gaps (time where the exchange has no data).
 * The sink writes it with every batch; loaders read it to fetch only what is missing.
 */
import { mergeRangeSet, subtractRanges } from './ranges.ts';
import type { Range, Store } from './store.ts';

/** Documents collection holding every ledger. */
export const COVERAGE_COLLECTION = 'coverage';

/** Ledger key of a series inside a data collection, e.g. `market_klines:spot:BTCUSDT:klines_1m`. */
export function coverageKey(collection: string, series: string): string {
  return `${collection}:${series}`;
}

function gapsKey(collection: string, series: string): string {
  return `${coverageKey(collection, series)}:gaps`;
}

export interface Coverage {
  /** Ranges whose records are stored. */
  covered: Range[];
  /** Ranges the exchange has no data for (reported by loaders). */
  gaps: Range[];
}

export async function recordCoverage(
  store: Store,
  collection: string,
  series: string,
  add: { covered?: readonly Range[]; gaps?: readonly Range[] },
): Promise<void> {
  if (add.covered && add.covered.length > 0)
    await store.mergeRanges(COVERAGE_COLLECTION, coverageKey(collection, series), add.covered);
  if (add.gaps && add.gaps.length > 0)
    await store.mergeRanges(COVERAGE_COLLECTION, gapsKey(collection, series), add.gaps);
}

export async function readCoverage(store: Store, collection: string, series: string): Promise<Coverage> {
  const [covered, gaps] = await Promise.all([
    store.getRanges(COVERAGE_COLLECTION, coverageKey(collection, series)),
    store.getRanges(COVERAGE_COLLECTION, gapsKey(collection, series)),
  ]);
  return { covered, gaps };
}

/**
 * What a loader still has to fetch for `want`: the range minus what is stored and minus known
 * exchange gaps. `skipped` is the length of `want` that needs no fetching.
 */
export function missingRanges(want: Range, cov: Coverage): { missing: Range[]; skipped: number } {
  const missing = subtractRanges(want, mergeRangeSet([...cov.covered, ...cov.gaps]));
  const fetched = missing.reduce((s, r) => s + (r.to - r.from), 0);
  return { missing, skipped: want.to - want.from - fetched };
}
