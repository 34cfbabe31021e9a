/**
 * The ArangoDB adapter. No ArangoDB server can be installed on these machines (DESIGN.md), so
 * the full contract suite runs only when ARANGO_URL points at one; the tests below it need no
 * server: failure mapping against closed ports and a scripted HTTP peer that answers the few
 * endpoints the adapter calls, to check what it sends and how it reads the answers.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Database } from 'arangojs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConflictError, DependencyError, InvalidInputError } from '../../shared/runtime/errors.ts';
import { createArangoStore } from '../../shared/store/arango-store.ts';
import type { RowBatch } from '../../shared/store/store.ts';
import { kline, klineRow, storeContract } from './contract.ts';

const url = process.env['ARANGO_URL'];
const auth = {
  username: process.env['ARANGO_USERNAME'] ?? 'root',
  password: process.env['ARANGO_PASSWORD'] ?? '',
};
const database = `streamforge_test_${process.pid}_${Date.now().toString(36)}`;

describe.skipIf(!url)('ArangoDB store against ARANGO_URL (set ARANGO_URL to run the contract suite)', () => {
  afterAll(async () => {
    const system = new Database({ url: url!, auth });
    await system.dropDatabase(database).catch(() => false);
    system.close();
  });
  storeContract('arangodb', () => createArangoStore({ url: url!, database, ...auth }));
});

type Reply = { status: number; body: unknown };
type CursorHandler = (req: { query: string; bindVars: Record<string, unknown>; options?: unknown }) => Reply;

const ok = (result: unknown[], extra: unknown = {}): Reply => ({
  status: 201,
  body: { error: false, code: 201, result, hasMore: false, count: result.length, extra },
});
const arangoError = (status: number, errorNum: number, errorMessage: string): Reply => ({
  status,
  body: { error: true, code: status, errorNum, errorMessage },
});

/** Answers database/collection/index calls as an existing setup would, and cursors by script. */
async function scriptedArango(
  onCursor: CursorHandler,
): Promise<{ url: string; server: Server; cursors: Parameters<CursorHandler>[0][] }> {
  const cursors: Parameters<CursorHandler>[0][] = [];
  const read = async (req: IncomingMessage): Promise<string> => {
    let body = '';
    for await (const chunk of req) body += String(chunk);
    return body;
  };
  const server = createServer((req, res) => {
    void read(req).then((text) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      let reply: Reply;
      if (path.endsWith('/_api/database/current'))
        reply = { status: 200, body: { error: false, code: 200, result: { name: 'db' } } };
      else if (path.includes('/_api/collection/'))
        reply = { status: 200, body: { error: false, code: 200, name: 'c', type: 2 } };
      else if (path.endsWith('/_api/index'))
        reply = { status: 200, body: { error: false, code: 200, id: 'c/1', isNewlyCreated: false } };
      else if (path.endsWith('/_api/version'))
        reply = { status: 200, body: { server: 'arango', version: '3.12.0' } };
      else if (path.endsWith('/_api/cursor')) {
        const q = JSON.parse(text) as Parameters<CursorHandler>[0];
        cursors.push(q);
        reply = onCursor(q);
      } else reply = arangoError(404, 404, `unexpected ${req.method} ${path}`);
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, cursors };
}

describe('ArangoDB store without a server', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });
  const peer = async (onCursor: CursorHandler) => {
    const p = await scriptedArango(onCursor);
    servers.push(p.server);
    return { ...p, store: createArangoStore({ url: p.url, database: 'db', username: 'root', password: '' }) };
  };
  const series = 'spot:BTCUSDT:klines_1m';

  it('answers DependencyError when the server is unreachable or closed', async () => {
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r)); // nothing listens there now
    const store = createArangoStore({
      url: `http://127.0.0.1:${port}`,
      database: 'db',
      username: 'root',
      password: '',
    });
    await expect(store.ping()).rejects.toBeInstanceOf(DependencyError);
    await expect(store.upsertRecords('klines', [kline(series, 0)])).rejects.toBeInstanceOf(DependencyError);
    await store.close();
    await expect(store.getDoc('docs', 'k')).rejects.toBeInstanceOf(DependencyError);
  });

  it('answers DependencyError when the server does not answer in time', async () => {
    const silent = createServer(() => {}); // accepts, never answers
    servers.push(silent);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as AddressInfo).port;
    const store = createArangoStore({
      url: `http://127.0.0.1:${port}`,
      database: 'db',
      username: 'root',
      password: '',
      timeoutMs: 200,
    });
    await expect(store.ping()).rejects.toBeInstanceOf(DependencyError);
    await store.close();
    silent.closeAllConnections();
  });

  it('answers DependencyError when the server is unavailable or refuses our credentials', async () => {
    for (const reply of [
      arangoError(503, 503, 'service unavailable'),
      arangoError(401, 401, 'not authorized'),
    ]) {
      const { store } = await peer(() => reply);
      await expect(store.count('klines')).rejects.toBeInstanceOf(DependencyError);
      await store.close();
    }
  });

  it('upserts a batch in one query and counts inserted, updated and unchanged from its answer', async () => {
    const { store, cursors } = await peer(() => ok([0, 1, 0]));
    const batch = [0, 1, 2, 3, 4].map((i) => kline(series, i * 60_000));
    expect(await store.upsertRecords('klines', batch)).toEqual({ inserted: 2, updated: 1, unchanged: 2 });
    expect(cursors).toHaveLength(1);
    expect(cursors[0]!.bindVars).toEqual({
      '@c': 'klines',
      records: batch.map((r) => ({ _key: r.key, series: r.series, time: r.time, doc: r.doc })),
    });
    await store.close();
  });

  it('upserts a row batch as the documents of its records, in one query', async () => {
    const { store, cursors } = await peer(() => ok([0, 1]));
    const recs = [0, 1].map((i) => kline(series, i * 60_000));
    const twice = kline(series, 60_000, '1.00000000'); // superseded by the later row of its key
    const batch: RowBatch = {
      kind: 'kline',
      series: { market: 'spot', symbol: 'BTCUSDT', dataset: 'klines_1m' },
      rows: [recs[0]!, twice, recs[1]!].map(klineRow),
    };
    expect(await store.upsertRows('klines', batch)).toEqual({ inserted: 1, updated: 1, unchanged: 1 });
    expect(cursors).toHaveLength(1);
    expect(cursors[0]!.bindVars).toEqual({
      '@c': 'klines',
      records: recs.map((r) => ({ _key: r.key, series: r.series, time: r.time, doc: r.doc })),
    });
    const sent = (cursors[0]!.bindVars['records'] as { doc: Record<string, unknown> }[])[0]!.doc;
    expect(Object.keys(sent)).toEqual(Object.keys(recs[0]!.doc)); // record fields, in schema order
    await expect(store.upsertRows('klines', { ...batch, rows: [[1, 'x']] })).rejects.toBeInstanceOf(
      InvalidInputError,
    );
    expect(cursors).toHaveLength(1); // nothing sent for a bad batch
    await store.close();
  });

  it('runs an upsert again when a concurrent writer inserted the same key first', async () => {
    let calls = 0;
    const { store } = await peer(() =>
      ++calls === 1 ? arangoError(409, 1210, 'unique constraint violated') : ok([0]),
    );
    expect(await store.upsertRecords('klines', [kline(series, 0)])).toEqual({
      inserted: 1,
      updated: 0,
      unchanged: 0,
    });
    expect(calls).toBe(2);
    await store.close();
  });

  it('maps a duplicate create and a stale revision to ConflictError', async () => {
    const { store, cursors } = await peer((q) =>
      q.query.includes('INSERT') ? arangoError(409, 1210, 'unique constraint violated') : ok([]),
    );
    await expect(store.putDoc('workflows', 'wf-1', { a: 1 })).rejects.toBeInstanceOf(ConflictError);
    await expect(store.putDoc('workflows', 'wf-1', { a: 2 }, 3)).rejects.toBeInstanceOf(ConflictError);
    expect(cursors[1]!.bindVars).toMatchObject({ key: 'wf-1', rev: 3, doc: { a: 2 } });
    await store.close();
  });

  it('reads the total of findDocs from the full count', async () => {
    const { store, cursors } = await peer(() =>
      ok([{ doc: { status: 'running' }, rev: 2 }], { stats: { fullCount: 7 } }),
    );
    const found = await store.findDocs('workflows', {
      where: { status: 'running' },
      sortBy: 'created',
      desc: true,
      limit: 1,
      offset: 3,
    });
    expect(found).toEqual({ items: [{ doc: { status: 'running' }, rev: 2 }], total: 7 });
    expect(cursors[0]!.bindVars).toMatchObject({
      f0: 'status',
      v0: 'running',
      sortBy: 'created',
      offset: 3,
      limit: 1,
    });
    expect(cursors[0]!.options).toMatchObject({ fullCount: true });
    await store.close();
  });
});
