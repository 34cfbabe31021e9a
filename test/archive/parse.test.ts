/**
 * The archive parser on zips built here (zip-writer.ts) in the layouts of binance.md §5: spot
 * klines in ms and in µs, USD-M files with and without their header row, trades and aggTrades of
 * both markets, lines that do not parse, and zips that are truncated or corrupt. Every row must
 * also pass the row schema the sink checks (rows.ts `checkRows`).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Market } from '../../shared/contracts/common.ts';
import { checkRows, type Row } from '../../shared/contracts/rows.ts';
import { MAX_LINE, RowBatcher } from '../../shared/archive/csv-batches.ts';
import type { ArchiveKind } from '../../shared/archive/csv-rows.ts';
import {
  CorruptArchiveError,
  parseArchive,
  verifyArchive,
  type ParsedBatch,
  type ParseOptions,
  type ParseSummary,
} from '../../shared/archive/parse.ts';
import { zipOne } from './zip-writer.ts';

const dir = mkdtempSync(join(tmpdir(), 'sf-archive-parse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let fileNo = 0;
/** A zip holding `csv` as its one entry, on disk. */
function zipFile(csv: string | Buffer, name = 'X.csv'): string {
  const path = join(dir, `f${++fileNo}.zip`);
  writeFileSync(path, zipOne(name, csv));
  return path;
}

async function parseAll(
  file: string,
  opts: ParseOptions,
): Promise<{ batches: ParsedBatch[]; rows: Row[]; summary: ParseSummary }> {
  const gen = parseArchive(file, opts);
  const batches: ParsedBatch[] = [];
  for (;;) {
    const next = await gen.next();
    if (next.done === true) return { batches, rows: batches.flatMap((b) => b.rows), summary: next.value };
    batches.push(next.value);
  }
}

/** Parses and checks every row against the row schema of its kind. */
async function rowsOf(csv: string, kind: ArchiveKind, market: Market) {
  const out = await parseAll(zipFile(csv), { kind, market });
  expect(checkRows(kind, out.rows).bad).toEqual([]);
  expect(out.batches.flatMap((b) => b.rejected)).toEqual([]);
  return out;
}

const KLINE_MS =
  '1698796800000,34639.77000000,34700.00000000,34600.00000000,34650.01000000,123.45678000,1698800399999,4278901.12345678,4567,60.12345000,2083456.78901234,0';
const KLINE_MS_ROW = [
  1698796800000,
  '34639.77000000',
  '34700.00000000',
  '34600.00000000',
  '34650.01000000',
  '123.45678000',
  1698800399999,
  '4278901.12345678',
  4567,
  '60.12345000',
  '2083456.78901234',
  '0',
];

describe('archive parser: klines', () => {
  it('parses a spot file in ms into the exchange 12-field rows, decimals as written', async () => {
    const second = KLINE_MS.replace('1698796800000', '1698800400000').replace(
      '1698800399999',
      '1698803999999',
    );
    const { rows, summary } = await rowsOf(`${KLINE_MS}\n${second}\n`, 'kline', 'spot');
    expect(rows).toEqual([
      KLINE_MS_ROW,
      [1698800400000, ...KLINE_MS_ROW.slice(1, 6), 1698803999999, ...KLINE_MS_ROW.slice(7)],
    ]);
    expect(summary).toMatchObject({
      entry: 'X.csv',
      lines: 2,
      rows: 2,
      rejected: 0,
      header: undefined,
      microsecondTimes: 0,
    });
  });

  it('stores a spot file in µs (2025 on) as ms by magnitude', async () => {
    const line =
      '1735689600000000,93576.00000000,94000.00000000,93500.00000000,93800.00000000,10.00000000,1735693199999999,938000.00000000,1000,5.00000000,469000.00000000,0';
    const { rows, summary } = await rowsOf(`${line}\n`, 'kline', 'spot');
    expect(rows[0]![0]).toBe(1735689600000);
    expect(rows[0]![6]).toBe(1735693199999);
    expect(summary.microsecondTimes).toBe(2);
  });

  it('skips the header row of a USD-M file, counting it as line 1', async () => {
    const header =
      'open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore';
    const { rows, summary, batches } = await parseAll(zipFile(`${header}\n${KLINE_MS}\nnot,a,line\n`), {
      kind: 'kline',
      market: 'usdm',
    });
    expect(rows).toEqual([KLINE_MS_ROW]);
    expect(summary.header).toBe(header);
    expect(batches.flatMap((b) => b.rejected).map((r) => r.line)).toEqual([3]);
  });

  it('parses a USD-M file without a header row', async () => {
    const { rows, summary } = await rowsOf(`${KLINE_MS}\n`, 'kline', 'usdm');
    expect(rows).toEqual([KLINE_MS_ROW]);
    expect(summary.header).toBeUndefined();
  });

  it('takes CRLF line ends, a last line without newline and empty lines', async () => {
    const { rows, summary } = await rowsOf(`${KLINE_MS}\r\n\r\n${KLINE_MS}`, 'kline', 'spot');
    expect(rows).toEqual([KLINE_MS_ROW, KLINE_MS_ROW]);
    expect(summary.lines).toBe(3);
  });
});

