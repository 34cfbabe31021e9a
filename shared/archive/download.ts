/**
 * Downloads one data.binance.vision file and checks it against its `.CHECKSUM` (binance.md §5,
 * issue 12 "Integrity"): the CHECKSUM first (small; a missing one spares the zip), then the zip,
 * streamed to a temp file while SHA-256 hashes it, so memory stays at a chunk whatever the size
 * (a monthly 1s kline file is >100 MB, a monthly trades file several GB).
 *
 * Outcomes: `ok` (the caller owns `file` and removes it when done), `missing` (404/410 on the
 * CHECKSUM or the zip: the archive lacks it, e.g. a daily file not yet published), `mismatch`
 * (files are regenerated silently, so the caller downloads once more, then falls back to REST).
 * Connection failures, timeouts, 5xx/429 answers and unreadable CHECKSUMs are retried with a
 * jittered exponential backoff; when the tries run out, or on any other status, it throws
 * ArchiveUnavailableError. An aborted signal rejects with its reason. Every outcome except `ok`
 * leaves no temp file behind.
 *
 * node:http(s) with keep-alive agents, as the REST client (http-get.ts); measured against fetch
 * in the comment at `get` below.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { DependencyError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';

export type DownloadOutcome =
  | { kind: 'ok'; url: string; file: string; sha256: string; bytes: number }
  | { kind: 'missing'; url: string; what: 'zip' | 'checksum' }
  | { kind: 'mismatch'; url: string; expected: string; actual: string; bytes: number };

/** Why the last try failed. */
export type ArchiveFailure =
  'SERVER_ERROR' | 'NETWORK_ERROR' | 'TIMEOUT' | 'MALFORMED_CHECKSUM' | 'HTTP_STATUS';

/** The archive could not be used for `url`: retries ran out, or it answered a status not retried. */
export class ArchiveUnavailableError extends DependencyError {
  constructor(
    readonly url: string,
    readonly code: ArchiveFailure,
    readonly tries: number,
    detail: string,
    cause?: unknown,
  ) {
    super(`GET ${url}: ${detail} (${code}, ${tries} ${tries === 1 ? 'try' : 'tries'})`, cause);
  }
}

export interface ArchiveClientOptions {
  /** `BINANCE_ARCHIVE_URL`: `https://data.binance.vision` or the simulator. */
  baseUrl: string;
  /** Where temp files go; default the OS temp dir. */
  dir?: string;
  /** Tries per file for retryable failures; default 4. */
  maxTries?: number;
  /** First backoff; doubles per try, jittered; default 500 ms. */
  backoffBaseMs?: number;
  /** Longest backoff; default 8 s. */
  backoffMaxMs?: number;
  /** Longest silence while waiting for an answer or its next bytes; default 30 s. */
  idleTimeoutMs?: number;
  random?: () => number;
  logger?: Logger;
}

