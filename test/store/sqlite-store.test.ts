import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DependencyError, InvalidInputError } from '../../shared/runtime/errors.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { freshName, kline, storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'sf-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Every store the contract opens shares one real file, as functions in one process would.
storeContract('sqlite (file)', () => createSqliteStore({ path: join(dir, 'contract.sqlite') }));

describe('sqlite store', () => {
  const series = 'spot:BTCUSDT:klines_1m';

  it('keeps records, documents and ranges across close and reopen', async () => {
    const path = join(dir, 'durable', 'nested', 'store.sqlite'); // parent dirs are created
    const first = createSqliteStore({ path });
    const records = [0, 1, 2].map((i) => kline(series, 1_700_000_040_000 + i * 60_000));
    await first.upsertRecords('klines', records);
    await first.putDoc('workflows', 'wf-1', { status: 'started' });
    await first.mergeRanges('coverage', series, [{ from: 0, to: 10 }]);
    await first.close();

    const second = createSqliteStore({ path });
    expect(await second.rangeQuery('klines', { series, limit: 10 })).toEqual(records);
    expect(await second.getDoc('workflows', 'wf-1')).toEqual({ doc: { status: 'started' }, rev: 1 });
    expect(await second.getRanges('coverage', series)).toEqual([{ from: 0, to: 10 }]);
    expect(await second.upsertRecords('klines', records)).toEqual({ inserted: 0, updated: 0, unchanged: 3 });
    await second.close();
  });

  it('answers DependencyError while another connection holds the write lock, and recovers', async () => {
    const path = join(dir, 'locked.sqlite');
    const store = createSqliteStore({ path, busyTimeoutMs: 50 });
    const c = freshName();
    await store.upsertRecords(c, [kline(series, 0)]);
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      await expect(store.upsertRecords(c, [kline(series, 60_000)])).rejects.toBeInstanceOf(DependencyError);
      await expect(store.mergeRanges('coverage', series, [{ from: 0, to: 1 }])).rejects.toBeInstanceOf(
        DependencyError,
      );
      expect(await store.count(c)).toBe(1); // WAL: readers are not blocked by the writer
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(await store.upsertRecords(c, [kline(series, 60_000)])).toEqual({
      inserted: 1,
      updated: 0,
      unchanged: 0,
    });
    await store.close();
  });

  it('throws DependencyError when the file cannot be opened', () => {
    expect(() => createSqliteStore({ path: dir })).toThrow(DependencyError); // a directory
  });

  it('keeps a collection to one kind', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    await store.upsertRecords('klines', [kline(series, 0)]);
    await expect(store.putDoc('klines', 'k', {})).rejects.toBeInstanceOf(InvalidInputError);
    await store.close();
    // Also across processes: the table's shape tells its kind.
    const path = join(dir, 'kinds.sqlite');
    const a = createSqliteStore({ path });
    await a.ensureCollection('workflows', 'documents');
    await a.close();
    const b = createSqliteStore({ path });
    await expect(b.upsertRecords('workflows', [kline(series, 0)])).rejects.toBeInstanceOf(InvalidInputError);
    await b.close();
  });
});
