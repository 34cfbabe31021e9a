/**
 * The simulated data.binance.vision (binance.md §5): `GET /data/{spot|futures/um}/{daily|monthly}/
 * {klines|trades|aggTrades}/<SYMBOL>/[<interval>/]<file>.zip` and `<file>.zip.CHECKSUM`, on the
 * exchange's port, outside the request-weight pipeline (the archive has no weight).
 *
 * Zips are generated on request from the REST rows (archive-files.ts) and streamed while they
 * are deflated (fflate), so a month of 1s klines never sits in memory. The bytes are
 * deterministic (fixed entry time and attributes), so the CHECKSUM always describes what is
 * served: small zips are kept whole in an LRU, large ones only by their hash.
 */
import { createHash } from 'node:crypto';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { Zip, ZipDeflate, type DeflateOptions } from 'fflate';
import { Hono } from 'hono';
import {
  BAD_CHECKSUM,
  faultListed,
  MISSING_DAILY,
  UNPUBLISHED_MONTHLY,
  type ArchiveConfig,
} from './archive-config.ts';
import { csvChunks, describeFile, type ArchiveFile } from './archive-files.ts';
import type { ExchangeCore } from './exchange.ts';
import type { MarketData } from './market-data.ts';
import type { ExchangeEnv } from './pipeline.ts';

/** Archive requests as GET /sim/stats shows them. */
export interface ArchiveCounters {
  zip: number;
  checksum: number;
  notFound: number;
  /** By `<market>/<period>/<type>` of the path, e.g. `spot/daily/klines`; `other` for the rest. */
  byKind: Record<string, number>;
}
export const freshArchiveCounters = (): ArchiveCounters => ({ zip: 0, checksum: 0, notFound: 0, byKind: {} });

/** The date a zip entry carries: fixed per file; fflate writes local-time DOS fields, so pass them pre-shifted. */
function entryTime(t: number): Date {
  const d = new Date(Math.max(t, Date.UTC(1980, 0, 1)));
  return new Date(
    d.getUTCFullYear(),
    d.getUTCMonth(),
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
  );
}

/** The file's zip, chunk by chunk: one deflated CSV entry, byte-identical on every generation. */
export function* zipChunks(
  data: MarketData,
  f: ArchiveFile,
  level: ArchiveConfig['zipLevel'],
): Generator<Uint8Array> {
  const out: Uint8Array[] = [];
  let failure: Error | null = null;
  const zip = new Zip((err, chunk) => {
    if (err) failure = err;
    else if (chunk.length > 0) out.push(chunk);
  });
  const entry = new ZipDeflate(f.name.replace(/\.zip$/, '.csv'), { level: level as DeflateOptions['level'] });
  entry.mtime = entryTime(f.publishedAt);
  entry.os = 3;
  entry.attrs = 0o644 << 16;
  zip.add(entry);
  const flush = () => {
    if (failure) throw failure;
    const chunk = out.length === 1 ? out[0]! : Buffer.concat(out);
    out.length = 0;
    return chunk;
  };
  let size = 0;
  for (const csv of csvChunks(data, f)) {
    const bytes = Buffer.from(csv, 'latin1');
    // fflate writes no zip64: past 4 GiB the sizes would wrap and the zip be silently corrupt.
    if ((size += bytes.length) > 0xffff_ffff) throw new Error(`${f.name}: CSV over 4 GiB, zip64 unsupported`);
    entry.push(bytes);
    if (out.length > 0) yield flush();
  }
  entry.push(new Uint8Array(0), true);
  zip.end();
  yield flush();
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A response body pulled from `next` (undefined = end), paced to `bps` bytes/s when > 0:
 * each piece leaves no earlier than (bytes before it) / bps after the first.
 */
function bodyStream(next: () => Uint8Array | undefined, bps: number, cancel: () => void): ReadableStream {
  let started = 0;
  let sent = 0;
  let rest: Uint8Array | undefined;
  const piece = Math.max(1024, Math.floor(bps / 20));
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let chunk = rest ?? next();
        rest = undefined;
        if (chunk === undefined) return controller.close();
        if (bps > 0) {
          if (chunk.length > piece) {
            rest = chunk.subarray(piece);
            chunk = chunk.subarray(0, piece);
          }
          if (sent === 0) started = performance.now();
          const wait = started + (sent * 1000) / bps - performance.now();
          if (wait > 0) await sleep(wait);
        }
        sent += chunk.length;
        controller.enqueue(chunk);
      },
      cancel,
    },
    { highWaterMark: 0 },
  );
}

/** Finished zips (LRU under a byte cap) and the hashes of every zip generated to the end. */
class ZipCache {
  private readonly files = new Map<string, Uint8Array>();
  private readonly hashes = new Map<string, string>();
  private total = 0;
  constructor(private readonly cfg: ArchiveConfig['cache']) {}

  bytes(key: string): Uint8Array | undefined {
    const b = this.files.get(key);
    if (b) {
      this.files.delete(key);
      this.files.set(key, b);
    }
    return b;
  }
  hash(key: string): string | undefined {
    return this.hashes.get(key);
  }
  /** Whether a zip of this size is kept whole. */
  keeps(size: number): boolean {
    return size <= this.cfg.maxFileBytes && size <= this.cfg.maxBytes;
  }
  put(key: string, hash: string, bytes: Uint8Array | undefined): void {
    if (this.hashes.size >= 100_000) this.hashes.delete(this.hashes.keys().next().value!);
    this.hashes.set(key, hash);
    if (!bytes || !this.keeps(bytes.length) || this.files.has(key)) return;
    this.files.set(key, bytes);
    this.total += bytes.length;
    for (const [k, b] of this.files) {
      if (this.total <= this.cfg.maxBytes) break;
      this.files.delete(k);
      this.total -= b.length;
    }
  }
}