describe('archive parser: trades and aggTrades', () => {
  it('spot trades: True/False become booleans, is_best_match kept', async () => {
    const csv =
      '3318089620,42283.58000000,0.00080000,33.82686400,1704067200042,True,True\n3318089621,42283.59000000,0.00200000,84.56718000,1704067200043,False,True\n';
    const { rows } = await rowsOf(csv, 'trade', 'spot');
    expect(rows).toEqual([
      [3318089620, '42283.58000000', '0.00080000', '33.82686400', 1704067200042, true, true],
      [3318089621, '42283.59000000', '0.00200000', '84.56718000', 1704067200043, false, true],
    ]);
  });

  it('spot trades in µs (2025 on)', async () => {
    const { rows } = await rowsOf(
      '4377600000,93576.00000000,0.00100000,93.57600000,1735689600012345,True,True\n',
      'trade',
      'spot',
    );
    expect(rows[0]![4]).toBe(1735689600012);
  });

  it('USD-M trades: header, lower-case booleans, no is_best_match (null)', async () => {
    const csv =
      'id,price,qty,quote_qty,time,is_buyer_maker\n4509946532,42314.00,0.010,423.14000,1704067200117,true\n4509946533,42314.10,0.002,84.62820,1704067200200,false\n';
    const { rows, summary } = await rowsOf(csv, 'trade', 'usdm');
    expect(summary.header).toBe('id,price,qty,quote_qty,time,is_buyer_maker');
    expect(rows).toEqual([
      [4509946532, '42314.00', '0.010', '423.14000', 1704067200117, true, null],
      [4509946533, '42314.10', '0.002', '84.62820', 1704067200200, false, null],
    ]);
  });

  it('spot aggTrades with True/False', async () => {
    const { rows } = await rowsOf(
      '3012432640,42283.58000000,0.00080000,3318089620,3318089621,1704067200042,False,True\n',
      'agg_trade',
      'spot',
    );
    expect(rows).toEqual([
      [3012432640, '42283.58000000', '0.00080000', 3318089620, 3318089621, 1704067200042, false, true],
    ]);
  });

  it('USD-M aggTrades: header, lower-case booleans, is_best_match null', async () => {
    const csv =
      'agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n1983914240,42314.00,0.010,4509946532,4509946533,1704067200117,true\n';
    const { rows } = await rowsOf(csv, 'agg_trade', 'usdm');
    expect(rows).toEqual([
      [1983914240, '42314.00', '0.010', 4509946532, 4509946533, 1704067200117, true, null],
    ]);
  });
});

