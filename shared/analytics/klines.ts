/**
 * Reads the stored klines the analytical stages need (issue 14): for each symbol, its bars of one
 * interval in [start, end), paged through the store's (time, key) order. Only the fields the
 * graph and the model use are kept (open time, close, quote volume) so two years of 1h for 50
 * symbols (876k bars) stay a few tens of MB.
 */
import type { KlineInterval, Market } from '../contracts/common.ts';
import { canonicalCollection } from '../contracts/events.ts';
import { seriesKey } from '../contracts/records.ts';
import type { Store } from '../store/store.ts';

export interface KlineBar {
  open_time: number;
  close: string;
  quote_volume: string;
}

const PAGE = 5000;

export async function readBars(
  store: Store,
  q: { market: Market; symbols: readonly string[]; interval: KlineInterval; start: number; end: number },
): Promise<Map<string, KlineBar[]>> {
  const collection = canonicalCollection('kline');
  const out = new Map<string, KlineBar[]>();
  for (const symbol of q.symbols) {
    const series = seriesKey({ market: q.market, symbol, dataset: `klines_${q.interval}` });
    const bars: KlineBar[] = [];
    let after: { time: number; key: string } | undefined;
    for (;;) {
      const page = await store.rangeQuery(collection, {
        series,
        from: q.start,
        to: q.end,
        limit: PAGE,
        after,
      });
      for (const r of page) {
        const d = r.doc as { open_time: number; close: string; quote_volume: string };
        bars.push({ open_time: d.open_time, close: d.close, quote_volume: d.quote_volume });
      }
      if (page.length < PAGE) break;
      const last = page[page.length - 1]!;
      after = { time: last.time, key: last.key };
    }
    out.set(symbol, bars);
  }
  return out;
}
