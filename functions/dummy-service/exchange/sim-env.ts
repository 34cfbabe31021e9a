/**
 * The simulator's environment (read by sim-main.ts only) → ExchangeConfig. Field checks run
 * first, so every problem is reported at once (style.md "Configuration").
 */
import { z } from 'zod';
import type { Market } from '../../../shared/contracts/common.ts';
import { env } from '../../../shared/runtime/config.ts';
import { ArchiveFaultLists } from './archive-config.ts';
import {
  DEFAULT_SYMBOLS,
  ExchangeConfig,
  type ExchangeConfigInput,
  type GapWindow,
  type SymbolInput,
} from './config.ts';

/** "2024-03-01T02:00:00Z" or epoch ms. */
function parseInstant(s: string): number | undefined {
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  return Number.isFinite(n) ? n : undefined;
}

/** `SIM_GAPS`: comma list of `none`, a number (random windows per year), `[market:]SYMBOL|*=FROM/TO`. */
function parseGaps(
  text: string,
  ctx: z.RefinementCtx,
): { perYear?: number; windows: Array<z.input<typeof GapWindow>> } {
  const out: { perYear?: number; windows: Array<z.input<typeof GapWindow>> } = { windows: [] };
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    if (item === 'none') out.perYear = 0;
    else if (/^\d+(\.\d+)?$/.test(item)) out.perYear = Number(item);
    else {
      const m = /^(?:(spot|usdm):)?([A-Z0-9]+|\*)=([^/]+)\/(.+)$/.exec(item);
      const from = m?.[3] === undefined ? undefined : parseInstant(m[3]);
      const to = m?.[4] === undefined ? undefined : parseInstant(m[4]);
      if (!m || from === undefined || to === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `cannot read gap "${item}" (e.g. spot:BTCUSDT=2024-03-01T02:00Z/2024-03-01T05:00Z)`,
        });
        continue;
      }
      out.windows.push({
        from,
        to,
        ...(m[1] ? { market: m[1] as Market } : {}),
        ...(m[2] !== '*' ? { symbol: m[2] } : {}),
      });
    }
  }
  return out;
}

/** `SIM_ARCHIVE_HEADER_FROM`: `klines=2022-05-01,trades=2022-08-11,aggTrades=2022-08-11` (any subset). */
function parseHeaderFrom(text: string, ctx: z.RefinementCtx): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^(klines|trades|aggTrades)=(\d{4}-\d{2}-\d{2})$/.exec(item);
    if (m) out[m[1]!] = m[2]!;
    else
      ctx.addIssue({
        code: 'custom',
        message: `cannot read "${item}" (e.g. klines=2022-05-01,trades=2022-08-11)`,
      });
  }
  return out;
}

const rate = () => z.coerce.number().min(0).max(1).default(0);
const count = (def: number) => z.coerce.number().int().nonnegative().default(def);
const optMs = () => z.coerce.number().int().positive().optional();

/**
 * `SIM_SYMBOLS` items are `[market:]SYMBOL[=tradesPerMinute]` (e.g. `usdm:BTCUSDT=30000`);
 * `SIM_TRADES_PER_MINUTE` sets the rate of the items without one.
 */
function symbolInputs(items: string[], tpm: number | undefined, ctx: z.RefinementCtx): SymbolInput[] {
  return items.map((item) => {
    const m = /^(?:(spot|usdm):)?([^=:]+)(?:=(.*))?$/.exec(item);
    const perMinute = m?.[3] === undefined ? tpm : Number(m[3]);
    if (!m || (m[3] !== undefined && !(Number(m[3]) > 0))) {
      ctx.addIssue({
        code: 'custom',
        path: ['SIM_SYMBOLS'],
        message: `cannot read "${item}" (e.g. BTCUSDT, usdm:BTCUSDT or usdm:BTCUSDT=30000)`,
      });
      return item;
    }
    if (perMinute === undefined) return item;
    return { symbol: m[2]!, market: (m[1] ?? 'spot') as Market, tradesPerMinute: perMinute };
  });
}

