/**
 * What only the worker-thread SQLite adapter has: a thread that can die, and a close that waits
 * for it. The store contract and the SQLite cases run against it in sqlite-store.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { createSqliteWorkerStore } from '../../shared/store/sqlite-worker-store.ts';
import type { SeriesRecord } from '../../shared/store/store.ts';
import { packColumns, unpackColumns } from '../../shared/store/sqlite-worker-protocol.ts';
import { freshName, kline } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'sf-sqlite-worker-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const series = 'spot:BTCUSDT:klines_1m';
const T0 = 1_700_000_040_000;
const klines = (from: number, n: number): SeriesRecord[] =>
  Array.from({ length: n }, (_, i) => kline(series, T0 + (from + i) * 60_000));

describe('packColumns / unpackColumns', () => {
  it('carries every column across exactly, with several series and none', () => {
    const columns = {
      keys: ['a:1', 'b:2', 'a:3'],
      series: ['spot:A:klines_1m', 'spot:B:klines_1m', 'spot:A:klines_1m'],
      times: [1, 2, 3],
      json: ['{"x":"1\\n2"}', '{}', '{"y":[1,2]}'],
    };
    const packed = packColumns(columns);
    expect(packed.series).toEqual(['spot:A:klines_1m', 'spot:B:klines_1m']);
    expect(unpackColumns(structuredClone(packed))).toEqual(columns);
    expect(unpackColumns(packColumns({ keys: [], series: [], times: [], json: [] }))).toEqual({
      keys: [],
      series: [],
      times: [],
      json: [],
    });
  });
});

describe('sqlite worker store', () => {
  it('fails the calls a dead worker had not answered with 503, then starts a fresh one', async () => {
    // A worker that runs out of heap dies the way a crashed one does: the thread ends.
    const store = createSqliteWorkerStore({
      path: join(dir, 'crash.sqlite'),
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 4 },
    });
    const c = freshName();
    expect(await store.upsertRecords(c, klines(0, 3))).toMatchObject({ inserted: 3 });

    // Far more records than its 8 MB heap holds once the batch is unpacked into one string each.
    const huge = klines(10, 200_000);
    const calls = [store.upsertRecords(c, huge), store.count(c), store.getRecord(c, huge[0]!.key)];
    const settled = await Promise.allSettled(calls);
    for (const s of settled) {
      expect(s.status).toBe('rejected');
      const err = (s as PromiseRejectedResult).reason as DependencyError;
      expect(err).toBeInstanceOf(DependencyError);
      expect(err.status).toBe(503);
      expect(err.message).toMatch(/sqlite worker stopped/);
    }

    // The next calls go to a new worker; what was committed is there, the failed batch is not.
    expect(await store.count(c)).toBe(3);
    expect(await store.upsertRecords(c, klines(0, 5))).toEqual({ inserted: 2, updated: 0, unchanged: 3 });
    await store.close();
    await expect(store.count(c)).rejects.toBeInstanceOf(DependencyError);
  });

  it('answers the calls sent before close, then closes the database', async () => {
    const path = join(dir, 'drain.sqlite');
    const store = createSqliteWorkerStore({ path });
    const c = freshName();
    const writes = [0, 1, 2, 3, 4].map((i) => store.upsertRecords(c, klines(i * 100, 100)));
    const closed = store.close();
    await expect(store.upsertRecords(c, klines(900, 1))).rejects.toBeInstanceOf(DependencyError);
    expect((await Promise.all(writes)).map((r) => r.inserted)).toEqual([100, 100, 100, 100, 100]);
    await closed;
    const reader = createSqliteStore({ path });
    expect(await reader.count(c)).toBe(500);
    await reader.close();
  });

  it('loads under `node --import tsx` and does not keep an idle script alive', () => {
    // A script that never closes its store: it must still end once its work is done.
    const script = join(dir, 'idle.mts');
    const modUrl = pathToFileURL(join(process.cwd(), 'shared/store/sqlite-worker-store.ts')).href;
    writeFileSync(
      script,
      `import { createSqliteWorkerStore } from ${JSON.stringify(modUrl)};\n` +
        `const store = createSqliteWorkerStore({ path: ${JSON.stringify(join(dir, 'idle.sqlite'))} });\n` +
        `const r = await store.upsertRecords('klines', [{ key: 'k1', series: 's', time: 1, doc: { a: 1 } }]);\n` +
        `console.log(JSON.stringify(r));\n`,
    );
    const out = spawnSync(process.execPath, ['--import', 'tsx', script], {
      cwd: process.cwd(),
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(out.stderr).toBe('');
    expect(out.signal).toBeNull(); // not killed by the timeout
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ inserted: 1, updated: 0, unchanged: 0 });
  });

  it('refuses :memory:, which one worker would own and lose', () => {
    expect(() => createSqliteWorkerStore({ path: ':memory:' })).toThrow(/needs a file/);
  });
});
