/**
 * exchangeInfo bodies shaped like the captures (rest/spot_exchangeInfo_2025-06-21_ETHBTC_only.json,
 * rest/futures_um_exchangeInfo_2021-07-21_trimmed.json): same top-level keys in the same order,
 * REQUEST_WEIGHT from the configuration.
 */
import type { SymbolSpec } from './config.ts';
import { fixed } from './format.ts';

/** What exchangeInfo reports for "unlimited" (weightLimit 0). */
const UNLIMITED = 2_147_483_647;

const tick = (d: number, out: number) => fixed(1, d, out);

export function spotExchangeInfo(
  symbols: SymbolSpec[],
  weightLimit: number,
  now: number,
  permissionSets: boolean,
) {
  return {
    timezone: 'UTC',
    serverTime: now,
    rateLimits: [
      {
        rateLimitType: 'REQUEST_WEIGHT',
        interval: 'MINUTE',
        intervalNum: 1,
        limit: weightLimit || UNLIMITED,
      },
      { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 100 },
      { rateLimitType: 'ORDERS', interval: 'DAY', intervalNum: 1, limit: 200000 },
      { rateLimitType: 'RAW_REQUESTS', interval: 'MINUTE', intervalNum: 5, limit: 300000 },
    ],
    exchangeFilters: [],
    symbols: symbols.map((s) => ({
      symbol: s.symbol,
      status: 'TRADING',
      baseAsset: s.baseAsset,
      baseAssetPrecision: 8,
      quoteAsset: s.quoteAsset,
      quotePrecision: 8,
      quoteAssetPrecision: 8,
      baseCommissionPrecision: 8,
      quoteCommissionPrecision: 8,
      orderTypes: [
        'LIMIT',
        'LIMIT_MAKER',
        'MARKET',
        'STOP_LOSS',
        'STOP_LOSS_LIMIT',
        'TAKE_PROFIT',
        'TAKE_PROFIT_LIMIT',
      ],
      icebergAllowed: true,
      ocoAllowed: true,
      otoAllowed: true,
      quoteOrderQtyMarketAllowed: true,
      allowTrailingStop: true,
      cancelReplaceAllowed: true,
      amendAllowed: true,
      isSpotTradingAllowed: true,
      isMarginTradingAllowed: true,
      filters: [
        {
          filterType: 'PRICE_FILTER',
          minPrice: tick(s.priceDecimals, 8),
          maxPrice: '1000000.00000000',
          tickSize: tick(s.priceDecimals, 8),
        },
        {
          filterType: 'LOT_SIZE',
          minQty: tick(s.qtyDecimals, 8),
          maxQty: '9000.00000000',
          stepSize: tick(s.qtyDecimals, 8),
        },
      ],
      permissions: [],
      permissionSets: permissionSets ? [['SPOT', 'MARGIN']] : [],
      defaultSelfTradePreventionMode: 'EXPIRE_MAKER',
      allowedSelfTradePreventionModes: ['EXPIRE_TAKER', 'EXPIRE_MAKER', 'EXPIRE_BOTH', 'DECREMENT'],
    })),
  };
}

export function usdmExchangeInfo(symbols: SymbolSpec[], weightLimit: number, now: number) {
  return {
    timezone: 'UTC',
    serverTime: now,
    futuresType: 'U_MARGINED',
    rateLimits: [
      {
        rateLimitType: 'REQUEST_WEIGHT',
        interval: 'MINUTE',
        intervalNum: 1,
        limit: weightLimit || UNLIMITED,
      },
      { rateLimitType: 'ORDERS', interval: 'MINUTE', intervalNum: 1, limit: 1200 },
      { rateLimitType: 'ORDERS', interval: 'SECOND', intervalNum: 10, limit: 300 },
    ],
    exchangeFilters: [],
    assets: [...new Set(symbols.map((s) => s.quoteAsset))].map((asset) => ({
      asset,
      marginAvailable: true,
      autoAssetExchange: '-10000',
    })),
    symbols: symbols.map((s) => ({
      symbol: s.symbol,
      pair: s.symbol,
      contractType: 'PERPETUAL',
      deliveryDate: 4133404800000,
      onboardDate: s.listingTime,
      status: 'TRADING',
      maintMarginPercent: '2.5000',
      requiredMarginPercent: '5.0000',
      baseAsset: s.baseAsset,
      quoteAsset: s.quoteAsset,
      marginAsset: s.quoteAsset,
      pricePrecision: s.priceDecimals,
      quantityPrecision: s.qtyDecimals,
      baseAssetPrecision: 8,
      quotePrecision: 8,
      underlyingType: 'COIN',
      underlyingSubType: [],
      settlePlan: 0,
      triggerProtect: '0.0500',
      liquidationFee: '0.012500',
      marketTakeBound: '0.05',
      filters: [
        {
          minPrice: tick(s.priceDecimals, s.priceDecimals),
          maxPrice: '1000000',
          filterType: 'PRICE_FILTER',
          tickSize: tick(s.priceDecimals, s.priceDecimals),
        },
        {
          stepSize: tick(s.qtyDecimals, s.qtyDecimals),
          filterType: 'LOT_SIZE',
          maxQty: '1000',
          minQty: tick(s.qtyDecimals, s.qtyDecimals),
        },
      ],
      orderTypes: [
        'LIMIT',
        'MARKET',
        'STOP',
        'STOP_MARKET',
        'TAKE_PROFIT',
        'TAKE_PROFIT_MARKET',
        'TRAILING_STOP_MARKET',
      ],
      timeInForce: ['GTC', 'IOC', 'FOK', 'GTX'],
    })),
  };
}
