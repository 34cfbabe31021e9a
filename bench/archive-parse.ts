/**
 * Archive parse throughput (issue 12 "Measure": parse alone, unzip + CSV → rows, aim ≥ 2 M rows/s
 * on one core; flat memory on a month of 1s klines).
 *
 * Generates zips in the data.binance.vision layouts into a temp dir (test/archive/zip-writer.ts,
 * deflate level 6): a month of spot 1m klines (44,640 rows, ms), BENCH_ROWS rows of spot 1s klines
 * (default 2,678,400: a month, µs as from 2025) and as many spot trades (µs). Then, per file, in
 * rounds that interleave the variants (so all see the same machine load), one core each:
 *
 * - floor: the entry's raw deflate data read in 1 MiB pieces, zlib inflate (1 MiB chunks), each
 *   chunk turned into a string and `split('\n')` (the least any parser must do);
 * - yauzl openReadStream + split: the same through yauzl's own stream (16 KiB reads and chunks);
 * - verifyArchive: inflate + CRC-32 only (the first pass of `verifyFirst`);
 * - parseArchive one pass (`verifyFirst: false`) and two passes (`verifyFirst: true`, the default);
 * - csv-parse, when installed (`npm install --no-save csv-parse`): the same inflate stream into
 *   csv-parse's stream (arrays of strings), and those arrays turned into rows with the same checks.
 *
 * Rates are rows per second of wall time and of process CPU time (all threads: zlib may run on
 * the thread pool), medians of BENCH_ROUNDS rounds; `/floor` is the CPU rate over the floor's.
 * Peak RSS: each variant once more in its own child process (process.resourceUsage().maxRSS).
 *
 * BENCH_DOWNLOAD=1 also times downloading the 1s zip over loopback (node:http, as download.ts)
 * against the same work on fetch: GET, SHA-256, write to a file.
 *
 *   npx tsx bench/archive-parse.ts        BENCH_ROWS=2678400 BENCH_ROUNDS=3 BENCH_DOWNLOAD=0
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path, { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import { pipeline } from 'node:stream/promises';
import { createInflateRaw } from 'node:zlib';
import yauzl from 'yauzl';
import { createArchiveClient } from '../shared/archive/download.ts';
import type { ArchiveKind } from '../shared/archive/csv-rows.ts';
import { parseArchive, verifyArchive } from '../shared/archive/parse.ts';
import { DECIMAL_PATTERN } from '../shared/contracts/common.ts';
import type { Row } from '../shared/contracts/rows.ts';
import { writeZipFile } from '../test/archive/zip-writer.ts';

const ROWS = Number(process.env['BENCH_ROWS'] ?? 2_678_400);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const DOWNLOAD = process.env['BENCH_DOWNLOAD'] === '1';
const repoRoot = path.resolve(import.meta.dirname, '..');
const CHUNK = 1024 * 1024;

interface Fixture {
  label: string;
  file: string;
  kind: ArchiveKind;
  rows: number;
}

// --- fixtures: realistic values (price ticks 0.01, qty steps 1e-5), not repeated lines ---

function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 4294967296;
}

/** An integer count of 10^-d units as a decimal string with d decimals. */
function fixed(units: number, d: number): string {
  const s = String(units).padStart(d + 1, '0');
  return `${s.slice(0, -d)}.${s.slice(-d)}`;
}

/** Lines of `n` klines from `start` every `step` ms, in 1000-line pieces; µs times if `micros`. */
function* klines(n: number, start: number, step: number, micros: boolean): Generator<string> {
  const rnd = lcg(42);
  let cents = 9_357_600;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const t = start + i * step;
    const open = cents;
    cents = Math.max(100, open + Math.round((rnd() - 0.5) * 2000));
    const high = Math.max(open, cents) + Math.round(rnd() * 500);
    const low = Math.min(open, cents) - Math.round(rnd() * 500);
    const vol = Math.round(rnd() * 300_000); // 1e-5 units
    const buy = Math.round(vol * rnd());
    const [ot, ct] = micros ? [`${t}000`, `${t + step - 1}999`] : [`${t}`, `${t + step - 1}`];
    lines.push(
      `${ot},${fixed(open, 2)}000000,${fixed(high, 2)}000000,${fixed(low, 2)}000000,${fixed(cents, 2)}000000,` +
        `${fixed(vol, 5)}000,${ct},${fixed(vol * cents, 7)}0,${Math.floor(rnd() * 500)},${fixed(buy, 5)}000,` +
        `${fixed(buy * cents, 7)}0,0\n`,
    );
    if (lines.length === 1000) yield lines.splice(0).join('');
  }
  if (lines.length > 0) yield lines.join('');
}

