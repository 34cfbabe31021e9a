/**
 * A synthetic market with a known graph (issue 14): asset returns follow other assets' previous
 * returns by a known rule, plus a common market factor and idiosyncratic noise —
 *
 *   r[i][k] = beta_i · m[k] + Σ_{(j→i, lag, coef)} coef · r[j][k − lag] + σ · ε[i][k]
 *
 * so the graph-builder has edges to recover and a graph model has something real to learn, and
 * with `edges: []` nothing to find (the honesty check). Deterministic in `seed` (mulberry32 and
 * Box–Muller; no Math.random). Klines are exact decimal strings, as the loaders store them.
 */
import { intervalMs, type KlineInterval, type Market } from '../../shared/contracts/common.ts';
import { mulberry32 } from '../../shared/analytics/gnn/random.ts';

type FixedInterval = Exclude<KlineInterval, '1M'>;
import type { Kline } from '../../shared/contracts/records.ts';

export interface TrueEdge {
  source: string;
  target: string;
  /** Bars between the leader's return and the follower's. */
  lag: number;
  coef: number;
}

export interface SyntheticMarketOptions {
  /** Names, or how many (`S00USDT`, `S01USDT`, …). */
  symbols: number | readonly string[];
  bars: number;
  interval?: FixedInterval;
  market?: Market;
  /** Open time of the first bar (epoch ms, aligned to the interval). */
  start?: number;
  seed?: number;
  /** The known graph; default `leaderEdges(symbols)` (every third asset leads the next two). */
  edges?: readonly TrueEdge[];
  /** Std-dev of the common factor and of the idiosyncratic noise, per bar. */
  factorSigma?: number;
  noiseSigma?: number;
  /** Share of bars left out at random (missing candles), per symbol. */
  missingRate?: number;
}

export interface SyntheticMarket {
  symbols: string[];
  interval: FixedInterval;
  market: Market;
  start: number;
  /** The truth: every edge of the generating rule. */
  edges: TrueEdge[];
  /** r[i][k]: the log return of bar k (k = 0 is 0: the first close is the first price). */
  returns: number[][];
  /** Per symbol, its klines (bars dropped by `missingRate` are absent). */
  klines: Kline[][];
}

/** The same seeded PRNG as the GNN module's (mulberry32, shared/analytics/gnn/random.ts). */
export const prng = mulberry32;

export function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), Number.EPSILON);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

export const syntheticSymbols = (n: number): string[] =>
  Array.from({ length: n }, (_, i) => `S${String(i).padStart(2, '0')}USDT`);

/** Default graph: assets 0, 3, 6, … lead the next two by one bar (0.45 and −0.35). */
export function leaderEdges(symbols: readonly string[]): TrueEdge[] {
  const edges: TrueEdge[] = [];
  for (let i = 0; i + 2 < symbols.length; i += 3) {
    edges.push({ source: symbols[i]!, target: symbols[i + 1]!, lag: 1, coef: 0.45 });
    edges.push({ source: symbols[i]!, target: symbols[i + 2]!, lag: 1, coef: -0.35 });
  }
  return edges;
}

const fixed = (v: number, d: number): string => v.toFixed(d);

export function syntheticMarket(o: SyntheticMarketOptions): SyntheticMarket {
  const symbols = typeof o.symbols === 'number' ? syntheticSymbols(o.symbols) : [...o.symbols];
  const interval = o.interval ?? '1h';
  const market = o.market ?? 'spot';
  const step = intervalMs(interval);
  const start = o.start ?? Date.UTC(2023, 0, 1);
  const edges = [...(o.edges ?? leaderEdges(symbols))];
  const factorSigma = o.factorSigma ?? 0.004;
  const noiseSigma = o.noiseSigma ?? 0.006;
  const rand = prng(o.seed ?? 1);
  const normal = gaussian(rand);
  const index = new Map(symbols.map((s, i) => [s, i]));
  const incoming = symbols.map(() => [] as { j: number; lag: number; coef: number }[]);
  for (const e of edges) {
    const i = index.get(e.target);
    const j = index.get(e.source);
    if (i === undefined || j === undefined) throw new Error(`edge ${e.source}→${e.target}: unknown symbol`);
    incoming[i]!.push({ j, lag: e.lag, coef: e.coef });
  }
  const beta = symbols.map(() => 0.6 + 0.8 * rand());
  const returns = symbols.map(() => new Array<number>(o.bars).fill(0));
  for (let k = 1; k < o.bars; k++) {
    const m = factorSigma * normal();
    for (let i = 0; i < symbols.length; i++) {
      let r = beta[i]! * m + noiseSigma * normal();
      for (const e of incoming[i]!) if (k - e.lag >= 1) r += e.coef * returns[e.j]![k - e.lag]!;
      returns[i]![k] = r;
    }
  }
  const missingRate = o.missingRate ?? 0;
  const klines = symbols.map((symbol, i) => {
    const out: Kline[] = [];
    let price = 100 * (1 + i);
    for (let k = 0; k < o.bars; k++) {
      const open = price;
      price = price * Math.exp(returns[i]![k]!);
      // Decimals are rounded to 8 places; returns are recomputed from these strings by the
      // builder, so they carry rounding of ~1e-10 relative: far below the signal.
      const skip = missingRate > 0 && rand() < missingRate;
      if (skip) continue;
      const volume = 10 + 5 * rand();
      const openTime = start + k * step;
      out.push({
        market,
        symbol,
        interval,
        open_time: openTime,
        open: fixed(open, 8),
        high: fixed(Math.max(open, price) * 1.001, 8),
        low: fixed(Math.min(open, price) * 0.999, 8),
        close: fixed(price, 8),
        volume: fixed(volume, 8),
        close_time: openTime + step - 1,
        quote_volume: fixed(volume * price, 8),
        trades: 100,
        taker_buy_base: fixed(volume / 2, 8),
        taker_buy_quote: fixed((volume * price) / 2, 8),
        ignore: '0',
      });
    }
    return out;
  });
  return { symbols, interval, market, start, edges, returns, klines };
}