describe('archive parser: lines that do not parse', () => {
  const good = (i: number): string =>
    `${i},42283.58000000,0.00080000,33.82686400,${1704067200000 + i},True,True`;

  it('yields each bad line with its line number, text and reason, and parses the rest', async () => {
    const bad = [
      'abc,42283.58000000,0.00080000,33.82686400,1704067200000,True,True', // non-numeric id
      '7,42283.58000000,0.00080000,33.82686400,1704067200,True,True', // 10-digit time
      '8,42283.58000000,0.00080000,33.82686400,1704067200000,True', // a field short
      '9,42283.5.8,0.00080000,33.82686400,1704067200000,True,True', // not a decimal
      '10,42283.58000000,0.00080000,33.82686400,1704067200000,yes,True', // not a boolean
      '11,42283.58000000,0.00080000,33.82686400,1704067200000,True,True,extra', // a field too many
    ];
    const lines = [good(1), good(2), ...bad, good(3)];
    const { rows, batches } = await parseAll(zipFile(`${lines.join('\n')}\n`), {
      kind: 'trade',
      market: 'spot',
    });
    expect(rows.map((r) => r[0])).toEqual([1, 2, 3]);
    const rejected = batches.flatMap((b) => b.rejected);
    expect(rejected.map((r) => r.line)).toEqual([3, 4, 5, 6, 7, 8]);
    expect(rejected.map((r) => r.text)).toEqual(bad);
    expect(rejected.map((r) => r.reason)).toEqual([
      'field 1 (id): expected an integer of at most 15 digits, got "abc"',
      'field 5 (time): expected a time of 13 digits (ms) or 16 digits (µs), got "1704067200"',
      'expected 7 fields (id,price,qty,quote_qty,time,is_buyer_maker,is_best_match), got 6',
      'field 2 (price): expected a decimal, got "42283.5.8"',
      'field 6 (is_buyer_maker): expected True, False, true or false, got "yes"',
      'expected 7 fields (id,price,qty,quote_qty,time,is_buyer_maker,is_best_match), got 8',
    ]);
  });

  it('cuts a rejected line to 500 characters', async () => {
    const long = `x${'9'.repeat(2000)}`;
    const { batches } = await parseAll(zipFile(`${good(1)}\n${long}\n`), { kind: 'trade', market: 'spot' });
    const [r] = batches.flatMap((b) => b.rejected);
    expect(r!.line).toBe(2);
    expect(r!.text).toBe(long.slice(0, 500));
  });
});

describe('archive parser: batches and chunks', () => {
  const lines = Array.from(
    { length: 20_000 },
    (_, i) =>
      `${i + 1},${(40000 + i / 100).toFixed(8)},0.00100000,40.00000000,${1704067200000 + i},${i % 2 === 0 ? 'True' : 'False'},True`,
  );
  const csv = `${lines.join('\n')}\n`;

  it('cuts batches at batchSize, in order, across inflate chunks and string windows', async () => {
    const { batches, summary } = await parseAll(zipFile(csv), {
      kind: 'trade',
      market: 'spot',
      batchSize: 3000,
    });
    expect(batches.map((b) => b.rows.length)).toEqual([3000, 3000, 3000, 3000, 3000, 3000, 2000]);
    expect(batches.map((b) => b.lastLine)).toEqual([3000, 6000, 9000, 12000, 15000, 18000, 20000]);
    const ids = batches.flatMap((b) => b.rows.map((r) => r[0]));
    expect(ids).toEqual(Array.from({ length: 20_000 }, (_, i) => i + 1));
    expect(summary).toMatchObject({ lines: 20_000, rows: 20_000, bytes: csv.length });
  });

  it('resumes after a batch: lines up to afterLine are skipped', async () => {
    const { rows } = await parseAll(zipFile(csv), { kind: 'trade', market: 'spot', afterLine: 19_990 });
    expect(rows.map((r) => r[0])).toEqual(Array.from({ length: 10 }, (_, i) => 19_991 + i));
  });

  it('rejects a line longer than MAX_LINE across chunks without keeping it, and goes on', () => {
    const long = `9${'0'.repeat(100_000)}`;
    const text = Buffer.from(`${lines[0]}\n${long}\n${lines[1]}\n`, 'latin1');
    const b = new RowBatcher({ kind: 'trade', market: 'spot' });
    for (let i = 0; i < text.length; i += 10_000) b.push(text.subarray(i, i + 10_000));
    b.end();
    const batches = b.take();
    expect(batches.flatMap((x) => x.rows.map((r) => r[0]))).toEqual([1, 2]);
    expect(batches.flatMap((x) => x.rejected)).toEqual([
      { line: 2, text: long.slice(0, 500), reason: `line longer than ${MAX_LINE} bytes` },
    ]);
  });

  it('gives the same rows whatever the chunk boundaries (one byte at a time)', () => {
    const text = Buffer.from(`${lines.slice(0, 50).join('\r\n')}\r\n${lines[50]}`, 'latin1');
    const whole = new RowBatcher({ kind: 'trade', market: 'spot' });
    whole.push(text);
    whole.end();
    const bytewise = new RowBatcher({ kind: 'trade', market: 'spot' });
    for (let i = 0; i < text.length; i++) bytewise.push(text.subarray(i, i + 1));
    bytewise.end();
    const a = whole.take().flatMap((b) => b.rows);
    expect(a).toHaveLength(51);
    expect(bytewise.take().flatMap((b) => b.rows)).toEqual(a);
  });
});

