/**
 * Kline paginator (spot `/api/v3/klines`, USD-M `/fapi/v1/klines`). The range is cut into chunks
 * of `limit` candle slots; chunks are independent, so several are fetched at once and yielded in
 * order. Rows are selected by open time within `[startTime, endTime]` (binance.md §2).
 *
 * Exchange gap vs missing data: the exchange returns every candle whose open time is in the
 * requested window, oldest first, so a jump of more than one interval between two returned rows
 * is an exchange gap. A page that ends before the window does is ambiguous (the server may cap
 * `limit` lower than asked), so the loader asks again from the next slot; only an empty answer
 * proves the rest of the window is a gap.
 *
 * The still-open candle is never published: a candle counts only once it has closed on the
 * exchange clock (its next open time ≤ now), so a published kline is final and its UPSERT never
 * changes later. The range beyond the last closed candle is left out (not a gap: it simply has
 * not happened yet) and stays missing in the coverage ledger for a later run.
 */
import { RawKlines, type RawKline } from '../contracts/binance.ts';
import { klineNextOpenTime, klineOpenTime, type KlineInterval, type Market } from '../contracts/common.ts';
import type { Range } from '../store/store.ts';
import { inOrder, linkedAbort, type Page, type PaginateOptions } from './pages.ts';
import type { ExchangeClient } from './rest-client.ts';
import { cheapestKlinesLimit, klinesWeight } from './weights.ts';

export interface KlineSeries {
  market: Market;
  symbol: string;
  interval: KlineInterval;
}

interface Chunk {
  /** Slice of the axis this chunk settles. */
  from: number;
  to: number;
  /** Open times of the first and last candle slot in it. */
  first: number;
  last: number;
}

/** First candle open time at or after `t`. */
function firstSlotAtOrAfter(interval: KlineInterval, t: number): number {
  const o = klineOpenTime(interval, t);
  return o < t ? klineNextOpenTime(interval, o) : o;
}

/** Cuts [from, end) into chunks of at most `limit` candle slots; tiles the range exactly. */
function* chunks(interval: KlineInterval, from: number, end: number, limit: number): Generator<Chunk> {
  let cFrom = from;
  let slot = firstSlotAtOrAfter(interval, from);
  while (cFrom < end) {
    if (slot >= end) {
      // No candle opens in the rest (a range shorter than one interval): nothing to ask for.
      yield { from: cFrom, to: end, first: slot, last: slot - 1 };
      return;
    }
    let last = slot;
    for (let n = 1; n < limit; n++) {
      const nx = klineNextOpenTime(interval, last);
      if (nx >= end) break;
      last = nx;
    }
    const to = Math.min(end, klineNextOpenTime(interval, last));
    yield { from: cFrom, to, first: slot, last };
    cFrom = to;
    slot = klineNextOpenTime(interval, last);
  }
}

/** Gaps among the slots `first..last` given the rows found (sorted by open time). */
export function klineGaps(
  interval: KlineInterval,
  chunk: { first: number; to: number },
  openTimes: readonly number[],
): Range[] {
  const gaps: Range[] = [];
  let expected = chunk.first;
  for (const t of openTimes) {
    if (t > expected) gaps.push({ from: expected, to: t });
    expected = klineNextOpenTime(interval, t);
  }
  if (expected < chunk.to) gaps.push({ from: expected, to: chunk.to });
  return gaps;
}

/** Yields the closed candles of `o.range` page by page. */
export async function* klinePages(
  client: ExchangeClient,
  s: KlineSeries,
  o: PaginateOptions,
): AsyncGenerator<Page<RawKline>> {
  if (s.market === 'usdm' && s.interval === '1s') throw new RangeError('1s klines exist on spot only');
  const limit = o.limit ?? cheapestKlinesLimit(s.market);
  const weight = klinesWeight(s.market, limit);
  const path = s.market === 'spot' ? '/api/v3/klines' : '/fapi/v1/klines';
  const now = o.now();
  // Only closed candles: the open one starts at klineOpenTime(now).
  const end = Math.min(o.range.to, klineOpenTime(s.interval, now));
  const from = Math.max(o.range.from, o.resume?.from ?? o.range.from);
  if (from >= end) return;
  const link = linkedAbort(o.signal);

  const fetchChunk = async (c: Chunk): Promise<Page<RawKline>> => {
    // The exchange's rows are the kline rows of a data batch (rows.ts): passed on as they came.
    const rows: RawKline[] = [];
    let start = c.first;
    // The exchange's text of the chunk's rows, while the chunk is one answer kept whole.
    let rowsJson: string | undefined;
    let answers = 0;
    while (start <= c.last) {
      const { value: raw, text } = await client.getWithText(
        path,
        { symbol: s.symbol, interval: s.interval, startTime: start, endTime: c.last, limit },
        RawKlines,
        { weight, signal: link.signal },
      );
      let lastOpen = Number.NaN;
      let kept = 0;
      for (const r of raw) {
        // Defensive: the window is inclusive on both ends and a candle must have closed.
        if (r[0] < start || r[0] > c.last || r[6] >= now || r[0] <= lastOpen) continue;
        rows.push(r);
        lastOpen = r[0];
        kept++;
      }
      answers++;
      rowsJson = answers === 1 && kept === raw.length ? text : undefined;
      if (Number.isNaN(lastOpen)) break; // empty answer: the rest of the window is a gap
      start = klineNextOpenTime(s.interval, lastOpen);
    }
    return {
      rows,
      rowsJson: answers === 1 ? rowsJson : undefined,
      covers: { from: c.from, to: c.to },
      gaps: klineGaps(
        s.interval,
        c,
        rows.map((k) => k[0]),
      ),
      next: c.to < end ? { from: c.to } : null,
    };
  };

  try {
    yield* inOrder(chunks(s.interval, from, end, limit), o.concurrency ?? 4, fetchChunk);
  } finally {
    link.abort();
  }
}
