/**
 * `streamforge export`: streams GET /series/{market}/{symbol}/{dataset}/export into a file (or
 * stdout with `--out -`), with backpressure end to end (the file's writes pace the download).
 * The file is written as `<file>.part` and renamed when complete, so a cut transfer never leaves
 * a file that looks whole. On a terminal a progress bar shows rows (CSV: the series' count from
 * GET /series/{…} is the total) or bytes (Parquet: rows are only known from the footer).
 */
import { once } from 'node:events';
import { createWriteStream, statSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { SingleBar, Presets } from 'cli-progress';
import { UnreachableError, type ManagerClient, type SeriesRef } from './client.ts';
import { bytes } from './format.ts';
import type { Io } from './watch.ts';

export interface ExportOptions {
  format: 'csv' | 'parquet';
  from?: string | undefined;
  to?: string | undefined;
  /** A file, a directory (the server's file name in it) or `-` for stdout; default the current directory. */
  out?: string | undefined;
  json: boolean;
  io: Io;
  cwd?: string;
}

export interface ExportSummary {
  file: string;
  format: 'csv' | 'parquet';
  bytes: number;
  /** Data rows written (CSV; Parquet files say it in their footer). */
  rows?: number;
  series: SeriesRef & { count: number };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The server's `filename="…"`, reduced to a base name (it never picks the directory). */
function fileNameOf(disposition: string | null, fallback: string): string {
  const m = /filename="([^"]+)"/.exec(disposition ?? '');
  const name = m?.[1] ? path.basename(m[1]) : '';
  return name === '' || name === '.' || name === '..' ? fallback : name;
}

export async function exportSeries(
  client: ManagerClient,
  ref: SeriesRef,
  opts: ExportOptions,
): Promise<ExportSummary> {
  const { io } = opts;
  // The count for the bar, and an unknown series is a 404 before anything is created.
  const detail = await client.seriesDetail(ref);
  const dl = await client.exportFile(ref, { format: opts.format, from: opts.from, to: opts.to });
  const toStdout = opts.out === '-';
  const serverName = fileNameOf(
    dl.headers.get('content-disposition'),
    `${ref.market}-${ref.symbol}-${ref.dataset}.${opts.format}`,
  );
  const out = path.resolve(opts.cwd ?? process.cwd(), opts.out ?? '.');
  // No --out, or a directory: the server's file name there.
  const file = toStdout ? '-' : isDirectory(out) ? path.join(out, serverName) : out;
  const part = `${file}.part`;
  const sink: NodeJS.WritableStream = toStdout ? io.stdout : createWriteStream(part);
  const csv = opts.format === 'csv';
  const tty = !toStdout && !opts.json && io.stdout.isTTY === true;
  const bar = tty
    ? new SingleBar(
        {
          format: csv
            ? 'export |{bar}| {percentage}% | {value}/{total} rows | {size}'
            : 'export {size} received',
          stream: io.stdout,
          hideCursor: true,
          forceRedraw: true,
        },
        Presets.shades_classic,
      )
    : undefined;
  bar?.start(Math.max(detail.count, 1), 0, { size: bytes(0) });

  let size = 0;
  let lines = 0;
  const reader = dl.body.getReader();
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        const cause = err instanceof Error && err.cause instanceof Error ? err.cause : err;
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new UnreachableError(dl.request, `transfer cut after ${size} bytes: ${reason}`, undefined);
      }
      if (chunk.done) break;
      const b = chunk.value;
      size += b.length;
      if (csv) for (let i = 0; i < b.length; i++) if (b[i] === 10) lines += 1;
      if (!sink.write(b)) await once(sink, 'drain');
      if (bar) {
        const rows = Math.max(0, lines - 1);
        if (csv && rows > bar.getTotal()) bar.setTotal(rows);
        bar.update(csv ? rows : size, { size: bytes(size) });
      }
    }
    if (!toStdout) {
      const done = once(sink, 'finish');
      sink.end();
      await done;
      await rename(part, file);
    }
  } catch (err) {
    reader.releaseLock();
    if (!toStdout) {
      (sink as NodeJS.WritableStream & { destroy?: () => void }).destroy?.();
      await rm(part, { force: true });
    }
    bar?.stop();
    throw err;
  }
  const rows = Math.max(0, lines - 1);
  if (bar) {
    if (csv && rows > 0) bar.setTotal(rows);
    bar.update(csv ? rows : size, { size: bytes(size) });
    bar.stop();
  }
  return {
    file,
    format: opts.format,
    bytes: size,
    ...(csv ? { rows } : {}),
    series: { ...ref, count: detail.count },
  };
}