/** Lines of `n` spot trades (µs times), in 1000-line pieces. */
function* trades(n: number, start: number): Generator<string> {
  const rnd = lcg(7);
  let cents = 9_357_600;
  let t = start * 1000;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    cents = Math.max(100, cents + Math.round((rnd() - 0.5) * 4));
    const qty = 1 + Math.round(rnd() * rnd() * 100_000); // 1e-5 units
    t += Math.floor(rnd() * 2000);
    lines.push(
      `${4_377_600_000 + i},${fixed(cents, 2)}000000,${fixed(qty, 5)}000,${fixed(qty * cents, 7)}0,${t},` +
        `${rnd() < 0.5 ? 'True' : 'False'},True\n`,
    );
    if (lines.length === 1000) yield lines.splice(0).join('');
  }
  if (lines.length > 0) yield lines.join('');
}

async function fixtures(dir: string): Promise<Fixture[]> {
  const jan2024 = Date.UTC(2024, 0, 1);
  const jan2025 = Date.UTC(2025, 0, 1);
  const out: Fixture[] = [
    {
      label: 'spot 1m klines, a month (ms)',
      file: join(dir, 'BTCUSDT-1m-2024-01.zip'),
      kind: 'kline',
      rows: 44_640,
    },
    {
      label: `spot 1s klines, ${ROWS} rows (µs)`,
      file: join(dir, 'BTCUSDT-1s-2025-01.zip'),
      kind: 'kline',
      rows: ROWS,
    },
    {
      label: `spot trades, ${ROWS} rows (µs)`,
      file: join(dir, 'BTCUSDT-trades-2025-01.zip'),
      kind: 'trade',
      rows: ROWS,
    },
  ];
  const sources = [
    klines(44_640, jan2024, 60_000, false),
    klines(ROWS, jan2025, 1000, true),
    trades(ROWS, jan2025),
  ];
  for (const [i, f] of out.entries()) {
    const t0 = performance.now();
    const r = await writeZipFile(f.file, path.basename(f.file).replace('.zip', '.csv'), sources[i]!);
    console.log(
      `generated ${path.basename(f.file)}: ${f.rows} rows, ${(r.csvBytes / 1e6).toFixed(1)} MB CSV, ` +
        `${(r.bytes / 1e6).toFixed(1)} MB zip (${((performance.now() - t0) / 1000).toFixed(1)} s)`,
    );
  }
  return out;
}

// --- variants: each returns the rows it saw ---

async function locate(file: string): Promise<{ zip: yauzl.ZipFile; entry: yauzl.Entry; start: number }> {
  const zip = await yauzl.openPromise(file, { autoClose: false });
  const entry = (await zip.eachEntry().next()).value as yauzl.Entry;
  const { fileDataStart } = await zip.readLocalFileHeaderPromise(entry, { minimal: true });
  return { zip, entry, start: fileDataStart };
}

/** The entry inflated the way parse.ts does it. */
async function inflated(file: string): Promise<Readable> {
  const { zip, entry, start } = await locate(file);
  zip.close();
  const raw = createReadStream(file, { start, end: start + entry.compressedSize - 1, highWaterMark: CHUNK });
  return raw.pipe(createInflateRaw({ chunkSize: CHUNK }));
}

/** Lines of a stream of chunks, by toString + split('\n'). */
async function splitLines(stream: Readable): Promise<number> {
  let lines = 0;
  let carry = '';
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const parts = (carry + chunk.toString('latin1')).split('\n');
    carry = parts.pop()!;
    lines += parts.length;
  }
  return lines + (carry === '' ? 0 : 1);
}

const TIME = /^(\d{13}|\d{16})$/;
const INT = /^\d{1,15}$/;
const BOOL: Record<string, boolean> = { True: true, False: false, true: true, false: false };
const time = (s: string): number => (TIME.test(s) ? Number(s.slice(0, 13)) : NaN);
const dec = (s: string): string => (DECIMAL_PATTERN.test(s) ? s : '');
const int = (s: string): number => (INT.test(s) ? Number(s) : NaN);

