/**
 * The archive client against a real node:http server on 127.0.0.1: a verified download, a
 * checksum mismatch, a missing zip or CHECKSUM, 5xx answers retried, bodies cut short or
 * stalled, an abort, and the CHECKSUM's format. After every outcome the temp dir holds nothing
 * but an `ok` file.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  ArchiveUnavailableError,
  createArchiveClient,
  type ArchiveClient,
  type ArchiveClientOptions,
} from '../../shared/archive/download.ts';
import { zipOne } from './zip-writer.ts';

const PATH = 'data/spot/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2023-10.zip';
const NAME = 'BTCUSDT-1h-2023-10.zip';
const ZIP = zipOne(
  'BTCUSDT-1h-2023-10.csv',
  '1698796800000,1.0,1.0,1.0,1.0,1.0,1698800399999,1.0,1,1.0,1.0,0\n'.repeat(5000),
);
const SHA = createHash('sha256').update(ZIP).digest('hex');

type Handler = (n: number, req: http.IncomingMessage, res: http.ServerResponse) => void;

let server: http.Server | undefined;
let client: ArchiveClient | undefined;
let dir: string;
/** Requests seen per path. */
let seen: Map<string, number>;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sf-archive-dl-'));
  seen = new Map();
});
afterEach(async () => {
  client?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const sendZip: Handler = (_n, _req, res) => {
  res.writeHead(200, { 'content-type': 'application/zip', 'content-length': ZIP.length });
  res.end(ZIP);
};
const sendChecksum =
  (text = `${SHA}  ${NAME}`): Handler =>
  (_n, _req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(text);
  };
const status =
  (code: number): Handler =>
  (_n, _req, res) => {
    res.writeHead(code);
    res.end(`<Error><Code>${code}</Code></Error>`);
  };

/** Serves the zip and CHECKSUM handlers at PATH; returns a client on it (fast backoff). */
async function serve(
  zip: Handler,
  checksum: Handler = sendChecksum(),
  o: Partial<ArchiveClientOptions> = {},
): Promise<ArchiveClient> {
  server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const n = (seen.get(path) ?? 0) + 1;
    seen.set(path, n);
    if (path === `/${PATH}`) zip(n, req, res);
    else if (path === `/${PATH}.CHECKSUM`) checksum(n, req, res);
    else status(404)(n, req, res);
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  client = createArchiveClient({
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    dir,
    backoffBaseMs: 1,
    backoffMaxMs: 2,
    maxTries: 3,
    idleTimeoutMs: 2000,
    ...o,
  });
  return client;
}

const zipRequests = (): number => seen.get(`/${PATH}`) ?? 0;

describe('archive download', () => {
  it('downloads the zip, checks its SHA-256 against the CHECKSUM, keeps only that file', async () => {
    const c = await serve(sendZip);
    const out = await c.download(PATH);
    expect(out).toMatchObject({ kind: 'ok', sha256: SHA, bytes: ZIP.length });
    if (out.kind !== 'ok') throw new Error('not ok');
    expect(readFileSync(out.file).equals(ZIP)).toBe(true);
    expect(readdirSync(dir)).toEqual([out.file.slice(dir.length + 1)]);
  });

  it('takes a CHECKSUM with a trailing newline, or in binary mode (`*name`)', async () => {
    const c = await serve(sendZip, (n, req, res) =>
      sendChecksum(n === 1 ? `${SHA.toUpperCase()}  ${NAME}\n` : `${SHA} *${NAME}\n`)(n, req, res),
    );
    expect((await c.download(PATH)).kind).toBe('ok');
    expect((await c.download(PATH)).kind).toBe('ok');
  });

  it('reports a mismatch with both hashes and leaves no file', async () => {
    const other = 'ab'.repeat(32);
    const c = await serve(sendZip, sendChecksum(`${other}  ${NAME}`));
    expect(await c.download(PATH)).toMatchObject({ kind: 'mismatch', expected: other, actual: SHA });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a missing CHECKSUM is missing, and the zip is not fetched', async () => {
    const c = await serve(sendZip, status(404));
    expect(await c.download(PATH)).toMatchObject({ kind: 'missing', what: 'checksum' });
    expect(zipRequests()).toBe(0);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a missing zip is missing and leaves no file', async () => {
    const c = await serve(status(404));
    expect(await c.download(PATH)).toMatchObject({ kind: 'missing', what: 'zip' });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('retries a 5xx answer, then succeeds', async () => {
    const c = await serve((n, req, res) => (n === 1 ? status(503) : sendZip)(n, req, res));
    expect((await c.download(PATH)).kind).toBe('ok');
    expect(zipRequests()).toBe(2);
  });

  it('gives up after maxTries 5xx answers with ArchiveUnavailableError, leaving no file', async () => {
    const c = await serve(status(500));
    const err = await c.download(PATH).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ArchiveUnavailableError);
    expect(err).toMatchObject({ code: 'SERVER_ERROR', tries: 3 });
    expect(zipRequests()).toBe(3);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('retries a body cut short, then succeeds; the partial file is gone', async () => {
    const c = await serve((n, req, res) => {
      if (n > 1) return sendZip(n, req, res);
      res.writeHead(200, { 'content-length': ZIP.length });
      res.write(ZIP.subarray(0, 1000), () => res.destroy());
    });
    const out = await c.download(PATH);
    expect(out.kind).toBe('ok');
    expect(zipRequests()).toBe(2);
    expect(readdirSync(dir)).toHaveLength(1);
  });

  it('times out a stalled body after idleTimeoutMs and gives up with TIMEOUT, leaving no file', async () => {
    const c = await serve(
      (_n, _req, res) => {
        res.writeHead(200, { 'content-length': ZIP.length });
        res.write(ZIP.subarray(0, 1000)); // and nothing more
      },
      sendChecksum(),
      { idleTimeoutMs: 100, maxTries: 2 },
    );
    const err = await c.download(PATH).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'TIMEOUT', tries: 2 });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('an abort rejects with the signal reason and leaves no file', async () => {
    const ac = new AbortController();
    const c = await serve((_n, _req, res) => {
      res.writeHead(200, { 'content-length': ZIP.length });
      res.write(ZIP.subarray(0, 1000), () => ac.abort(new Error('stop')));
    });
    await expect(c.download(PATH, { signal: ac.signal })).rejects.toThrow('stop');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a CHECKSUM of another file or not in sha256sum format is MALFORMED_CHECKSUM', async () => {
    const c = await serve(sendZip, (n, req, res) =>
      sendChecksum(n === 1 ? `${SHA}  BTCUSDT-1h-2023-09.zip` : '<html>not found</html>')(n, req, res),
    );
    await expect(c.download(PATH)).rejects.toMatchObject({ code: 'MALFORMED_CHECKSUM', tries: 3 });
    expect(zipRequests()).toBe(0);
  });

  it('does not retry a 403', async () => {
    const c = await serve(status(403));
    await expect(c.download(PATH)).rejects.toMatchObject({ code: 'HTTP_STATUS', tries: 1 });
    expect(zipRequests()).toBe(1);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a temp dir that is not there is a file system error, not retried', async () => {
    const c = await serve(sendZip, sendChecksum(), { dir: join(dir, 'not-there') });
    await expect(c.download(PATH)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(zipRequests()).toBe(1);
  });

  it('follows a redirect', async () => {
    const c = await serve((n, req, res) => {
      if (n > 1) return sendZip(n, req, res);
      res.writeHead(302, { location: `/${PATH}?signed=1` });
      res.end();
    });
    expect((await c.download(PATH)).kind).toBe('ok');
  });
});