/** Hashes chunks and keeps them while the total stays small enough to cache. */
function recorder(cache: ZipCache) {
  const hash = createHash('sha256');
  let kept: Uint8Array[] | undefined = [];
  let size = 0;
  return {
    add(chunk: Uint8Array) {
      hash.update(chunk);
      size += chunk.length;
      if (kept && cache.keeps(size)) kept.push(chunk);
      else kept = undefined;
    },
    done(key: string): string {
      const hex = hash.digest('hex');
      cache.put(key, hex, kept && Buffer.concat(kept));
      return hex;
    },
  };
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** S3's answer for a key it does not have, as data.binance.vision gives it. */
function noSuchKey(key: string): Response {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${escapeXml(key)}</Key></Error>`;
  return new Response(body, { status: 404, headers: { 'Content-Type': 'application/xml' } });
}

export function archiveRoutes(ex: ExchangeCore): Hono<ExchangeEnv> {
  const app = new Hono<ExchangeEnv>();
  const cfg = ex.config.archive;
  const { data } = ex;
  const cache = new ZipCache(cfg.cache);
  const hashing = new Map<string, Promise<string>>();

  /** The file behind a key if it exists at `now`: known symbol, listed, published, not faulted away. */
  function locate(key: string, now: number): ArchiveFile | undefined {
    const f = describeFile(key, cfg);
    if (!f || !data.has(f.market, f.symbol)) return undefined;
    if (f.to <= data.listingTime(f.symbol, f.market) || now < f.publishedAt) return undefined;
    const missing =
      f.period === 'daily'
        ? faultListed(cfg.missingDaily, MISSING_DAILY, f.market, [f.symbol, f.date])
        : faultListed(cfg.unpublishedMonthly, UNPUBLISHED_MONTHLY, f.market, [f.symbol, f.date]);
    return missing ? undefined : f;
  }

  /** sha256 of the zip: known, being computed, or computed now by generating it once. */
  function hashOf(f: ArchiveFile): Promise<string> {
    const known = cache.hash(f.key);
    if (known) return Promise.resolve(known);
    let p = hashing.get(f.key);
    if (!p) {
      p = (async () => {
        const rec = recorder(cache);
        for (const chunk of zipChunks(data, f, cfg.zipLevel)) {
          rec.add(chunk);
          // Let other requests in between chunks while a large file is hashed.
          await yieldToLoop();
        }
        return rec.done(f.key);
      })().finally(() => hashing.delete(f.key));
      hashing.set(f.key, p);
    }
    return p;
  }

  function zipBody(f: ArchiveFile): { body: ReadableStream | Uint8Array; length?: number } {
    const bps = cfg.bytesPerSecond;
    const cached = cache.bytes(f.key);
    if (cached) {
      if (bps === 0) return { body: cached, length: cached.length };
      let once: Uint8Array | undefined = cached;
      const next = () => {
        const b = once;
        once = undefined;
        return b;
      };
      return { body: bodyStream(next, bps, () => undefined), length: cached.length };
    }
    const gen = zipChunks(data, f, cfg.zipLevel);
    const rec = recorder(cache);
    const next = () => {
      let r: IteratorResult<Uint8Array>;
      try {
        r = gen.next();
      } catch (e) {
        ex.logger?.error({ err: e, file: f.key }, 'archive file generation failed; response aborted');
        throw e;
      }
      if (r.done) {
        rec.done(f.key);
        return undefined;
      }
      rec.add(r.value);
      return r.value;
    };
    return { body: bodyStream(next, bps, () => void gen.return(undefined)) };
  }

  app.get('/data/*', async (c) => {
    const path = c.req.path.slice(1);
    const checksum = path.endsWith('.CHECKSUM');
    const key = checksum ? path.slice(0, -'.CHECKSUM'.length) : path;
    const counters = ex.counters.archive;
    const kind = /^data\/(spot|futures\/um)\/(daily|monthly)\/(klines|trades|aggTrades)\//.exec(key);
    const kindName = kind ? `${kind[1]}/${kind[2]}/${kind[3]}` : 'other';
    counters.byKind[kindName] = (counters.byKind[kindName] ?? 0) + 1;
    counters[checksum ? 'checksum' : 'zip']++;
    const f = locate(key, ex.now());
    if (!f) {
      counters.notFound++;
      return noSuchKey(path);
    }
    const headers: Record<string, string> = { 'Last-Modified': new Date(f.publishedAt).toUTCString() };
    if (checksum) {
      // The "regenerated file" fault: the CHECKSUM lists a hash no generation of the zip has.
      const bad = faultListed(cfg.badChecksum, BAD_CHECKSUM, f.market, [f.name]);
      const hex = bad ? createHash('sha256').update(`stale:${f.key}`).digest('hex') : await hashOf(f);
      return new Response(`${hex}  ${f.name}`, {
        headers: { ...headers, 'Content-Type': 'text/plain' },
      });
    }
    const { body, length } = zipBody(f);
    if (length !== undefined) headers['Content-Length'] = String(length);
    return new Response(body, { headers: { ...headers, 'Content-Type': 'application/zip' } });
  });
  return app;
}