/** csv-parse's arrays as rows, with the checks csv-rows.ts makes (undefined: rejected). */
function toRow(kind: ArchiveKind, f: string[]): Row | undefined {
  const row =
    kind === 'kline'
      ? [
          time(f[0]!),
          dec(f[1]!),
          dec(f[2]!),
          dec(f[3]!),
          dec(f[4]!),
          dec(f[5]!),
          time(f[6]!),
          dec(f[7]!),
          int(f[8]!),
          dec(f[9]!),
          dec(f[10]!),
          f[11],
        ]
      : [int(f[0]!), dec(f[1]!), dec(f[2]!), dec(f[3]!), time(f[4]!), BOOL[f[5]!], BOOL[f[6]!] ?? null];
  return row.some((v) => v === '' || v === undefined || Number.isNaN(v)) ? undefined : row;
}

type CsvParse = (opts: object) => NodeJS.ReadWriteStream;
async function csvParse(): Promise<CsvParse | undefined> {
  const name = 'csv-parse'; // not a dependency: measured when installed with --no-save
  try {
    return ((await import(name)) as { parse: CsvParse }).parse;
  } catch {
    return undefined;
  }
}

async function viaCsvParse(parse: CsvParse, f: Fixture, convert: boolean): Promise<number> {
  let rows = 0;
  const sink = new Writable({
    objectMode: true,
    highWaterMark: 1024,
    write(record: string[], _enc, cb) {
      if (!convert || toRow(f.kind, record) !== undefined) rows++;
      cb();
    },
  });
  await pipeline(await inflated(f.file), parse({ delimiter: ',' }), sink);
  return rows;
}

async function viaParseArchive(f: Fixture, verifyFirst: boolean): Promise<number> {
  let rows = 0;
  for await (const batch of parseArchive(f.file, { kind: f.kind, market: 'spot', verifyFirst }))
    rows += batch.rows.length;
  return rows;
}

type Variant = [label: string, run: (f: Fixture) => Promise<number>];

async function variants(): Promise<Variant[]> {
  const parse = await csvParse();
  return [
    ["floor: inflate + split('\\n')", async (f) => splitLines(await inflated(f.file))],
    [
      "yauzl openReadStream + split('\\n')",
      async (f) => {
        const { zip, entry } = await locate(f.file);
        const lines = await splitLines(await zip.openReadStreamPromise(entry));
        zip.close();
        return lines;
      },
    ],
    ['verifyArchive (inflate + CRC)', async (f) => ((await verifyArchive(f.file)).bytes > 0 ? f.rows : 0)],
    ['parseArchive, one pass', (f) => viaParseArchive(f, false)],
    ['parseArchive, verifyFirst (default)', (f) => viaParseArchive(f, true)],
    ...(parse === undefined
      ? []
      : ([
          ['csv-parse: arrays of strings', (f) => viaCsvParse(parse, f, false)],
          ['csv-parse + to rows (same checks)', (f) => viaCsvParse(parse, f, true)],
        ] satisfies Variant[])),
  ];
}

// --- measurement ---

interface Sample {
  wall: number;
  cpu: number;
}

