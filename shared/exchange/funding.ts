/**
 * USD-M funding-rate paginator (`/fapi/v1/fundingRate`, startTime/endTime inclusive, limit up to
 * 1000, binance.md §6). 1000 rows are about eleven months of 8-hourly funding, so a range takes
 * few requests and they run one after another. Funding times are not a fixed grid (intervals
 * change per symbol), so no gaps are inferred.
 */
import { z } from 'zod';
import { RawFundingRate } from '../contracts/binance.ts';
import { fundingFromRaw } from '../contracts/records.ts';
import { rowFromRecord, type RowValue } from '../contracts/rows.ts';
import { linkedAbort, type Page, type PaginateOptions } from './pages.ts';
import type { ExchangeClient } from './rest-client.ts';
import { MAX_LIMIT, USDM_WEIGHTS } from './weights.ts';

const RawFundingRates = z.array(RawFundingRate);

export async function* fundingPages(
  client: ExchangeClient,
  s: { symbol: string },
  o: PaginateOptions,
): AsyncGenerator<Page<RowValue[]>> {
  const row = (r: RawFundingRate): RowValue[] => rowFromRecord('funding', fundingFromRaw(r));
  const to = Math.min(o.range.to, o.now());
  let from = Math.max(o.range.from, o.resume?.from ?? o.range.from);
  const link = linkedAbort(o.signal);
  const limit = MAX_LIMIT.fundingRate;
  try {
    while (from < to) {
      const rows = await client.get(
        '/fapi/v1/fundingRate',
        { symbol: s.symbol, startTime: from, endTime: to - 1, limit },
        RawFundingRates,
        { weight: USDM_WEIGHTS.fundingRate, signal: link.signal },
      );
      const inRange = rows.filter(
        (r) => r.fundingTime >= from && r.fundingTime < to && r.symbol === s.symbol,
      );
      const last = inRange.at(-1);
      // A short answer within [from, to] holds everything there; only an answer that may have been
      // cut (as many rows as asked, or more than the server's cap) needs another request.
      if (last === undefined || rows.length < limit) {
        yield { rows: inRange.map(row), covers: { from, to }, gaps: [], next: null };
        return;
      }
      const next = last.fundingTime + 1;
      yield {
        rows: inRange.map(row),
        covers: { from, to: next },
        gaps: [],
        next: next < to ? { from: next } : null,
      };
      from = next;
    }
  } finally {
    link.abort();
  }
}
