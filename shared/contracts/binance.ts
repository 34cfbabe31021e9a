/**
 * Raw Binance payloads as they arrive on the wire (binance.md §2, §4, §6). Parsed once at the
 * exchange edge, then normalised into shared/contracts/records.ts.
 */
import { z } from 'zod';
import { DECIMAL_PATTERN, Decimal, EpochMs } from './common.ts';

/** REST kline row: 12 positional fields; only 0, 6 and 8 are numbers. */
export const RawKline = z.tuple([
  EpochMs, // open time
  Decimal, // open
  Decimal, // high
  Decimal, // low
  Decimal, // close
  Decimal, // volume
  EpochMs, // close time
  Decimal, // quote asset volume
  z.number().int().nonnegative(), // number of trades
  Decimal, // taker buy base volume
  Decimal, // taker buy quote volume
  z.string(), // ignore ("0")
]);
export type RawKline = z.infer<typeof RawKline>;

const isEpochMs = (v: unknown): boolean => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isDecimal = (v: unknown): boolean => typeof v === 'string' && DECIMAL_PATTERN.test(v);

/**
 * Plain-code twin of {@link RawKline}: true for exactly the values the tuple schema accepts
 * (test/exchange/raw-klines.test.ts holds the two to that, field by field).
 */
export function isRawKline(v: unknown): v is RawKline {
  return (
    Array.isArray(v) &&
    v.length === 12 &&
    isEpochMs(v[0]) &&
    isDecimal(v[1]) &&
    isDecimal(v[2]) &&
    isDecimal(v[3]) &&
    isDecimal(v[4]) &&
    isDecimal(v[5]) &&
    isEpochMs(v[6]) &&
    isDecimal(v[7]) &&
    isEpochMs(v[8]) &&
    isDecimal(v[9]) &&
    isDecimal(v[10]) &&
    typeof v[11] === 'string'
  );
}

const RawKlineArray = z.array(RawKline);

/**
 * A klines answer, `z.array(RawKline)` by contract. A page of 1000 rows is 12 000 fields; zod's
 * per-field dispatch and the copy it returns cost about five times a plain check of the same
 * rules, so every row goes through {@link isRawKline} first and a page that passes is returned as
 * it came (no copy). A page that fails is parsed by the tuple schema itself, so it fails with
 * zod's own issues (path, code, message), exactly as `z.array(RawKline)` would.
 */
export const RawKlines = z.unknown().transform((v, ctx): RawKline[] => {
  if (Array.isArray(v) && v.every(isRawKline)) return v;
  const parsed = RawKlineArray.safeParse(v);
  if (parsed.success) return parsed.data;
  // `input` is reported only on request (reportInput), which the exchange client never makes.
  for (const issue of parsed.error.issues) ctx.issues.push({ ...issue, input: undefined });
  return z.NEVER;
});

export const RawAggTrade = z.object({
  a: z.number().int().nonnegative(),
  p: Decimal,
  q: Decimal,
  f: z.number().int(),
  l: z.number().int(),
  T: EpochMs,
  m: z.boolean(),
  /** Spot only; USD-M aggTrades have no `M`. */
  M: z.boolean().optional(),
});
export type RawAggTrade = z.infer<typeof RawAggTrade>;

export const RawTrade = z.object({
  id: z.number().int().nonnegative(),
  price: Decimal,
  qty: Decimal,
  quoteQty: Decimal,
  time: EpochMs,
  isBuyerMaker: z.boolean(),
  /** Spot only. */
  isBestMatch: z.boolean().optional(),
});
export type RawTrade = z.infer<typeof RawTrade>;

const Level = z.tuple([Decimal, Decimal]);

export const RawDepth = z.object({
  lastUpdateId: z.number().int().nonnegative(),
  /** USD-M only. */
  E: EpochMs.optional(),
  /** USD-M only. */
  T: EpochMs.optional(),
  bids: z.array(Level),
  asks: z.array(Level),
});
export type RawDepth = z.infer<typeof RawDepth>;

export const RawFundingRate = z.object({
  symbol: z.string(),
  fundingRate: Decimal,
  fundingTime: EpochMs,
  /** Older captures lack it. */
  markPrice: z.union([Decimal, z.literal('')]).optional(),
});
export type RawFundingRate = z.infer<typeof RawFundingRate>;

/** Error body, e.g. `{"code":-1121,"msg":"Invalid symbol."}`. */
export const BinanceErrorBody = z.object({ code: z.number().int(), msg: z.string() });
export type BinanceErrorBody = z.infer<typeof BinanceErrorBody>;

// --- WebSocket events (binance.md §4) ---

export const WsKlineEvent = z.object({
  e: z.literal('kline'),
  E: EpochMs,
  s: z.string(),
  k: z.object({
    t: EpochMs,
    T: EpochMs,
    s: z.string(),
    i: z.string(),
    f: z.number().int(),
    L: z.number().int(),
    o: Decimal,
    c: Decimal,
    h: Decimal,
    l: Decimal,
    v: Decimal,
    n: z.number().int().nonnegative(),
    x: z.boolean(),
    q: Decimal,
    V: Decimal,
    Q: Decimal,
    B: z.string(),
  }),
});

export const WsTradeEvent = z.object({
  e: z.literal('trade'),
  E: EpochMs,
  s: z.string(),
  t: z.number().int(),
  p: Decimal,
  q: Decimal,
  T: EpochMs,
  m: z.boolean(),
  M: z.boolean().optional(),
});

export const WsAggTradeEvent = z.object({
  e: z.literal('aggTrade'),
  E: EpochMs,
  s: z.string(),
  a: z.number().int(),
  p: Decimal,
  q: Decimal,
  f: z.number().int(),
  l: z.number().int(),
  T: EpochMs,
  m: z.boolean(),
  M: z.boolean().optional(),
});

export const WsDepthUpdateEvent = z.object({
  e: z.literal('depthUpdate'),
  E: EpochMs,
  /** USD-M only. */
  T: EpochMs.optional(),
  s: z.string(),
  U: z.number().int(),
  u: z.number().int(),
  /** USD-M only: the previous event's `u`. */
  pu: z.number().int().optional(),
  b: z.array(Level),
  a: z.array(Level),
});

/** Spot bookTicker has no `e`/`E`; USD-M adds `e`, `E`, `T`. */
export const WsBookTickerEvent = z.object({
  e: z.literal('bookTicker').optional(),
  E: EpochMs.optional(),
  T: EpochMs.optional(),
  u: z.number().int(),
  s: z.string(),
  b: Decimal,
  B: Decimal,
  a: Decimal,
  A: Decimal,
});

/** Combined-stream frame `{"stream": "...", "data": {...}}`. */
export const WsCombinedFrame = z.object({ stream: z.string(), data: z.unknown() });
