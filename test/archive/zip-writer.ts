/**
 * A minimal zip writer for fixtures (tests and bench/archive-parse.ts): one deflated entry, the
 * layout data.binance.vision serves (one CSV per zip). Written by hand on node:zlib so a test can
 * build any file it needs, including broken ones, without a zip library: local file header,
 * raw deflate data, central directory, end of central directory (PKWARE APPNOTE 4.3; no zip64,
 * so entries stay under 4 GiB).
 */
import { open } from 'node:fs/promises';
import { once } from 'node:events';
import { createDeflateRaw, crc32, deflateRawSync } from 'node:zlib';

const DOS_TIME = 0; // 00:00:00
const DOS_DATE = (2024 - 1980) * 512 + 1 * 32 + 1; // 2024-01-01

function localHeader(name: Buffer, crc: number, compressed: number, size: number): Buffer {
  const h = Buffer.alloc(30);
  h.writeUInt32LE(0x04034b50, 0);
  h.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
  h.writeUInt16LE(0, 6); // flags
  h.writeUInt16LE(8, 8); // method: deflate
  h.writeUInt16LE(DOS_TIME, 10);
  h.writeUInt16LE(DOS_DATE, 12);
  h.writeUInt32LE(crc >>> 0, 14);
  h.writeUInt32LE(compressed, 18);
  h.writeUInt32LE(size, 22);
  h.writeUInt16LE(name.length, 26);
  h.writeUInt16LE(0, 28);
  return Buffer.concat([h, name]);
}

function trailer(
  name: Buffer,
  crc: number,
  compressed: number,
  size: number,
  localOffset: number,
  centralOffset: number,
): Buffer {
  const c = Buffer.alloc(46);
  c.writeUInt32LE(0x02014b50, 0);
  c.writeUInt16LE(20, 4); // version made by
  c.writeUInt16LE(20, 6); // version needed
  c.writeUInt16LE(0, 8);
  c.writeUInt16LE(8, 10);
  c.writeUInt16LE(DOS_TIME, 12);
  c.writeUInt16LE(DOS_DATE, 14);
  c.writeUInt32LE(crc >>> 0, 16);
  c.writeUInt32LE(compressed, 20);
  c.writeUInt32LE(size, 24);
  c.writeUInt16LE(name.length, 28);
  // extra length, comment length, disk number, internal and external attributes: 0
  c.writeUInt32LE(localOffset, 42);
  const central = Buffer.concat([c, name]);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8); // entries on this disk
  end.writeUInt16LE(1, 10); // entries in total
  end.writeUInt32LE(central.length, 12);
  end.writeUInt32LE(centralOffset, 16);
  return Buffer.concat([central, end]);
}

/** A whole zip holding `data` as the one entry `name`, in memory. */
export function zipOne(name: string, data: Buffer | string): Buffer {
  const body = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  const n = Buffer.from(name, 'utf8');
  const deflated = deflateRawSync(body);
  const crc = crc32(body);
  const head = localHeader(n, crc, deflated.length, body.length);
  return Buffer.concat([
    head,
    deflated,
    trailer(n, crc, deflated.length, body.length, 0, head.length + deflated.length),
  ]);
}

/**
 * Streams the chunks `parts` yields into a zip at `path` as the one entry `name` (memory stays at
 * one chunk plus zlib's window): the local header is written with zero sizes and patched at the end.
 */
export async function writeZipFile(
  path: string,
  name: string,
  parts: Iterable<Buffer | string> | AsyncIterable<Buffer | string>,
): Promise<{ bytes: number; csvBytes: number }> {
  const n = Buffer.from(name, 'utf8');
  const file = await open(path, 'w');
  try {
    let offset = (await file.write(localHeader(n, 0, 0, 0), 0, 30 + n.length, 0)).bytesWritten;
    const deflate = createDeflateRaw({ level: 6 });
    let crc = 0;
    let size = 0;
    let compressed = 0;
    const drained = (async () => {
      for await (const chunk of deflate) {
        const c = chunk as Buffer;
        await file.write(c, 0, c.length, offset);
        offset += c.length;
        compressed += c.length;
      }
    })();
    for await (const part of parts) {
      const b = typeof part === 'string' ? Buffer.from(part, 'latin1') : part;
      crc = crc32(b, crc);
      size += b.length;
      if (!deflate.write(b)) await once(deflate, 'drain');
    }
    deflate.end();
    await drained;
    const tail = trailer(n, crc, compressed, size, 0, offset);
    await file.write(tail, 0, tail.length, offset);
    await file.write(localHeader(n, crc, compressed, size), 0, 30, 0);
    return { bytes: offset + tail.length, csvBytes: size };
  } finally {
    await file.close();
  }
}