/** Environment of sim-main.ts → { port, logLevel, exchange }; field checks first, so every problem shows at once. */
export const SimEnv = z
  .object({
    PORT: env.port(8090),
    LOG_LEVEL: env.logLevel(),
    SIM_SEED: env.int(1),
    SIM_SYMBOLS: env.list(DEFAULT_SYMBOLS),
    SIM_WEIGHT_LIMIT: count(6000),
    SIM_FUTURES_WEIGHT_LIMIT: z.coerce.number().int().nonnegative().optional(),
    SIM_WEIGHT_WINDOW_MS: z.coerce.number().int().positive().default(60_000),
    SIM_BAN_MS: z.coerce.number().int().positive().optional(),
    SIM_BAN_AFTER: z.coerce.number().int().positive().default(3),
    SIM_FAULT_5XX_RATE: rate(),
    /** "fixed" or "fixed+jitter" in ms. */
    SIM_FAULT_LATENCY_MS: z
      .string()
      .regex(/^\d+(\+\d+)?$/, 'expected "fixed" or "fixed+jitter" in ms')
      .default('0')
      .transform((v) => v.split('+').map(Number)),
    SIM_FAULT_MALFORMED_RATE: rate(),
    SIM_FAULT_RESET_RATE: rate(),
    SIM_GAPS: z.string().default('2').transform(parseGaps),
    /** Archive faults (archive-config.ts): `[market:]SYMBOL:YYYY-MM-DD`, `[market:]SYMBOL:YYYY-MM`, `[market:]<file>.zip`. */
    SIM_ARCHIVE_MISSING_DAILY: env.list().pipe(ArchiveFaultLists.missingDaily),
    SIM_ARCHIVE_UNPUBLISHED_MONTHLY: env.list().pipe(ArchiveFaultLists.unpublishedMonthly),
    SIM_ARCHIVE_BAD_CHECKSUM: env.list().pipe(ArchiveFaultLists.badChecksum),
    /** Archive download speed per response; 0 = unthrottled. */
    SIM_ARCHIVE_BYTES_PER_SECOND: count(0),
    SIM_ARCHIVE_ZIP_LEVEL: z.coerce.number().int().min(0).max(9).default(6),
    SIM_ARCHIVE_HEADER_FROM: z.string().default('').transform(parseHeaderFrom),
    /** Aggregated trades per minute of every SIM_SYMBOLS item without its own `=rate`. */
    SIM_TRADES_PER_MINUTE: z.coerce.number().positive().optional(),
    /** Order book levels per side (book.ts). */
    SIM_BOOK_LEVELS: z.coerce.number().int().min(1).max(5000).default(100),
    /** WebSocket server (ws/config.ts): unset = Binance's values per market. */
    SIM_WS_PING_INTERVAL_MS: optMs(),
    SIM_WS_PONG_TIMEOUT_MS: optMs(),
    SIM_WS_MAX_CONNECTION_MS: optMs(),
    SIM_WS_CONNECT_LIMIT: z.coerce.number().int().positive().default(300),
    SIM_WS_DISCONNECT_EVERY_MS: count(0),
    SIM_WS_STALL_EVERY_MS: count(0),
    SIM_WS_STALL_MS: count(2000),
    SIM_WS_DROP_RATE: rate(),
    SIM_WS_DEPTH_BREAK_EVERY_MS: count(0),
  })
  .transform((e, ctx) => {
    const [fixed, jitter] = e.SIM_FAULT_LATENCY_MS;
    const heartbeat = {
      ...(e.SIM_WS_PING_INTERVAL_MS !== undefined ? { pingIntervalMs: e.SIM_WS_PING_INTERVAL_MS } : {}),
      ...(e.SIM_WS_PONG_TIMEOUT_MS !== undefined ? { pongTimeoutMs: e.SIM_WS_PONG_TIMEOUT_MS } : {}),
    };
    const input: ExchangeConfigInput = {
      seed: e.SIM_SEED,
      symbols: symbolInputs(e.SIM_SYMBOLS, e.SIM_TRADES_PER_MINUTE, ctx),
      bookLevels: e.SIM_BOOK_LEVELS,
      weightLimit: e.SIM_WEIGHT_LIMIT,
      weightWindowMs: e.SIM_WEIGHT_WINDOW_MS,
      banAfter: e.SIM_BAN_AFTER,
      ...(e.SIM_FUTURES_WEIGHT_LIMIT !== undefined ? { futuresWeightLimit: e.SIM_FUTURES_WEIGHT_LIMIT } : {}),
      ...(e.SIM_BAN_MS !== undefined ? { banMs: e.SIM_BAN_MS } : {}),
      faults: {
        rate5xx: e.SIM_FAULT_5XX_RATE,
        latencyMs: fixed ?? 0,
        latencyJitterMs: jitter ?? 0,
        malformedRate: e.SIM_FAULT_MALFORMED_RATE,
        resetRate: e.SIM_FAULT_RESET_RATE,
      },
      gaps: {
        windows: e.SIM_GAPS.windows,
        ...(e.SIM_GAPS.perYear !== undefined ? { perYear: e.SIM_GAPS.perYear } : {}),
      },
      archive: {
        missingDaily: e.SIM_ARCHIVE_MISSING_DAILY,
        unpublishedMonthly: e.SIM_ARCHIVE_UNPUBLISHED_MONTHLY,
        badChecksum: e.SIM_ARCHIVE_BAD_CHECKSUM,
        bytesPerSecond: e.SIM_ARCHIVE_BYTES_PER_SECOND,
        zipLevel: e.SIM_ARCHIVE_ZIP_LEVEL,
        headerFrom: e.SIM_ARCHIVE_HEADER_FROM,
      },
      ws: {
        spot: heartbeat,
        usdm: heartbeat,
        connectLimit: e.SIM_WS_CONNECT_LIMIT,
        ...(e.SIM_WS_MAX_CONNECTION_MS !== undefined ? { maxConnectionMs: e.SIM_WS_MAX_CONNECTION_MS } : {}),
        disconnectEveryMs: e.SIM_WS_DISCONNECT_EVERY_MS,
        stallEveryMs: e.SIM_WS_STALL_EVERY_MS,
        stallMs: e.SIM_WS_STALL_MS,
        dropRate: e.SIM_WS_DROP_RATE,
        depthBreakEveryMs: e.SIM_WS_DEPTH_BREAK_EVERY_MS,
      },
    };
    const parsed = ExchangeConfig.safeParse(input);
    if (!parsed.success) {
      const envName: Record<string, string> = {
        symbols: 'SIM_SYMBOLS',
        gaps: 'SIM_GAPS',
        'archive.missingDaily': 'SIM_ARCHIVE_MISSING_DAILY',
        'archive.unpublishedMonthly': 'SIM_ARCHIVE_UNPUBLISHED_MONTHLY',
        'archive.badChecksum': 'SIM_ARCHIVE_BAD_CHECKSUM',
        'archive.headerFrom': 'SIM_ARCHIVE_HEADER_FROM',
        bookLevels: 'SIM_BOOK_LEVELS',
        ws: 'SIM_WS_*',
      };
      for (const issue of parsed.error.issues) {
        const path = issue.path.map(String);
        // archive.<field> is one variable; other fields are named by their first segment.
        const [head, ...rest] = path[0] === 'archive' ? [`archive.${path[1]}`, ...path.slice(2)] : path;
        ctx.addIssue({
          code: 'custom',
          path: [envName[head ?? ''] ?? head ?? '(env)', ...rest],
          message: issue.message,
        });
      }
      return z.NEVER;
    }
    return { port: e.PORT, logLevel: e.LOG_LEVEL, exchange: parsed.data };
  });
export type SimEnv = z.output<typeof SimEnv>;
