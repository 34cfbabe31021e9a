/**
 * Default profiles of the symbols the platform uses (precisions as Binance prints them, listing
 * times as on Binance); any other symbol gets a generic profile derived from its name.
 */
import type { Market } from '../../../shared/contracts/common.ts';
import type { SymbolSpec } from './config.ts';

export type SymbolProfile = Omit<SymbolSpec, 'symbol' | 'market'>;

const D = Date.UTC;
/** Realistic defaults for the symbols the platform uses; others get a generic profile. */
const PRESETS: Record<string, SymbolProfile> = {
  'spot:BTCUSDT': {
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    priceDecimals: 2,
    qtyDecimals: 5,
    basePrice: 30_000,
    listingTime: D(2017, 7, 17, 4),
    tradesPerMinute: 40,
    fillsPerTrade: 1.6,
    meanTradeQty: 0.02,
    volatility: 0.03,
    burstiness: 0.12,
  },
  'spot:ETHUSDT': {
    baseAsset: 'ETH',
    quoteAsset: 'USDT',
    priceDecimals: 2,
    qtyDecimals: 4,
    basePrice: 2_000,
    listingTime: D(2017, 7, 17, 4),
    tradesPerMinute: 30,
    fillsPerTrade: 1.5,
    meanTradeQty: 0.3,
    volatility: 0.035,
    burstiness: 0.15,
  },
  'spot:ETHBTC': {
    baseAsset: 'ETH',
    quoteAsset: 'BTC',
    priceDecimals: 5,
    qtyDecimals: 3,
    basePrice: 0.05,
    listingTime: D(2017, 6, 14, 4),
    tradesPerMinute: 4,
    fillsPerTrade: 1.3,
    meanTradeQty: 0.5,
    volatility: 0.025,
    burstiness: 0.45,
  },
  'usdm:BTCUSDT': {
    baseAsset: 'BTC',
    quoteAsset: 'USDT',
    priceDecimals: 2,
    qtyDecimals: 3,
    basePrice: 30_000,
    listingTime: D(2019, 8, 25),
    tradesPerMinute: 60,
    fillsPerTrade: 2,
    meanTradeQty: 0.05,
    volatility: 0.03,
    burstiness: 0.1,
  },
  'usdm:ETHUSDT': {
    baseAsset: 'ETH',
    quoteAsset: 'USDT',
    priceDecimals: 2,
    qtyDecimals: 3,
    basePrice: 2_000,
    listingTime: D(2019, 10, 27),
    tradesPerMinute: 40,
    fillsPerTrade: 1.8,
    meanTradeQty: 0.5,
    volatility: 0.035,
    burstiness: 0.12,
  },
};

const QUOTES = ['USDT', 'USDC', 'FDUSD', 'BUSD', 'TUSD', 'BTC', 'ETH', 'BNB', 'EUR', 'TRY'];

function genericProfile(symbol: string): SymbolProfile {
  const quote = QUOTES.find((q) => symbol.endsWith(q) && symbol.length > q.length) ?? symbol.slice(-3);
  const crypto = quote === 'BTC' || quote === 'ETH' || quote === 'BNB';
  return {
    baseAsset: symbol.slice(0, symbol.length - quote.length),
    quoteAsset: quote,
    priceDecimals: crypto ? 6 : 4,
    qtyDecimals: crypto ? 2 : 2,
    basePrice: crypto ? 0.001 : 10,
    listingTime: D(2020, 0, 1),
    tradesPerMinute: 8,
    fillsPerTrade: 1.3,
    meanTradeQty: crypto ? 50 : 20,
    volatility: 0.05,
    burstiness: 0.3,
  };
}

/** The profile of (market, symbol): its preset, else a generic one. */
export function profileFor(market: Market, symbol: string): SymbolProfile {
  return PRESETS[`${market}:${symbol}`] ?? genericProfile(symbol);
}