async function measure(run: () => Promise<number>, expected: number): Promise<Sample> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const rows = await run();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  if (rows !== expected) throw new Error(`expected ${expected} rows, got ${rows}`);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Child mode: one variant on one file, then its peak RSS. */
async function child(variant: string, fixture: string): Promise<void> {
  const f = JSON.parse(fixture) as Fixture;
  const v = (await variants()).find(([label]) => label === variant)!;
  await v[1](f);
  process.stdout.write(JSON.stringify({ maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}

function peakRss(variant: string, f: Fixture): number {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'bench/archive-parse.ts', '--child', variant, JSON.stringify(f)],
    { cwd: repoRoot, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`child failed: ${r.stderr}`);
  return (JSON.parse(r.stdout) as { maxRssMb: number }).maxRssMb;
}

async function download(f: Fixture, dir: string): Promise<void> {
  const body = await readFile(f.file);
  const name = path.basename(f.file);
  const sha = createHash('sha256').update(body).digest('hex');
  const server = http.createServer((req, res) => {
    if (req.url?.endsWith('.CHECKSUM')) res.end(`${sha}  ${name}`);
    else {
      res.writeHead(200, { 'content-length': body.length });
      res.end(body);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = createArchiveClient({ baseUrl: base, dir });
  const viaHttp = async (): Promise<number> => {
    const out = await client.download(`data/${name}`);
    if (out.kind !== 'ok') throw new Error(out.kind);
    await rm(out.file);
    return out.bytes;
  };
  const viaFetch = async (): Promise<number> => {
    const res = await fetch(`${base}/data/${name}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const file = join(dir, `${name}.fetch`);
    await pipeline(
      Readable.fromWeb(res.body! as ReadableStream<Uint8Array>),
      async function* (src: AsyncIterable<Buffer>) {
        for await (const c of src) {
          hash.update(c);
          bytes += c.length;
          yield c;
        }
      },
      createWriteStream(file),
    );
    if (hash.digest('hex') !== sha) throw new Error('hash');
    await rm(file);
    return bytes;
  };
  const samples: Record<string, Sample[]> = { 'node:http (download.ts)': [], fetch: [] };
  for (let round = 0; round < ROUNDS + 1; round++) {
    const a = await measure(viaHttp, body.length);
    const b = await measure(viaFetch, body.length);
    if (round === 0) continue; // warm-up
    samples['node:http (download.ts)']!.push(a);
    samples['fetch']!.push(b);
  }
  client.close();
  server.close();
  console.log(
    `\ndownload of ${name} (${(body.length / 1e6).toFixed(1)} MB) over loopback, SHA-256 + file, medians:`,
  );
  for (const [label, xs] of Object.entries(samples))
    console.log(
      `  ${label.padEnd(26)} wall ${median(xs.map((x) => x.wall)).toFixed(0)} ms  cpu ${median(xs.map((x) => x.cpu)).toFixed(0)} ms` +
        `  (cpu range ${Math.min(...xs.map((x) => x.cpu)).toFixed(0)}–${Math.max(...xs.map((x) => x.cpu)).toFixed(0)})`,
    );
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sf-bench-archive-'));
  try {
    const files = await fixtures(dir);
    const vs = await variants();
    const samples = new Map<string, Sample[]>();
    // Warm-up of every variant on small files of each kind (JIT, page cache), not counted.
    const warm: Fixture = {
      label: 'warm-up',
      file: join(dir, 'warm-trades.zip'),
      kind: 'trade',
      rows: 20_000,
    };
    await writeZipFile(warm.file, 'warm-trades.csv', trades(warm.rows, Date.UTC(2025, 0, 1)));
    for (const f of [files[0]!, warm]) for (const [, run] of vs) await measure(() => run(f), f.rows);
    for (let round = 0; round < ROUNDS; round++)
      for (const f of files)
        for (const [label, run] of vs) {
          const key = `${f.label}|${label}`;
          samples.set(key, [...(samples.get(key) ?? []), await measure(() => run(f), f.rows)]);
        }
    console.log(
      `\none core, median of ${ROUNDS} rounds; rows/s of wall and of CPU time; /floor = CPU rate / floor's`,
    );
    for (const f of files) {
      const csv = statSync(f.file).size;
      console.log(`\n${f.label}: ${f.rows} rows, zip ${(csv / 1e6).toFixed(1)} MB`);
      console.log(
        `  ${'variant'.padEnd(38)} ${'rows/s wall'.padStart(12)} ${'rows/s cpu'.padStart(12)} ${'/floor'.padStart(7)} ${'peak RSS'.padStart(9)}`,
      );
      const rate = (ms: number): number => (f.rows / ms) * 1000;
      const floorCpu = rate(median(samples.get(`${f.label}|${vs[0]![0]}`)!.map((x) => x.cpu)));
      for (const [label] of vs) {
        const xs = samples.get(`${f.label}|${label}`)!;
        const wall = rate(median(xs.map((x) => x.wall)));
        const cpu = rate(median(xs.map((x) => x.cpu)));
        const rss = `${peakRss(label, f).toFixed(0)} MB`;
        console.log(
          `  ${label.padEnd(38)} ${Math.round(wall).toLocaleString('en').padStart(12)} ${Math.round(cpu).toLocaleString('en').padStart(12)} ${(cpu / floorCpu).toFixed(2).padStart(7)} ${rss.padStart(9)}`,
        );
      }
    }
    if (DOWNLOAD) await download(files[1]!, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const at = process.argv.indexOf('--child');
const run = at >= 0 ? child(process.argv[at + 1]!, process.argv[at + 2]!) : main();
run.catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
