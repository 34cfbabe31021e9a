/**
 * The embedded platform of `npm start`, for tests: a temporary SQLite file, port 0, silent logs,
 * the simulated exchange with its preset symbols plus, when asked, a busy one (~100 aggTrades/s,
 * so a live workflow's short window is never empty). `close()` stops it and removes the files.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { DEFAULT_SYMBOLS } from '../../functions/dummy-service/exchange/config.ts';
import { PlatformConfig } from '../../functions/platform/config.ts';
import { startPlatform, type Platform } from '../../functions/platform/platform.ts';
import { loadConfig } from '../../shared/runtime/config.ts';

export interface TestPlatform {
  platform: Platform;
  dir: string;
  close(): Promise<void>;
}

export async function startTestPlatform(
  prefix: string,
  o: { busySymbol?: string; env?: Record<string, string> } = {},
): Promise<TestPlatform> {
  const dir = await mkdtemp(path.join(tmpdir(), `sf-${prefix}-`));
  const cfg = loadConfig(PlatformConfig, {
    PORT: '0',
    SQLITE_PATH: path.join(dir, 'streamforge.sqlite'),
    LOG_LEVEL: 'silent',
    SHUTDOWN_GRACE_MS: '2000',
    ...o.env,
  });
  const platform = await startPlatform({
    cfg,
    logger: pino({ level: 'silent' }),
    host: '127.0.0.1',
    ...(o.busySymbol === undefined
      ? {}
      : {
          simulator: {
            symbols: [...DEFAULT_SYMBOLS, { symbol: o.busySymbol, market: 'spot', tradesPerMinute: 6000 }],
          },
        }),
  });
  return {
    platform,
    dir,
    async close() {
      await platform.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
