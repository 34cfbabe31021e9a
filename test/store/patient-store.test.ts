/**
 * patientStore against a real SQLite file locked by another connection (as the fault suite's
 * "store unavailable" does, shorter), and its rules at a fake port.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { ConflictError, DependencyError } from '../../shared/runtime/errors.ts';
import { patientStore, withPatience } from '../../shared/store/patient-store.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'sf-patient-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Holds the file's write lock from another connection for `ms`. */
function lockFor(path: string, ms: number): Promise<void> {
  const other = new Database(path);
  other.exec('BEGIN EXCLUSIVE');
  return new Promise((resolve) =>
    setTimeout(() => {
      other.exec('COMMIT');
      other.close();
      resolve();
    }, ms),
  );
}

describe('patientStore over a locked SQLite file', () => {
  it('waits out a lock longer than busy_timeout and then writes', async () => {
    const path = join(dir, 'wait.sqlite');
    const raw = createSqliteStore({ path, busyTimeoutMs: 50 });
    await raw.putDoc('docs', 'a', { n: 1 });
    const waits: number[] = [];
    const store = patientStore(raw, {
      maxWaitMs: 5000,
      firstDelayMs: 20,
      onWait: (w) => waits.push(w.attempt),
    });
    const unlocked = lockFor(path, 400);
    // Without patience the same call fails: the lock outlasts busy_timeout.
    await expect(raw.putDoc('docs', 'b', { n: 2 })).rejects.toBeInstanceOf(DependencyError);
    await expect(store.putDoc('docs', 'b', { n: 2 })).resolves.toBe(1);
    await unlocked;
    expect(waits.length).toBeGreaterThan(0);
    expect(await raw.getDoc('docs', 'b')).toEqual({ doc: { n: 2 }, rev: 1 });
    await store.close();
  });

  it('gives up with the store error once its patience is spent', async () => {
    const path = join(dir, 'give-up.sqlite');
    const store = patientStore(createSqliteStore({ path, busyTimeoutMs: 20 }), {
      maxWaitMs: 150,
      firstDelayMs: 20,
    });
    await store.putDoc('docs', 'a', { n: 1 });
    const unlocked = lockFor(path, 1000);
    const t0 = Date.now();
    // A write: in WAL mode a reader is not blocked by another connection's write lock.
    const err: unknown = await store.putDoc('docs', 'b', { n: 2 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DependencyError);
    expect((err as Error).message).toMatch(/sqlite unavailable: SQLITE_BUSY/);
    expect(Date.now() - t0).toBeLessThan(900);
    await unlocked;
    await store.close();
  });
});

describe('withPatience', () => {
  it('throws anything but DependencyError at once', async () => {
    let calls = 0;
    const call = (): Promise<never> => {
      calls += 1;
      return Promise.reject(new ConflictError('revision 3 is not 2'));
    };
    await expect(withPatience('putDoc', call, { maxWaitMs: 10_000 })).rejects.toBeInstanceOf(ConflictError);
    expect(calls).toBe(1);
  });

  it('stops waiting when its signal aborts', async () => {
    const ac = new AbortController();
    let calls = 0;
    const call = (): Promise<never> => {
      calls += 1;
      if (calls === 2) ac.abort();
      return Promise.reject(new DependencyError('down'));
    };
    const t0 = Date.now();
    await expect(
      withPatience('getDoc', call, { maxWaitMs: 60_000, firstDelayMs: 10, signal: ac.signal }),
    ).rejects.toThrow('down');
    expect(calls).toBe(2);
    expect(Date.now() - t0).toBeLessThan(5000);
  });
});
