/**
 * The order book model behind REST depth and the WebSocket depth/bookTicker streams, so that a
 * client can keep a local book exactly like on Binance (binance.md §4 "Local book").
 *
 * Time is cut into 100 ms buckets k = floor(now / 100). book(k) holds `levels` price levels per
 * side, one per tick: bids at P, P−1, …, asks at P+1, P+2, … where P runs from the minute's
 * open to its close (its trades scatter over its low…high range around that path; following the
 * last trade itself would replace the whole book every bucket). A level's quantity is a pure function of (series, price,
 * epoch), its epoch advancing every 2 s with a per-price phase, so only a few levels change per
 * bucket (plus those the moving price shifts in or out). Bucket k owns the update ids
 * U(k) = u(k−1) + 1 … u(k) (10 per bucket since listing): REST depth at `now` is the top of
 * book(k(now)) with lastUpdateId = u(k), a diff event for k lists the levels that differ
 * between book(k−1) and book(k) (quantity 0 = removed).
 */
import { MINUTE_MS } from './gaps.ts';
import { hashKeys, unit } from './prng.ts';
import type { Series } from './series.ts';

export const BOOK_BUCKET_MS = 100;
export const IDS_PER_BUCKET = 10;
/** A level's quantity holds for this many buckets (2 s). */
const EPOCH_BUCKETS = 20;
const CACHE_BOOKS = 64;

/** One side: prices (ticks; bids descending, asks ascending) and quantities (lots, ≥ 1). */
export interface Side {
  prices: number[];
  qtys: number[];
}
export interface Book {
  bids: Side;
  asks: Side;
}
/** Changed levels [price ticks, qty lots] (0 = removed): bids descending, asks ascending. */
export interface BookDiff {
  bids: Array<[number, number]>;
  asks: Array<[number, number]>;
}

export const bucketOf = (now: number): number => Math.floor(now / BOOK_BUCKET_MS);

export class BookModel {
  private readonly cache = new Map<number, Book>();
  private readonly firstBucket: number;
  private readonly meanLots: number;

  constructor(
    private readonly series: Series,
    readonly levels: number,
  ) {
    this.firstBucket = (series.listing * MINUTE_MS) / BOOK_BUCKET_MS;
    this.meanLots = Math.max(1, series.spec.meanTradeQty * 10 ** series.spec.qtyDecimals);
  }

  /** Last update id of bucket k, u(k); the first is lastUpdateId(k − 1) + 1. */
  lastUpdateId(k: number): number {
    return (k - this.firstBucket + 1) * IDS_PER_BUCKET;
  }

  private qty(price: number, k: number): number {
    const key = this.series.key;
    const phase = hashKeys(key, 17, price) % EPOCH_BUCKETS;
    const epoch = Math.floor((k + phase) / EPOCH_BUCKETS);
    const u = unit(hashKeys(key, 13, price, epoch));
    return 1 + Math.floor(this.meanLots * -Math.log(1 - u));
  }

  /** Best bid (ticks) at time t: open → close of its minute; the last close in empty minutes and gaps. */
  private centre(t: number): number {
    const s = this.series;
    const m = Math.floor(t / MINUTE_MS);
    if (m < s.listing) return s.priceTicks(m);
    const shape = s.exists(m) ? s.shape(m) : null;
    if (shape)
      return Math.max(1, Math.round(shape.o + ((shape.c - shape.o) * (t - m * MINUTE_MS)) / MINUTE_MS));
    return s.prevClose(m);
  }

  /** The book of bucket k. */
  book(k: number): Book {
    const hit = this.cache.get(k);
    if (hit) return hit;
    const top = this.centre(k * BOOK_BUCKET_MS);
    const bids: Side = { prices: [], qtys: [] };
    const asks: Side = { prices: [], qtys: [] };
    for (let i = 0, p = top; i < this.levels && p >= 1; i++, p--) {
      bids.prices.push(p);
      bids.qtys.push(this.qty(p, k));
    }
    for (let i = 0, p = top + 1; i < this.levels; i++, p++) {
      asks.prices.push(p);
      asks.qtys.push(this.qty(p, k));
    }
    const book = { bids, asks };
    if (this.cache.size >= CACHE_BOOKS) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(k, book);
    return book;
  }

  /** Levels of book(to) that differ from book(from). */
  diff(from: number, to: number): BookDiff {
    const a = this.book(from);
    const b = this.book(to);
    return { bids: sideDiff(a.bids, b.bids, -1), asks: sideDiff(a.asks, b.asks, 1) };
  }
}

function sideDiff(a: Side, b: Side, order: 1 | -1): Array<[number, number]> {
  const before = new Map<number, number>();
  a.prices.forEach((p, i) => before.set(p, a.qtys[i]!));
  const out: Array<[number, number]> = [];
  b.prices.forEach((p, i) => {
    const q = b.qtys[i]!;
    if (before.get(p) !== q) out.push([p, q]);
    before.delete(p);
  });
  for (const p of before.keys()) out.push([p, 0]);
  return out.sort((x, y) => order * (x[0] - y[0]));
}
