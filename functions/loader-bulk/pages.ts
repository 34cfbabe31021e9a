/**
 * loader-bulk's page source: one missing range of a series from the public archive
 * (data.binance.vision, docs/binance.md §5), and over REST what the archive does not have.
 *
 * - The range is cut into segments: monthly files for whole months, daily files for whole days
 *   (intervals that have them), REST for the partial days at the edges and for the tail after the
 *   last published file. A monthly file that is missing falls back to its daily files; a daily file
 *   that is missing (or late) to REST; a file whose SHA-256 does not match its `.CHECKSUM` is
 *   downloaded once more, then falls back to REST. Every fallback is noted on the workflow.
 * - A file's rows are published only after the whole file was verified (its checksum, then a
 *   first pass that inflates it and checks its CRC: shared/archive/parse.ts `verifyFirst`); a file
 *   that fails that pass is loaded over REST and noted. Then its rows go out in pages of `batchSize` rows that tile the segment
 *   exactly as the REST paginators' pages do (klines: gaps where the exchange had no candle;
 *   trades: a page settles [from, last row's time)), so the seam between archive and REST has
 *   neither overlap nor hole.
 * - Lines that do not parse are dead-lettered with their file name and line number; the rest of
 *   the file is published.
 * - Resume: a checkpoint's cursor is a time (and for trades the next id); the file holding it is
 *   downloaded again and the rows before it skipped.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import {
  archiveFileAt,
  archiveKind,
  archivePath,
  archivePeriods,
  hasDailyFiles,
  isArchiveDataset,
  type ArchiveDataset,
  type ArchiveFile,
} from '../../shared/archive/archive-paths.ts';
import type { ArchiveClient, DownloadOutcome } from '../../shared/archive/download.ts';
import { CorruptArchiveError, parseArchive, type Rejected } from '../../shared/archive/parse.ts';
import { EventTypes, Topics, sourceOf } from '../../shared/contracts/events.ts';
import { KlineInterval, klineNextOpenTime, klineOpenTime } from '../../shared/contracts/common.ts';
import { unsupportedSeries } from '../../shared/contracts/request-rules.ts';
import { ROW_COLUMNS, TIME_COLUMN, type Row } from '../../shared/contracts/rows.ts';
import { klineGaps } from '../../shared/exchange/klines.ts';
import type { Page, PageCursor, PaginateOptions } from '../../shared/exchange/pages.ts';
import { paginate } from '../../shared/exchange/paginate.ts';
import type { LoadContext, PageSource, Plan } from '../../shared/loader/load.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import type { Range } from '../../shared/store/store.ts';

const DAY = 86_400_000;

export interface ArchivePagesOptions {
  archive: ArchiveClient;
  /** Rows per published batch; default 1000 (the REST pages' size). */
  batchSize?: number;
  /** Files downloaded ahead of the one being parsed; default 2. */
  prefetch?: number;
}

/** A piece of the range and where it comes from. */
type Segment = { kind: 'file'; file: ArchiveFile; range: Range } | { kind: 'rest'; range: Range };

const monthStart = (t: number): number => {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
};
const nextMonth = (t: number): number => {
  const d = new Date(t);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
};

/**
 * Cuts `range` into archive files and REST pieces. Files end by `now`'s day: a file whose period
 * has not ended is not published yet, so its time is REST's.
 */
export function planSegments(
  series: { market: Plan['series']['market']; symbol: string; dataset: ArchiveDataset },
  range: Range,
  now: number,
): Segment[] {
  const periods = archivePeriods(series.market, series.dataset);
  const daily = periods.includes('daily') && hasDailyFiles(series.dataset);
  const monthly = periods.includes('monthly');
  const out: Segment[] = [];
  const rest = (from: number, to: number): void => {
    const last = out.at(-1);
    if (last?.kind === 'rest' && last.range.to === from) last.range = { from: last.range.from, to };
    else out.push({ kind: 'rest', range: { from, to } });
  };
  const at = { market: series.market, dataset: series.dataset, symbol: series.symbol };
  let t = range.from;
  while (t < range.to) {
    const mEnd = nextMonth(t);
    if (monthly && t === monthStart(t) && mEnd <= range.to && mEnd <= now) {
      out.push({
        kind: 'file',
        file: archiveFileAt({ ...at, period: 'monthly' }, t),
        range: { from: t, to: mEnd },
      });
      t = mEnd;
      continue;
    }
    const dEnd = Math.floor(t / DAY) * DAY + DAY;
    if (daily && t % DAY === 0 && dEnd <= range.to && dEnd <= now) {
      out.push({
        kind: 'file',
        file: archiveFileAt({ ...at, period: 'daily' }, t),
        range: { from: t, to: dEnd },
      });
      t = dEnd;
      continue;
    }
    // A partial day (or month, for monthly-only intervals), or time not yet in a published file.
    const end = Math.min(range.to, daily ? dEnd : mEnd);
    rest(t, end);
    t = end;
  }
  return out;
}

