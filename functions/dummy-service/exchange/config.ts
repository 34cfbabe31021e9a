/**
 * Configuration of the simulated exchange: one zod schema, `ExchangeConfig`, used directly by
 * tests (an options object) and by sim-main.ts through `SimEnv` (sim-env.ts).
 */
import { z } from 'zod';
import { Market } from '../../../shared/contracts/common.ts';
import { ArchiveConfig } from './archive-config.ts';
import { profileFor } from './presets.ts';
import { WsSimConfig } from './ws/config.ts';

/** Largest number of fills (trades) one aggregated trade may have; every event's quantity is ≥ this. */
export const MAX_FILLS_PER_AGG = 4;

/** Highest tradesPerMinute: a minute of it takes ~110 ms to generate and ~40 MB while cached. */
export const MAX_TRADES_PER_MINUTE = 120_000;

/** Everything the generator needs to know about one (market, symbol) series. */
export const SymbolSpec = z
  .object({
    symbol: z.string().regex(/^[A-Z0-9]{2,20}$/),
    market: Market,
    baseAsset: z.string().min(1),
    quoteAsset: z.string().min(1),
    /** Tick = 10^-priceDecimals. */
    priceDecimals: z.number().int().min(0).max(8),
    /** Lot step = 10^-qtyDecimals. */
    qtyDecimals: z.number().int().min(0).max(8),
    /** Centre of the long-run price curve, in quote asset. */
    basePrice: z.number().positive(),
    /** Nothing exists before this (ms; rounded up to the minute). */
    listingTime: z.number().int().nonnegative(),
    /** Mean aggregated trades (taker orders) per minute (120,000 = 2,000/s, for live-stream benches). */
    tradesPerMinute: z.number().positive().max(MAX_TRADES_PER_MINUTE),
    /** Mean fills per aggregated trade, 1 … MAX_FILLS_PER_AGG. */
    fillsPerTrade: z.number().min(1).max(MAX_FILLS_PER_AGG),
    /** Mean quantity of one aggregated trade, in base asset. */
    meanTradeQty: z.number().positive(),
    /** Typical daily relative price move (e.g. 0.03). */
    volatility: z.number().positive().max(0.5),
    /** 0 … 0.45: how bursty activity is minute to minute (illiquid pairs: high, many empty minutes). */
    burstiness: z.number().min(0).max(0.45),
  })
  // Spot strings carry 8 decimals; quote volume = price × qty must fit them exactly.
  .refine((s) => s.market !== 'spot' || s.priceDecimals + s.qtyDecimals <= 8, {
    message: 'spot symbols need priceDecimals + qtyDecimals <= 8 (quote volumes are exact 8-decimal strings)',
  });
export type SymbolSpec = z.infer<typeof SymbolSpec>;

/** A symbol as configured: a name (market defaults to spot) and optional overrides of its profile. */
export const SymbolInput = z.union([
  z.string(),
  z.object({ symbol: z.string(), market: Market.default('spot') }).catchall(z.unknown()),
]);
export type SymbolInput = z.input<typeof SymbolInput>;

export const GapWindow = z
  .object({
    symbol: z.string().optional(),
    market: Market.optional(),
    from: z.number().int().nonnegative(),
    to: z.number().int().nonnegative(),
  })
  .refine((g) => g.to > g.from, { message: 'gap end must be after its start' });

export const DEFAULT_SYMBOLS = ['BTCUSDT', 'ETHUSDT', 'ETHBTC', 'usdm:BTCUSDT', 'usdm:ETHUSDT'];

/** Options of the simulated exchange (all optional; defaults mirror Binance). */
export const ExchangeConfig = z
  .object({
    seed: z.number().int().default(1),
    symbols: z.array(SymbolInput).min(1).default(DEFAULT_SYMBOLS),
    /** REQUEST_WEIGHT per window per IP (spot); 0 = unlimited. */
    weightLimit: z.number().int().nonnegative().default(6000),
    /** Same for /fapi (a separate budget, as on Binance); default = weightLimit. */
    futuresWeightLimit: z.number().int().nonnegative().optional(),
    /** The simulated "minute": fixed windows aligned to the epoch. */
    weightWindowMs: z.number().int().positive().default(60_000),
    /** Ban length after ignoring 429s; default 2 windows. */
    banMs: z.number().int().positive().optional(),
    /** The n-th request after a 429 in the same window is answered 418 and bans the IP. */
    banAfter: z.number().int().positive().default(3),
    faults: z
      .object({
        rate5xx: z.number().min(0).max(1).default(0),
        latencyMs: z.number().int().nonnegative().default(0),
        latencyJitterMs: z.number().int().nonnegative().default(0),
        malformedRate: z.number().min(0).max(1).default(0),
        resetRate: z.number().min(0).max(1).default(0),
      })
      .prefault({}),
    gaps: z
      .object({
        /** Random maintenance windows per series per calendar year. */
        perYear: z.number().min(0).max(50).default(2),
        minMinutes: z.number().int().positive().default(60),
        maxMinutes: z
          .number()
          .int()
          .positive()
          .max(30 * 1440)
          .default(360),
        /** Explicit windows (ms, half-open); no symbol/market = every series. */
        windows: z.array(GapWindow).default([]),
      })
      .prefault({})
      .refine((g) => g.maxMinutes >= g.minMinutes, { message: 'gaps.maxMinutes must be >= gaps.minMinutes' }),
    /** Price levels per side of the order book model (book.ts): REST depth never returns more. */
    bookLevels: z.number().int().min(1).max(5000).default(100),
    /** The data.binance.vision archive (archive.ts): faults, futures header dates, cache. */
    archive: ArchiveConfig,
    /** The WebSocket market-stream server (ws/): limits, heartbeat and periodic faults. */
    ws: WsSimConfig,
  })
  .transform((c, ctx) => {
    const specs: SymbolSpec[] = [];
    for (const [i, input] of c.symbols.entries()) {
      const spec = resolveSymbol(input);
      const parsed = SymbolSpec.safeParse(spec);
      if (!parsed.success) {
        for (const issue of parsed.error.issues)
          ctx.addIssue({
            code: 'custom',
            path: ['symbols', i, ...issue.path.map(String)],
            message: issue.message,
          });
        continue;
      }
      if (specs.some((s) => s.symbol === parsed.data.symbol && s.market === parsed.data.market))
        ctx.addIssue({
          code: 'custom',
          path: ['symbols', i],
          message: `duplicate symbol ${parsed.data.symbol}`,
        });
      specs.push(parsed.data);
    }
    return {
      ...c,
      symbols: specs,
      futuresWeightLimit: c.futuresWeightLimit ?? c.weightLimit,
      banMs: c.banMs ?? 2 * c.weightWindowMs,
    };
  });
export type ExchangeConfigInput = z.input<typeof ExchangeConfig>;
export type ExchangeConfig = z.output<typeof ExchangeConfig>;

function resolveSymbol(input: z.infer<typeof SymbolInput>): unknown {
  if (typeof input === 'string') {
    const [market, symbol] = input.includes(':') ? input.split(':', 2) : ['spot', input];
    return resolveSymbol({ symbol: symbol ?? '', market: market === 'usdm' ? 'usdm' : (market as 'spot') });
  }
  const base = profileFor(input.market, input.symbol);
  return { ...base, ...input };
}
