/**
 * Synthetic BTCUSDT 1m klines for the sink bench (bench/sink.ts):
 * deterministic, exchange-shaped (8-decimal strings), one per minute from 2023-01-01.
 */
import type { Kline } from '../shared/contracts/records.ts';

export const T0 = Date.UTC(2023, 0, 1);
export const MINUTE = 60_000;

/** The i-th candle after T0. */
export function syntheticKline(i: number): Kline {
  const open_time = T0 + i * MINUTE;
  const p = 16500 + (i % 5000) / 100;
  return {
    market: 'spot',
    symbol: 'BTCUSDT',
    interval: '1m',
    open_time,
    open: p.toFixed(8),
    high: (p + 3.25).toFixed(8),
    low: (p - 2.5).toFixed(8),
    close: (p + 0.75).toFixed(8),
    volume: (10 + (i % 97) / 7).toFixed(8),
    close_time: open_time + MINUTE - 1,
    quote_volume: (p * 12.3).toFixed(8),
    trades: 100 + (i % 900),
    taker_buy_base: (5 + (i % 13) / 3).toFixed(8),
    taker_buy_quote: (p * 6.1).toFixed(8),
    ignore: '0',
  };
}
