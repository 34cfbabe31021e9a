/**
 * A verified archive zip (download.ts) → batches of rows, streamed with bounded memory: the one
 * CSV entry of a data.binance.vision zip is inflated chunk by chunk, split into lines and parsed
 * (csv-batches.ts, csv-rows.ts), and its CRC-32 and size are checked against the zip's central
 * directory.
 *
 * Zip: yauzl reads the central directory and the local header (where the entry's data starts,
 * its sizes, CRC, method; bounds and zip64 handled); the data is then read here as one byte range
 * in 1 MiB pieces and inflated by node's zlib into 1 MiB chunks. yauzl's own `openReadStream`
 * reads 16 KiB at a time into an inflate of 16 KiB chunks: bench/archive-parse.ts measured it at
 * 0.87 M lines/s (CPU) on a month of 1s klines against 1.58–1.63 M for the same inflate + split
 * with 1 MiB pieces. yauzl does not check the CRC-32 (its README, "No CRC-32 Checking"), so it is
 * checked here: zlib.crc32 runs at ~4.5 GB/s, ~0.1 s of that month's 409 MB.
 *
 * Where the time goes (that bench, one core, 2.68 M lines of 1s klines, 153 bytes each): inflate +
 * CRC 0.43 µs a line, CSV → rows 0.65 µs; one pass 0.90–0.94 M rows/s of CPU time (1.18–1.21 M/s
 * wall: zlib's thread overlaps a little). Trades (79 bytes a line): 1.76–1.80 M rows/s CPU,
 * 2.25–2.37 M/s wall. The floor, inflate + `split('\n')` and nothing else, is 1.58–1.63 M lines/s
 * CPU for the klines: 2 M kline rows/s on one core is out of reach on that machine (a 2-vCPU VM);
 * more files in flight, on worker threads, is the way to more.
 *
 * A corrupt entry (bad deflate data, wrong size or CRC, a zip that does not open) is a
 * CorruptArchiveError, but a deflate stream can only be found bad by inflating it. Hence:
 * - `verifyFirst: true` (the default) inflates and checks the whole entry before the first batch,
 *   so a corrupt file never yields a row: a truncated zip fails at open, a bad one in this pass.
 *   It costs a second inflate: 0.66–0.72 M rows/s instead of 0.90–0.94 M for 1s klines (+31% CPU
 *   a row), 1.31–1.34 M instead of 1.76–1.80 M for trades.
 * - `verifyFirst: false` parses in one pass; a CorruptArchiveError may then come after batches
 *   were yielded, and the caller must treat the file's rows as not published: not count the
 *   file's range as covered, and load it again (or from REST). Rows are UPSERTed by natural key,
 *   so a second load converges. The file's SHA-256 matched its CHECKSUM before parsing, so this
 *   only happens when the exchange published a bad zip (it has: binance-public-data #435, #469).
 */
import { createReadStream } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { createInflateRaw, crc32 } from 'node:zlib';
import yauzl from 'yauzl';
import { RowBatcher, type BatcherOptions, type ParsedBatch } from './csv-batches.ts';

export type { ParsedBatch, Rejected } from './csv-batches.ts';

/** A zip that cannot be read to its end as one intact entry; no row of it may be trusted. */
export class CorruptArchiveError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
    cause?: unknown,
  ) {
    super(`${file}: corrupt archive: ${reason}`, cause === undefined ? undefined : { cause });
    this.name = 'CorruptArchiveError';
  }
}

export interface ParseOptions extends BatcherOptions {
  /** Inflate and check the whole entry before yielding anything; default true (see above). */
  verifyFirst?: boolean;
  signal?: AbortSignal;
}

/** How a parse went, the generator's return value. */
export interface ParseSummary {
  /** The CSV entry's name inside the zip. */
  entry: string;
  /** Bytes of CSV. */
  bytes: number;
  lines: number;
  rows: number;
  rejected: number;
  /** The header row, when the file has one. */
  header: string | undefined;
  /** Times given in µs (16 digits) and stored as ms. */
  microsecondTimes: number;
}

/** The one entry of a zip, as its central directory and local header describe it. */
interface Entry {
  name: string;
  /** Offset of its data in the file. */
  start: number;
  compressedSize: number;
  size: number;
  crc32: number;
  method: number;
}

/** Read size and inflate output chunk: see the module comment. */
const READ_CHUNK = 1024 * 1024;
const INFLATE_CHUNK = 1024 * 1024;

/** Errors of the file system (the file is gone, unreadable), as opposed to its content. */
function isFsError(err: unknown): boolean {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).syscall === 'string';
}

function corrupt(file: string, err: unknown): unknown {
  if (err instanceof CorruptArchiveError || isFsError(err)) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  return new CorruptArchiveError(file, err instanceof Error ? err.message : String(err), err);
}

