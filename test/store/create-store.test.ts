import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { BaseConfig, loadConfig } from '../../shared/runtime/config.ts';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { createStore } from '../../shared/store/create-store.ts';

const dir = mkdtempSync(join(tmpdir(), 'sf-create-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const logger = pino({ level: 'silent' });

describe('createStore', () => {
  it('opens the SQLite file at SQLITE_PATH when ARANGO_URL is unset', async () => {
    const path = join(dir, 'data', 'store.sqlite');
    const store = createStore(loadConfig(BaseConfig, { SQLITE_PATH: path }), logger);
    await store.putDoc('workflows', 'wf-1', { a: 1 });
    await store.close();
    const again = createStore(loadConfig(BaseConfig, { SQLITE_PATH: path }), logger);
    expect(await again.getDoc('workflows', 'wf-1')).toEqual({ doc: { a: 1 }, rev: 1 });
    await again.close();
  });

  it.each([
    { name: 'a file', file: true },
    { name: ':memory:', file: false },
  ])('opens SQLite on the calling thread: $name', async ({ file }) => {
    const lines: { msg?: string; path?: string }[] = [];
    const capture = pino(
      { level: 'info' },
      { write: (line: string) => lines.push(JSON.parse(line) as { msg?: string; path?: string }) },
    );
    const path = file ? join(dir, 'memory-or-file', 'store.sqlite') : ':memory:';
    const store = createStore(loadConfig(BaseConfig, { SQLITE_PATH: path }), capture);
    await store.putDoc('workflows', 'wf-1', { a: 1 });
    expect(await store.getDoc('workflows', 'wf-1')).toEqual({ doc: { a: 1 }, rev: 1 });
    await store.close();
    expect(lines.filter((l) => l.msg === 'sqlite store open').map((l) => l.path)).toEqual([path]);
  });

  it('talks to ArangoDB when ARANGO_URL is set', async () => {
    // A port nobody listens on: the ArangoDB adapter answers DependencyError, SQLite never would.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const cfg = loadConfig(BaseConfig, {
      ARANGO_URL: `http://127.0.0.1:${port}`,
      SQLITE_PATH: join(dir, 'unused.sqlite'),
    });
    const store = createStore(cfg, logger);
    await expect(store.ping()).rejects.toBeInstanceOf(DependencyError);
    await store.close();
  });
});