export interface ArchiveClient {
  readonly baseUrl: string;
  /** Downloads `<baseUrl>/<path>` and checks it against `<path>.CHECKSUM` (see the module comment). */
  download(path: string, opts?: { signal?: AbortSignal | undefined }): Promise<DownloadOutcome>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

/** `<64 hex>  <name>` as sha256sum writes it (binary mode `*name` too), newline or not. */
const CHECKSUM_LINE = /^([0-9a-fA-F]{64}) [ *]?(\S+)\s*$/;
const MAX_CHECKSUM_BYTES = 1024;
const MAX_REDIRECTS = 5;

/** A failure worth another try (internal: the retry loop turns it into ArchiveUnavailableError). */
class Retryable extends Error {
  constructor(
    readonly code: ArchiveFailure,
    detail: string,
    cause?: unknown,
  ) {
    super(detail, cause === undefined ? undefined : { cause });
  }
}

/** A failure not worth another try (an unexpected status, a redirect loop). */
class Fatal extends Error {
  constructor(
    readonly code: ArchiveFailure,
    detail: string,
  ) {
    super(detail);
  }
}

class IdleTimeout extends Error {}

export function createArchiveClient(opts: ArchiveClientOptions): ArchiveClient {
  const baseUrl = opts.baseUrl.replace(/\/+$/, '');
  const dir = opts.dir ?? tmpdir();
  const maxTries = opts.maxTries ?? 4;
  const base = opts.backoffBaseMs ?? 500;
  const maxBackoff = opts.backoffMaxMs ?? 8000;
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const random = opts.random ?? Math.random;
  const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

  /*
   * One GET with its redirects followed; resolves with the final answer, whose body the caller
   * reads (or drains). node:http rather than fetch: for a 120 MB zip over loopback, streamed to
   * a file through SHA-256, bench/archive-parse.ts (BENCH_DOWNLOAD=1, three runs, medians) measured
   * node:http at 0.28 / 0.56 / 0.77 s CPU against 0.28 / 0.73 / 0.95 s for fetch (undici's WHATWG
   * streams): never more, up to ~20% less. The network's time for 120 MB dwarfs either.
   */
  async function get(url: string, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    let target = new URL(url);
    for (let hop = 0; ; hop++) {
      const secure = target.protocol === 'https:';
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        let answer: http.IncomingMessage | undefined;
        const req = (secure ? https : http).get(
          target,
          { agent: secure ? agents.https : agents.http, signal, timeout: idleMs },
          (r) => resolve((answer = r)),
        );
        // The socket's idle timeout: no answer, or no bytes of the body, for idleMs.
        req.on('timeout', () => {
          const err = new IdleTimeout(`no data for ${idleMs} ms`);
          answer?.destroy(err);
          req.destroy(err);
        });
        req.on('error', reject);
      }).catch((err: unknown) => {
        throw failure(err, signal);
      });
      const location = res.headers.location;
      if (res.statusCode !== undefined && res.statusCode >= 300 && res.statusCode < 400 && location) {
        res.resume();
        if (hop >= MAX_REDIRECTS) throw new Fatal('HTTP_STATUS', `more than ${MAX_REDIRECTS} redirects`);
        target = new URL(location, target);
        continue;
      }
      return res;
    }
  }

  /**
   * A transport failure as a Retryable; the caller's abort reason; a local file system error
   * (the temp dir, a full disk: it carries a `path`) as it is.
   */
  function failure(err: unknown, signal: AbortSignal | undefined): unknown {
    if (signal?.aborted) return signal.reason;
    if (err instanceof Retryable || err instanceof Fatal) return err;
    if (typeof (err as NodeJS.ErrnoException | undefined)?.path === 'string') return err;
    if (err instanceof IdleTimeout) return new Retryable('TIMEOUT', err.message, err);
    const code = (err as NodeJS.ErrnoException | undefined)?.code;
    const message = err instanceof Error ? err.message : String(err);
    return new Retryable('NETWORK_ERROR', code ? `${code} ${message}` : message, err);
  }

  /** 200 → the answer; 404/410 → undefined; 5xx/429 → Retryable; any other status throws. */
  function accept(res: http.IncomingMessage): http.IncomingMessage | undefined {
    const status = res.statusCode ?? 0;
    if (status === 200) return res;
    res.resume();
    if (status === 404 || status === 410) return undefined;
    if (status >= 500 || status === 429) throw new Retryable('SERVER_ERROR', `HTTP ${status}`);
    throw new Fatal('HTTP_STATUS', `HTTP ${status}`);
  }

  /** Runs `attempt` until it returns, throws a non-Retryable, or the tries run out. */
  async function retrying<T>(
    url: string,
    signal: AbortSignal | undefined,
    attempt: () => Promise<T>,
  ): Promise<T> {
    for (let tries = 1; ; tries++) {
      try {
        return await attempt();
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        if (err instanceof Fatal) throw new ArchiveUnavailableError(url, err.code, tries, err.message);
        if (!(err instanceof Retryable)) throw err;
        if (tries >= maxTries)
          throw new ArchiveUnavailableError(url, err.code, tries, err.message, err.cause);
        const ceiling = Math.min(maxBackoff, base * 2 ** (tries - 1));
        const delay = ceiling / 2 + (random() * ceiling) / 2;
        opts.logger?.info(
          { url, failure: err.code, detail: err.message, try: tries, delay_ms: Math.round(delay) },
          'archive download failed, retrying',
        );
        await sleep(delay, undefined, { signal });
      }
    }
  }

  /** The CHECKSUM's hash (lower-case), or undefined when the archive has none. */
  async function checksum(
    url: string,
    name: string,
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const res = accept(await get(url, signal));
    if (res === undefined) return undefined;
    let text = '';
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        text += chunk.toString('latin1');
        if (text.length > MAX_CHECKSUM_BYTES) {
          res.destroy();
          throw new Retryable('MALFORMED_CHECKSUM', `CHECKSUM longer than ${MAX_CHECKSUM_BYTES} bytes`);
        }
      }
    } catch (err) {
      throw failure(err, signal);
    }
    const m = CHECKSUM_LINE.exec(text);
    // The name must be this zip's: a CHECKSUM of another file says nothing about this one.
    if (!m || basename(m[2]!) !== name)
      throw new Retryable(
        'MALFORMED_CHECKSUM',
        `CHECKSUM is not "<sha256>  ${name}": ${JSON.stringify(text.slice(0, 120))}`,
      );
    return m[1]!.toLowerCase();
  }

  /** The zip into `file`, hashed on the way; undefined when the archive has none. */
  async function zip(
    url: string,
    file: string,
    signal: AbortSignal | undefined,
  ): Promise<{ sha256: string; bytes: number } | undefined> {
    const res = accept(await get(url, signal));
    if (res === undefined) return undefined;
    const hash = createHash('sha256');
    let bytes = 0;
    try {
      await pipeline(
        res,
        async function* (source: Readable) {
          for await (const chunk of source as AsyncIterable<Buffer>) {
            hash.update(chunk);
            bytes += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(file),
        { signal },
      );
    } catch (err) {
      throw failure(err, signal);
    }
    const length = Number(res.headers['content-length']);
    if (Number.isFinite(length) && length !== bytes)
      throw new Retryable('NETWORK_ERROR', `body cut short: ${bytes} of ${length} bytes`);
    return { sha256: hash.digest('hex'), bytes };
  }

  async function download(
    path: string,
    o: { signal?: AbortSignal | undefined } = {},
  ): Promise<DownloadOutcome> {
    const { signal } = o;
    const url = `${baseUrl}/${path.replace(/^\/+/, '')}`;
    const name = basename(new URL(url).pathname);
    const expected = await retrying(`${url}.CHECKSUM`, signal, () =>
      checksum(`${url}.CHECKSUM`, name, signal),
    );
    if (expected === undefined) return { kind: 'missing', url, what: 'checksum' };
    const file = join(dir, `${name}.${randomBytes(6).toString('hex')}.part`);
    let keep = false;
    try {
      const got = await retrying(url, signal, async () => {
        try {
          return await zip(url, file, signal);
        } catch (err) {
          await rm(file, { force: true }); // the next try starts a fresh file
          throw err;
        }
      });
      if (got === undefined) return { kind: 'missing', url, what: 'zip' };
      if (got.sha256 !== expected)
        return { kind: 'mismatch', url, expected, actual: got.sha256, bytes: got.bytes };
      keep = true;
      return { kind: 'ok', url, file, sha256: got.sha256, bytes: got.bytes };
    } finally {
      if (!keep) await rm(file, { force: true });
    }
  }

  return {
    baseUrl,
    download,
    close: () => {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