describe('archive parser: broken zips', () => {
  // Varied lines (so the deflate data is long: ~10 MB of CSV, several inflate chunks).
  const csv = `${Array.from({ length: 60_000 }, (_, i) =>
    KLINE_MS.replace('34639.77000000', (30000 + ((i * 7919) % 10007) / 100).toFixed(8)),
  ).join('\n')}\n`;

  it('a truncated zip throws CorruptArchiveError before any batch', async () => {
    const zip = zipOne('X.csv', csv);
    const path = join(dir, 'truncated.zip');
    writeFileSync(path, zip.subarray(0, Math.floor(zip.length / 2)));
    const gen = parseArchive(path, { kind: 'kline', market: 'spot' });
    await expect(gen.next()).rejects.toBeInstanceOf(CorruptArchiveError);
  });

  /** The zip with bytes in the middle of its deflate data overwritten. */
  function damaged(): string {
    const zip = Buffer.from(zipOne('X.csv', csv));
    const mid = Math.floor(zip.length / 2);
    zip.fill(0x5a, mid, mid + 16);
    const path = join(dir, `damaged-${++fileNo}.zip`);
    writeFileSync(path, zip);
    return path;
  }

  it('a corrupt deflate stream throws CorruptArchiveError before any batch (verifyFirst)', async () => {
    const gen = parseArchive(damaged(), { kind: 'kline', market: 'spot', batchSize: 10 });
    await expect(gen.next()).rejects.toBeInstanceOf(CorruptArchiveError);
    await expect(verifyArchive(damaged())).rejects.toBeInstanceOf(CorruptArchiveError);
  });

  it('without verifyFirst the same file may yield batches, then throws CorruptArchiveError', async () => {
    const batches: ParsedBatch[] = [];
    const run = async (): Promise<void> => {
      for await (const b of parseArchive(damaged(), {
        kind: 'kline',
        market: 'spot',
        batchSize: 10,
        verifyFirst: false,
      }))
        batches.push(b);
    };
    await expect(run()).rejects.toBeInstanceOf(CorruptArchiveError);
    expect(batches.length).toBeGreaterThan(0);
  });

  it('a CRC-32 that does not match the data throws CorruptArchiveError naming the CRC', async () => {
    const zip = Buffer.from(zipOne('X.csv', csv));
    const central = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE((zip.readUInt32LE(central + 16) ^ 1) >>> 0, central + 16);
    const path = join(dir, 'crc.zip');
    writeFileSync(path, zip);
    const err = await parseAll(path, { kind: 'kline', market: 'spot' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CorruptArchiveError);
    expect((err as Error).message).toMatch(/CRC-32/);
  });

  it('an aborted signal stops the parse with its reason', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await expect(
      parseAll(zipFile(csv), { kind: 'kline', market: 'spot', signal: ac.signal }),
    ).rejects.toThrow('stop');
  });

  it('a file that is not there is a file system error, not a corrupt archive', async () => {
    const err = await parseAll(join(dir, 'nope.zip'), { kind: 'kline', market: 'spot' }).catch(
      (e: unknown) => e,
    );
    expect(err).not.toBeInstanceOf(CorruptArchiveError);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('verifyArchive reports the entry, its size and CRC', async () => {
    const r = await verifyArchive(zipFile(csv, 'BTCUSDT-1h-2023-11.csv'));
    expect(r.entry).toBe('BTCUSDT-1h-2023-11.csv');
    expect(r.bytes).toBe(csv.length);
  });
});
