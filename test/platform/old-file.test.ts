/**
 * `npm start` on a data file an earlier version wrote (one JSON document per record): the
 * platform migrates it to the typed tables at start and serves the old candles; a file whose
 * table holds something else is refused at start with the file named — never silently ignored.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { PlatformConfig } from '../../functions/platform/config.ts';
import { startPlatform } from '../../functions/platform/platform.ts';
import { loadConfig } from '../../shared/runtime/config.ts';

const logger = pino({ level: 'silent' });
const T0 = Date.UTC(2024, 0, 1);

let dir = '';
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** A file of the old layout: `market_klines(_key, series, time, doc)` with JSON documents. */
function oldFile(file: string, docs: { key: string; series: string; time: number; doc: unknown }[]): void {
  const db = new Database(file);
  db.exec(
    'CREATE TABLE "market_klines" (_key TEXT PRIMARY KEY, series TEXT NOT NULL, time INTEGER NOT NULL, doc TEXT NOT NULL);' +
      'CREATE INDEX "market_klines_series_time" ON "market_klines" (series, time, _key);',
  );
  const put = db.prepare('INSERT INTO "market_klines" VALUES (?, ?, ?, ?)');
  for (const d of docs) put.run(d.key, d.series, d.time, JSON.stringify(d.doc));
  db.close();
}

const kline = (i: number) => {
  const open_time = T0 + i * 60_000;
  return {
    key: `spot:BTCUSDT:1m:${open_time}`,
    series: 'spot:BTCUSDT:klines_1m',
    time: open_time,
    doc: {
      market: 'spot',
      symbol: 'BTCUSDT',
      interval: '1m',
      open_time,
      open: '42000.00000000',
      high: '42010.00000000',
      low: '41990.00000000',
      close: `${42000 + i}.50000000`,
      volume: '12.50000000',
      close_time: open_time + 59_999,
      quote_volume: '525000.00000000',
      trades: 321,
      taker_buy_base: '6.25000000',
      taker_buy_quote: '262500.00000000',
      ignore: '0',
    },
  };
};

const config = (file: string) =>
  loadConfig(PlatformConfig, {
    PORT: '0',
    SQLITE_PATH: file,
    LOG_LEVEL: 'silent',
    SHUTDOWN_GRACE_MS: '1000',
  });

describe('a data file of the earlier layout', () => {
  it('is migrated at start: every old candle is served again, exactly', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'sf-old-file-'));
    const file = path.join(dir, 'old.sqlite');
    const docs = Array.from({ length: 150 }, (_, i) => kline(i));
    oldFile(file, docs);
    const platform = await startPlatform({ cfg: config(file), logger, host: '127.0.0.1' });
    try {
      const page = (await (
        await fetch(
          `${platform.url}/series/spot/BTCUSDT/klines_1m/records?from=${new Date(T0).toISOString()}&limit=1000`,
        )
      ).json()) as { items: unknown[] };
      expect(page.items).toEqual(docs.map((d) => d.doc));
    } finally {
      await platform.close();
    }
  });

  it('is refused at start, naming the file, when its table holds something else', async () => {
    dir ||= await mkdtemp(path.join(tmpdir(), 'sf-old-file-'));
    const file = path.join(dir, 'foreign.sqlite');
    oldFile(file, [{ key: 'x:1', series: 'spot:BTCUSDT:klines_1m', time: T0, doc: { hello: 'world' } }]);
    await expect(startPlatform({ cfg: config(file), logger, host: '127.0.0.1' })).rejects.toThrow(file);
    // The old data is still there, untouched.
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM "market_klines"').pluck().get()).toBe(1);
    db.close();
  });
});
