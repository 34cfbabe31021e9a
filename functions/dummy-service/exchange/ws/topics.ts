/**
 * One live stream shared by every connection subscribed to it: `poll(now)` returns the events
 * that became due since the last poll, in order. A topic starts at "now" (no history replay):
 * trades with id ≥ the next id after now, the depth diff after the current bucket, the open
 * candle. Values come from market-data.ts, so they equal REST's at the same instant.
 */
import { klineNextOpenTime, klineOpenTime, type KlineInterval } from '../../../../shared/contracts/common.ts';
import { BOOK_BUCKET_MS, bucketOf } from '../book.ts';
import type { MarketData } from '../market-data.ts';
import { aggTradeEvent, bookTickerEvent, depthEvent, klineEvent, tradeEvent } from './events.ts';
import type { StreamSpec } from './streams.ts';

/** An event and the id the drop fault hashes (trade id, aggregate id, final update id). */
export interface Emitted {
  id: number;
  payload: object;
}

export interface Topic {
  readonly spec: StreamSpec;
  /** Whether the dropRate fault applies (trade, aggTrade, depth). */
  readonly droppable: boolean;
  poll(now: number): Emitted[];
  /** Depth only: skip the next diff (the depthBreak fault); false when not a depth stream. */
  breakNext(): boolean;
}

/** Trades per poll at most; the rest follow on the next tick. */
const TRADES_PER_POLL = 1000;
/** Buckets a depth stream catches up at most after the event loop was held up. */
const MAX_LAG_BUCKETS = 100;

export function createTopic(data: MarketData, spec: StreamSpec, now: number): Topic {
  switch (spec.kind) {
    case 'trade':
    case 'aggTrade':
      return tradeTopic(data, spec, now);
    case 'kline':
      return klineTopic(data, spec, spec.interval ?? '1m');
    case 'depth':
      return depthTopic(data, spec, now);
    case 'bookTicker':
      return bookTickerTopic(data, spec, now);
  }
}

function tradeTopic(data: MarketData, spec: StreamSpec, now: number): Topic {
  const { market, symbol } = spec;
  const agg = spec.kind === 'aggTrade';
  let next = data.nextIds(market, symbol, now)[agg ? 'agg' : 'trade'];
  return {
    spec,
    droppable: true,
    breakNext: () => false,
    poll(now) {
      const q = { fromId: next, limit: TRADES_PER_POLL };
      if (agg) {
        const rows = data.aggTrades(market, symbol, q, now);
        if (rows.length > 0) next = rows[rows.length - 1]!.a + 1;
        return rows.map((r) => ({ id: r.a, payload: aggTradeEvent(symbol, r, now) }));
      }
      const rows = data.trades(market, symbol, q, now);
      if (rows.length > 0) next = rows[rows.length - 1]!.id + 1;
      return rows.map((r) => ({ id: r.id, payload: tradeEvent(market, symbol, r, now) }));
    },
  };
}

/** Updates every 2 s (1 s for `1s`) while open, and exactly one `x: true` update once closed. */
function klineTopic(data: MarketData, spec: StreamSpec, interval: KlineInterval): Topic {
  const { market, symbol } = spec;
  const periodMs = interval === '1s' ? 1000 : 2000;
  let open: number | undefined;
  let lastUpdate = -Infinity;
  const event = (t: number, x: boolean, now: number): Emitted[] => {
    const [row] = data.klines(market, symbol, interval, { startTime: t, endTime: t, limit: 1 }, now);
    if (!row || row[0] !== t) return [];
    const first = data.nextIds(market, symbol, t - 1).trade;
    return [{ id: t, payload: klineEvent(symbol, interval, row, first, x, now) }];
  };
  return {
    spec,
    droppable: false,
    breakNext: () => false,
    poll(now) {
      const current = klineOpenTime(interval, now);
      const out: Emitted[] = [];
      if (open !== undefined && open < current) {
        // Every candle that closed since the last poll gets its final update (normally one).
        for (let t = open, i = 0; t < current && i < 100; t = klineNextOpenTime(interval, t), i++)
          out.push(...event(t, true, now));
        lastUpdate = -Infinity;
      }
      open = current;
      if (now - lastUpdate >= periodMs) {
        out.push(...event(current, false, now));
        lastUpdate = now;
      }
      return out;
    },
  };
}

function depthTopic(data: MarketData, spec: StreamSpec, now: number): Topic {
  const { market, symbol } = spec;
  const step = spec.speedMs === 100 ? 1 : 10;
  let last = bucketOf(now);
  let skip = false;
  return {
    spec,
    droppable: true,
    breakNext: () => (skip = true),
    poll(now) {
      const k = bucketOf(now);
      // After a long hold-up the stream jumps ahead: clients see a gap, as on a real exchange.
      if (k - last > MAX_LAG_BUCKETS * step) last = k - MAX_LAG_BUCKETS * step;
      const out: Emitted[] = [];
      while (k - last >= step) {
        const to = last + step;
        const d = data.depthDiff(market, symbol, last, to);
        last = to;
        if (skip) {
          skip = false;
          continue;
        }
        out.push({ id: d.u, payload: depthEvent(market, symbol, d, now, to * BOOK_BUCKET_MS) });
      }
      return out;
    },
  };
}

function bookTickerTopic(data: MarketData, spec: StreamSpec, now: number): Topic {
  const { market, symbol } = spec;
  let last = bucketOf(now);
  let sent = '';
  return {
    spec,
    droppable: false,
    breakNext: () => false,
    poll(now) {
      const k = bucketOf(now);
      if (k === last) return [];
      last = k;
      const top = data.bookTop(market, symbol, k);
      const key = `${top.b}/${top.B}/${top.a}/${top.A}`;
      if (key === sent) return [];
      sent = key;
      return [{ id: top.u, payload: bookTickerEvent(market, symbol, top, now, k * BOOK_BUCKET_MS) }];
    },
  };
}