async function locate(file: string): Promise<Entry> {
  let zip: yauzl.ZipFile;
  try {
    zip = await yauzl.openPromise(file, { autoClose: false, strictFileNames: true });
  } catch (err) {
    throw corrupt(file, err);
  }
  try {
    if (zip.entryCount !== 1)
      throw new CorruptArchiveError(file, `expected one CSV entry, found ${zip.entryCount} entries`);
    const next = await zip.eachEntry().next();
    const entry = next.value as yauzl.Entry | undefined;
    if (next.done === true || entry === undefined) throw new CorruptArchiveError(file, 'no entry');
    if (entry.fileName.endsWith('/')) throw new CorruptArchiveError(file, `${entry.fileName} is a directory`);
    if (entry.isEncrypted()) throw new CorruptArchiveError(file, `${entry.fileName} is encrypted`);
    if (entry.compressionMethod !== 0 && entry.compressionMethod !== 8)
      throw new CorruptArchiveError(file, `unsupported compression method ${entry.compressionMethod}`);
    const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
    return {
      name: entry.fileName,
      start: fileDataStart,
      compressedSize: entry.compressedSize,
      size: entry.uncompressedSize,
      crc32: entry.crc32,
      method: entry.compressionMethod,
    };
  } catch (err) {
    throw corrupt(file, err);
  } finally {
    zip.close();
  }
}

/** The entry's bytes, inflated: a range read piped into inflate (errors reach the last stream). */
function open(file: string, e: Entry): Readable {
  if (e.compressedSize === 0) return Readable.from([]);
  const raw = createReadStream(file, {
    start: e.start,
    end: e.start + e.compressedSize - 1,
    highWaterMark: READ_CHUNK,
  });
  if (e.method === 0) return raw;
  return pipeline(raw, createInflateRaw({ chunkSize: INFLATE_CHUNK }), () => {});
}

/** The entry's inflated chunks; at the end, throws unless their size and CRC-32 match the zip's. */
async function* chunks(file: string, e: Entry, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
  const stream = open(file, e);
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let crc = 0;
  let bytes = 0;
  try {
    for (;;) {
      signal?.throwIfAborted();
      let next: IteratorResult<Buffer>;
      try {
        next = await it.next();
      } catch (err) {
        throw corrupt(file, err);
      }
      if (next.done === true) break;
      const chunk = next.value;
      crc = crc32(chunk, crc);
      bytes += chunk.length;
      if (bytes > e.size)
        throw new CorruptArchiveError(file, `${e.name} inflates to more than its ${e.size} bytes`);
      yield chunk;
    }
  } finally {
    stream.destroy();
  }
  if (bytes !== e.size)
    throw new CorruptArchiveError(file, `${e.name} inflated to ${bytes} bytes, the zip says ${e.size}`);
  if (crc >>> 0 !== e.crc32 >>> 0)
    throw new CorruptArchiveError(
      file,
      `${e.name}: CRC-32 ${hex(crc)} of the inflated data, the zip says ${hex(e.crc32)}`,
    );
}

const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');

/**
 * Inflates the zip's one entry and checks its size and CRC-32 without parsing it (what
 * `verifyFirst` runs); throws CorruptArchiveError when it is not intact.
 */
export async function verifyArchive(
  file: string,
  signal?: AbortSignal,
): Promise<{ entry: string; bytes: number; crc32: number }> {
  const e = await locate(file);
  for await (const _ of chunks(file, e, signal));
  return { entry: e.name, bytes: e.size, crc32: e.crc32 };
}

/**
 * Streams the rows of a data.binance.vision zip (one CSV entry) as batches: at most `batchSize`
 * rows each, with the lines rejected meanwhile; the caller pulls the next batch when it has
 * published the last (back-pressure). Returns a summary. Throws CorruptArchiveError as the
 * module comment says; a file system error (ENOENT, EIO) as it is.
 */
export async function* parseArchive(
  file: string,
  opts: ParseOptions,
): AsyncGenerator<ParsedBatch, ParseSummary, undefined> {
  const e = await locate(file);
  if (opts.verifyFirst ?? true) for await (const _ of chunks(file, e, opts.signal));
  const batcher = new RowBatcher(opts);
  for await (const chunk of chunks(file, e, opts.signal)) {
    batcher.push(chunk);
    for (const batch of batcher.take()) yield batch;
  }
  batcher.end();
  for (const batch of batcher.take()) yield batch;
  return {
    entry: e.name,
    bytes: e.size,
    lines: batcher.lines,
    rows: batcher.rowCount,
    rejected: batcher.rejectedCount,
    header: batcher.header,
    microsecondTimes: batcher.microsecondTimes,
  };
}
