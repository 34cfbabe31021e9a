import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { DependencyError, InvalidInputError } from '../../shared/runtime/errors.ts';
import { createSqliteStore, type SqliteStoreOptions } from '../../shared/store/sqlite-store.ts';
import { createSqliteWorkerStore } from '../../shared/store/sqlite-worker-store.ts';
import type { SeriesRecord, Store } from '../../shared/store/store.ts';
import { freshName, kline, storeContract } from './contract.ts';

const dir = mkdtempSync(join(tmpdir(), 'sf-sqlite-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const series = 'spot:BTCUSDT:klines_1m';
const T0 = 1_700_000_040_000;

// Both SQLite adapters: the connection on the calling thread, or on a worker thread.
const adapters: [string, (opts: SqliteStoreOptions) => Store][] = [
  ['direct', createSqliteStore],
  ['worker thread', createSqliteWorkerStore],
];

for (const [name, open] of adapters) {
  // Every store the contract opens shares one real file, as functions in one process would.
  storeContract(`sqlite (file, ${name})`, () => open({ path: join(dir, `contract-${name}.sqlite`) }));

  describe(`sqlite store (${name})`, () => {
    it('keeps records, documents and ranges across close and reopen', async () => {
      const path = join(dir, name, 'durable', 'nested', 'store.sqlite'); // parent dirs are created
      const first = open({ path });
      const records = [0, 1, 2].map((i) => kline(series, T0 + i * 60_000));
      await first.upsertRecords('klines', records);
      await first.putDoc('workflows', 'wf-1', { status: 'started' });
      await first.mergeRanges('coverage', series, [{ from: 0, to: 10 }]);
      await first.close();

      const second = open({ path });
      expect(await second.rangeQuery('klines', { series, limit: 10 })).toEqual(records);
      expect(await second.getDoc('workflows', 'wf-1')).toEqual({ doc: { status: 'started' }, rev: 1 });
      expect(await second.getRanges('coverage', series)).toEqual([{ from: 0, to: 10 }]);
      expect(await second.upsertRecords('klines', records)).toEqual({
        inserted: 0,
        updated: 0,
        unchanged: 3,
      });
      await second.close();
    });

    it('counts large batches exactly: new, changed, identical and repeated keys mixed', async () => {
      // Past the adapter's multi-row statements (64 rows), with a remainder, and mixed inside them.
      const store = open({ path: join(dir, `large-${name}.sqlite`) });
      const c = freshName();
      const at = (i: number, close = '1.00000000'): SeriesRecord => kline(series, T0 + i * 60_000, close);
      const first = Array.from({ length: 150 }, (_, i) => at(i));
      expect(await store.upsertRecords(c, first)).toEqual({ inserted: 150, updated: 0, unchanged: 0 });
      expect(await store.upsertRecords(c, structuredClone(first))).toEqual({
        inserted: 0,
        updated: 0,
        unchanged: 150,
      });
      // Every third existing record changed, 100 new ones interleaved, and 7 keys given twice
      // (the last copy wins; the first counts as unchanged).
      const mixed: SeriesRecord[] = [];
      for (let i = 0; i < 250; i++) mixed.push(at(i, i % 3 === 0 ? '2.00000000' : '1.00000000'));
      for (let i = 0; i < 7; i++) mixed.splice(i * 30, 0, at(200 + i, '9.00000000'));
      const changed = first.filter((_, i) => i % 3 === 0).length;
      expect(await store.upsertRecords(c, mixed)).toEqual({
        inserted: 100,
        updated: changed,
        unchanged: mixed.length - 100 - changed,
      });
      expect(await store.count(c)).toBe(250);
      expect((await store.getRecord(c, at(3).key))?.['close']).toBe('2.00000000');
      expect((await store.getRecord(c, at(4).key))?.['close']).toBe('1.00000000');
      expect((await store.getRecord(c, at(203).key))?.['close']).toBe('1.00000000'); // later copy won
      const page = await store.rangeQuery(c, { series, from: T0 + 60 * 60_000, limit: 70 });
      expect(page.map((r) => r.time)).toEqual(Array.from({ length: 70 }, (_, i) => T0 + (60 + i) * 60_000));
      await store.close();
    });

    it('answers DependencyError while another connection holds the write lock, and recovers', async () => {
      const path = join(dir, `locked-${name}.sqlite`);
      const store = open({ path, busyTimeoutMs: 50 });
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
      expect(() => open({ path: dir })).toThrow(DependencyError); // a directory
    });

    it('keeps a collection to one kind, also across connections', async () => {
      const path = join(dir, `kinds-${name}.sqlite`);
      const a = open({ path });
      await a.upsertRecords('klines', [kline(series, 0)]);
      await expect(a.putDoc('klines', 'k', {})).rejects.toBeInstanceOf(InvalidInputError);
      await a.ensureCollection('workflows', 'documents');
      await a.close();
      // The table's shape tells its kind to another connection.
      const b = open({ path });
      await expect(b.upsertRecords('workflows', [kline(series, 0)])).rejects.toBeInstanceOf(
        InvalidInputError,
      );
      await b.close();
    });
  });
}

describe('sqlite store in memory', () => {
  it('keeps a collection to one kind', async () => {
    const store = createSqliteStore({ path: ':memory:' });
    await store.upsertRecords('klines', [kline(series, 0)]);
    await expect(store.putDoc('klines', 'k', {})).rejects.toBeInstanceOf(InvalidInputError);
    await store.close();
  });
});
