/**
 * What the paginators yield: one exchange page as compact rows (shared/contracts/rows.ts), the slice of the series'
 * time axis it settles and the exchange gaps inside that slice. Memory stays bounded: a paginator
 * holds at most `concurrency` pages at once, however long the range.
 */
import type { Row } from '../contracts/rows.ts';
import type { Range } from '../store/store.ts';

/** Where a paginator resumes: a time on the axis and, for id-paged datasets, the next id. */
export interface PageCursor {
  from: number;
  fromId?: number | undefined;
}

export interface Page<R extends Row = Row> {
  /** The page's records as rows in the kind's column order (for klines: the exchange's rows). */
  rows: R[];
  /**
   * `rows` as JSON exactly as the exchange sent them, when the page is one answer passed on whole
   * (klines): the batch then carries this text instead of serialising the rows again.
   */
  rowsJson?: string | undefined;
  /**
   * Half-open slice of the time axis this page settles: every record the exchange has in it is in
   * this page (or, for trades sharing the boundary millisecond, in the next one) or lies in `gaps`.
   * Consecutive pages tile the paged range without overlap.
   */
  covers: Range;
  /** Exchange gaps inside `covers`: time where the exchange has no data (klines only). */
  gaps: Range[];
  /** Cursor of the page after this one; null when this page ends the range. */
  next: PageCursor | null;
  /** Where the rows came from; REST when unset. */
  origin?: 'archive' | 'rest' | undefined;
  /** What the workflow should say about how this page was obtained (a file missing, replaced...). */
  notes?: string[] | undefined;
}

export interface PaginateOptions {
  /** The half-open range to page; the part not yet closed on the exchange clock is left out. */
  range: Range;
  /** Resume point from a checkpoint (a previous page's `next`). */
  resume?: PageCursor | null | undefined;
  signal?: AbortSignal | undefined;
  /** Exchange clock, epoch ms. */
  now: () => number;
  /** Pages fetched at once where pages are independent (klines); default 4. */
  concurrency?: number | undefined;
  /**
   * Klines per request; default the cheapest per weight (weights.ts). Smaller pages only make sense
   * where the exchange, not the weight, is the bottleneck (the simulator in bench/loader.ts).
   */
  limit?: number | undefined;
}

/**
 * Runs `fn` over `items` with up to `concurrency` calls in flight and yields the results in the
 * order of `items`. The next calls start before a result is handed out, so fetching overlaps
 * with whatever the consumer does with it (publishing).
 */
export async function* inOrder<T, R>(
  items: Iterable<T>,
  concurrency: number,
  fn: (item: T) => Promise<R>,
): AsyncGenerator<R> {
  const it = items[Symbol.iterator]();
  const pending: Promise<R>[] = [];
  const fill = (): void => {
    while (pending.length < Math.max(1, concurrency)) {
      const n = it.next();
      if (n.done) return;
      const p = fn(n.value);
      // Results are awaited in order; a later one failing while an earlier one is awaited, or
      // after the consumer stopped, must not surface as an unhandled rejection.
      p.catch(() => undefined);
      pending.push(p);
    }
  };
  fill();
  for (let p = pending.shift(); p !== undefined; p = pending.shift()) {
    const r = await p;
    fill();
    yield r;
  }
}

/** An AbortController that also aborts when `outer` does; `dispose` detaches it. */
export function linkedAbort(outer: AbortSignal | undefined): { signal: AbortSignal; abort: () => void } {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort(outer?.reason);
  if (outer?.aborted) ac.abort(outer.reason);
  else outer?.addEventListener('abort', onAbort, { once: true });
  return {
    signal: ac.signal,
    abort: () => {
      outer?.removeEventListener('abort', onAbort);
      ac.abort(new Error('paginator closed'));
    },
  };
}
