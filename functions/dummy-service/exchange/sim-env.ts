/**
 * The simulator's environment (read by sim-main.ts only) → ExchangeConfig. Field checks run
 * first, so every problem is reported at once (style.md "Configuration").
 */
import { z } from 'zod';
import type { Market } from '../../../shared/contracts/common.ts';
import { env } from '../../../shared/runtime/config.ts';
import { ArchiveFaultLists } from './archive-config.ts';
import { DEFAULT_SYMBOLS, ExchangeConfig, type ExchangeConfigInput, type GapWindow } from './config.ts';

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
  })
  .transform((e, ctx) => {
    const [fixed, jitter] = e.SIM_FAULT_LATENCY_MS;
    const input: ExchangeConfigInput = {
      seed: e.SIM_SEED,
      symbols: e.SIM_SYMBOLS,
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