/** The daily files (or REST, without them) standing in for a monthly file the archive lacks. */
function dailyInstead(seg: Segment & { kind: 'file' }): Segment[] {
  const { file } = seg;
  if (!hasDailyFiles(file.dataset)) return [{ kind: 'rest', range: seg.range }];
  const out: Segment[] = [];
  for (let t = seg.range.from; t < seg.range.to; t += DAY)
    out.push({
      kind: 'file',
      file: archiveFileAt({ ...file, period: 'daily' }, t),
      range: { from: t, to: t + DAY },
    });
  return out;
}

const fileName = (f: ArchiveFile): string => path.posix.basename(archivePath(f));

export function archivePages(opts: ArchivePagesOptions): PageSource {
  const batchSize = opts.batchSize ?? 1000;
  const prefetch = Math.max(0, opts.prefetch ?? 2);

  return async function* pages(ctx: LoadContext, p: Plan, o: PaginateOptions): AsyncGenerator<Page> {
    const { series } = p;
    if (!isArchiveDataset(series.dataset)) throw new RangeError(`${series.dataset} has no archive files`);
    const dataset = series.dataset;
    const kind = archiveKind(dataset);
    const timeAt = ROW_COLUMNS[kind].indexOf(TIME_COLUMN[kind] as never);
    const interval = kind === 'kline' ? KlineInterval.parse(dataset.slice('klines_'.length)) : undefined;
    const restWhy = unsupportedSeries(series.market, dataset);
    const resume = o.resume ?? null;
    const from = resume?.from ?? o.range.from;
    const queue: Segment[] = planSegments({ ...series, dataset }, o.range, o.now()).filter(
      (s) => s.range.to > from,
    );
    /** Downloads started ahead, by file path. */
    const started = new Map<string, Promise<DownloadOutcome>>();
    const download = (f: ArchiveFile): Promise<DownloadOutcome> => {
      const key = archivePath(f);
      let d = started.get(key);
      if (!d) {
        d = opts.archive.download(key, { signal: o.signal });
        d.catch(() => undefined); // awaited when its turn comes
        started.set(key, d);
      }
      return d;
    };
    const ahead = (): void => {
      for (const s of queue.slice(0, prefetch)) if (s.kind === 'file') void download(s.file);
    };

    try {
      while (queue.length > 0) {
        const seg = queue.shift()!;
        const last = queue.length === 0;
        const segFrom = Math.max(seg.range.from, from);
        if (seg.kind === 'rest') {
          ahead();
          yield* restPages(seg.range, segFrom, last, []);
          continue;
        }
        let outcome = await download(seg.file);
        started.delete(archivePath(seg.file));
        const name = fileName(seg.file);
        if (outcome.kind === 'mismatch') {
          // Files are regenerated now and then (README "Updates"): one more try, then REST.
          ctx.logger.info({ file: name }, 'archive checksum mismatch, downloading once more');
          outcome = await opts.archive.download(archivePath(seg.file), { signal: o.signal });
          if (outcome.kind === 'mismatch') {
            ahead();
            yield* restPages(seg.range, segFrom, last, [
              `${name}: checksum does not match its .CHECKSUM twice (replaced on the archive?); loaded over REST`,
            ]);
            continue;
          }
        }
        if (outcome.kind === 'missing') {
          if (seg.file.period === 'monthly') {
            queue.unshift(...dailyInstead(seg));
            ctx.logger.info({ file: name }, 'monthly archive file missing: using daily files');
            continue;
          }
          ahead();
          yield* restPages(seg.range, segFrom, last, [
            `${name} missing or late on the archive; loaded over REST`,
          ]);
          continue;
        }
        ahead();
        try {
          yield* filePages(outcome.file, seg, segFrom, last, name);
        } catch (err) {
          // verifyFirst: a corrupt file fails before any of its rows went out.
          if (!(err instanceof CorruptArchiveError)) throw err;
          yield* restPages(seg.range, segFrom, last, [
            `${name} is corrupt (${err.reason}); loaded over REST`,
          ]);
        } finally {
          await rm(outcome.file, { force: true }).catch(() => undefined);
        }
      }
    } finally {
      // Downloads started ahead and never parsed (a stop, an error): their temp files go too.
      for (const d of started.values())
        void d
          .then((r) => (r.kind === 'ok' ? rm(r.file, { force: true }) : undefined))
          .catch(() => undefined);
    }

    /** REST pages of `range` from `start` on; their last page hands over to the next segment. */
    async function* restPages(
      range: Range,
      start: number,
      last: boolean,
      notes: string[],
    ): AsyncGenerator<Page> {
      if (restWhy) {
        // Nothing can fill it here: the range stays missing in the ledger for a later run.
        ctx.logger.warn({ range, why: restWhy }, 'archive lacks a file and REST cannot fill it');
        notes.push(
          `${new Date(range.from).toISOString()}..${new Date(range.to).toISOString()} not loaded: ${restWhy}`,
        );
        yield {
          rows: [],
          covers: { from: start, to: start },
          gaps: [],
          next: last ? null : { from: range.to },
          notes,
          origin: 'rest',
        };
        return;
      }
      const inside = resume && resume.from >= range.from && resume.from < range.to ? resume : null;
      let first = true;
      for await (const page of paginate(
        ctx.exchange,
        { market: series.market, symbol: series.symbol, dataset },
        {
          ...o,
          range: { from: range.from, to: range.to },
          resume: inside ?? { from: start },
        },
      )) {
        const next: PageCursor | null = page.next ?? (last ? null : { from: range.to });
        yield { ...page, next, origin: 'rest', ...(first && notes.length > 0 ? { notes } : {}) };
        first = false;
      }
    }

    /** The verified file's rows as pages tiling `seg` from `start` on. */
    async function* filePages(
      file: string,
      seg: Segment,
      start: number,
      last: boolean,
      name: string,
    ): AsyncGenerator<Page> {
      const skipId = resume?.fromId;
      let cursor = start;
      let pending: Row[] = [];
      const emit = (rows: Row[], to: number, next: PageCursor | null): Page => {
        const covers = { from: cursor, to };
        const gaps = interval
          ? klineGaps(
              interval,
              { first: firstSlot(interval, covers.from), to: covers.to },
              rows.map((r) => r[0] as number),
            )
          : [];
        cursor = to;
        return { rows, covers, gaps, next, origin: 'archive' };
      };
      for await (const batch of parseArchive(file, {
        kind,
        market: series.market,
        batchSize,
        signal: o.signal,
      })) {
        if (batch.rejected.length > 0) await deadLetter(name, batch.rejected);
        let rows = batch.rows.filter((r) => {
          const t = r[timeAt] as number;
          return (
            t >= start &&
            t >= seg.range.from &&
            t < seg.range.to &&
            (skipId === undefined || t > start || (r[0] as number) >= skipId)
          );
        });
        rows = [...pending, ...rows];
        pending = [];
        if (rows.length < batchSize) {
          pending = rows;
          continue;
        }
        const lastRow = rows.at(-1)!;
        const lastTime = lastRow[timeAt] as number;
        if (interval) {
          yield emit(rows, klineNextOpenTime(interval, lastTime), {
            from: klineNextOpenTime(interval, lastTime),
          });
        } else {
          // Trades of the same millisecond may straddle two pages: this page settles up to it.
          yield emit(rows, Math.max(cursor, lastTime), {
            from: Math.max(cursor, lastTime),
            fromId: (lastRow[0] as number) + 1,
          });
        }
      }
      yield emit(pending, seg.range.to, last ? null : { from: seg.range.to });
    }

    async function deadLetter(file: string, rejected: Rejected[]): Promise<void> {
      const events = rejected.map((r) => ({
        key: series.symbol,
        event: makeEvent({
          type: EventTypes.deadLetter,
          source: sourceOf(ctx.name),
          data: {
            reason: 'unparseable_line',
            message: `${file} line ${r.line}: ${r.reason}`,
            file,
            line: r.line,
            text: r.text,
            queue_id: p.command.queue_id,
            series,
          },
          extensions: { queueid: p.command.queue_id },
        }),
      }));
      await ctx.bus.publish(Topics.deadLetter, events);
      ctx.logger.warn({ file, lines: rejected.length, first: rejected[0] }, 'archive lines dead-lettered');
    }
  };
}

/** The first candle slot at or after `t` (a monthly 1w file starts on the month's first Monday). */
function firstSlot(interval: KlineInterval, t: number): number {
  const open = klineOpenTime(interval, t);
  return open === t ? t : klineNextOpenTime(interval, open);
}
