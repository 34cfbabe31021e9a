/**
 * The paging loop of one workflow: plan the missing ranges from the coverage ledger (or resume the
 * checkpointed plan), page them, publish each page as one data batch in order, and checkpoint
 * after every publish. A restart resumes after the last checkpointed page; at most the one page
 * published but not yet checkpointed when the process died is fetched again, and it is published
 * with the same seq and the same batch id, so the sink recognises it.
 */
import type { OutgoingMessage, Publisher } from '../bus/event-bus.ts';
import { EventTypes, batchId, sourceOf, type DataBatch } from '../contracts/events.ts';
import { seriesKey, type RecordKind, type SeriesId } from '../contracts/records.ts';
import { MAX_NOTES, type Progress, type QueueCommand } from '../contracts/workflow.ts';
import type { Page, PaginateOptions } from '../exchange/pages.ts';
import type { ExchangeClients } from '../exchange/paginate.ts';
import { JsonText } from '../bus/kafka-binding.ts';
import { makeEvent } from '../runtime/cloudevents.ts';
import type { Logger } from '../runtime/logger.ts';
import { missingRanges, readCoverage } from '../store/coverage.ts';
import { mergeRangeSet } from '../store/ranges.ts';
import type { Store } from '../store/store.ts';
import { CHECKPOINTS, Checkpoint, checkpointKey } from './checkpoint.ts';
import type { LoaderName, Reporter } from './reporter.ts';

/**
 * Where a run's time went, in ms (logged with 'loader finished'): waiting for the next page (not
 * yet answered although read-ahead asked for it early), publishing batches, and writing
 * checkpoints and progress. Pages are fetched while the previous one is published, so a large
 * `waitPagesMs` means the exchange (or the weight budget) is the bottleneck, a large `publishMs`
 * the bus. Approximate: answers that arrive meanwhile are parsed inside the other two.
 */
export interface LoadTiming {
  waitPagesMs: number;
  publishMs: number;
  checkpointMs: number;
}

export function newTiming(): LoadTiming {
  return { waitPagesMs: 0, publishMs: 0, checkpointMs: 0 };
}

/**
 * Where a loader's pages come from, for one missing range of its series: the REST paginators
 * (loader-api), or archive files and then REST for what the archive lacks (loader-bulk).
 */
export type PageSource = (ctx: LoadContext, p: Plan, o: PaginateOptions) => AsyncGenerator<Page>;

export interface LoadContext {
  /** The loader: producer of its queue-events, source of its data events. */
  name: LoaderName;
  pages: PageSource;
  bus: Publisher;
  store: Store;
  exchange: ExchangeClients;
  logger: Logger;
  /** Exchange clock (local clock plus the offset learned from `/time`). */
  exchangeNow: () => number;
  concurrency: number;
  /** Klines per request (default: the cheapest per weight). */
  pageLimit?: number | undefined;
  signal: AbortSignal;
  /** Filled in as the run goes. */
  timing: LoadTiming;
}

export interface Plan {
  command: QueueCommand;
  kind: RecordKind;
  series: SeriesId;
}

/** Loads the checkpoint of this attempt, or plans a fresh run from the coverage ledger. */
export async function openCheckpoint(
  ctx: LoadContext,
  p: Plan,
  now: number,
): Promise<{ cp: Checkpoint; rev: number | undefined; resumed: boolean }> {
  const key = checkpointKey(p.command.queue_id, p.command.attempt);
  const stored = await ctx.store.getDoc<unknown>(CHECKPOINTS, key);
  if (stored) {
    const cp = Checkpoint.safeParse(stored.doc);
    if (cp.success) return { cp: cp.data, rev: stored.rev, resumed: true };
    ctx.logger.warn(
      { queue_id: p.command.queue_id, issues: cp.error.issues },
      'unreadable checkpoint, planning afresh',
    );
  }
  const want = { from: p.command.start, to: p.command.end };
  const cov = await readCoverage(ctx.store, p.command.collection_name, seriesKey(p.series));
  const { missing, skipped } = missingRanges(want, cov);
  const cp: Checkpoint = {
    queue_id: p.command.queue_id,
    attempt: p.command.attempt,
    missing,
    skipped_ms: skipped,
    total_ms: want.to - want.from,
    range_index: 0,
    cursor: null,
    next_seq: 0,
    records: 0,
    covered_ms: 0,
    unloaded_ms: 0,
    gaps: [],
    archive_records: 0,
    rest_records: 0,
    notes: [],
    event_seq: 0,
    done: false,
    updated_at: new Date(now).toISOString(),
  };
  return { cp, rev: stored?.rev, resumed: false };
}

export function progressOf(cp: Checkpoint): Progress {
  const percent =
    cp.total_ms > 0 ? Math.min(100, ((cp.skipped_ms + cp.covered_ms) / cp.total_ms) * 100) : 100;
  return {
    pages: cp.next_seq,
    records: cp.records,
    percent: Math.round(percent * 100) / 100,
    skipped_ms: cp.skipped_ms,
    // Only a loader that reads an archive says where its records came from.
    ...(cp.archive_records > 0 ? { archive_records: cp.archive_records, rest_records: cp.rest_records } : {}),
  };
}

/** Pages every missing range from the checkpoint on; returns the final checkpoint (saved as done). */
export async function loadRanges(
  ctx: LoadContext,
  p: Plan,
  start: { cp: Checkpoint; rev: number | undefined },
  reporter: Reporter,
): Promise<Checkpoint> {
  const { command: c } = p;
  const key = checkpointKey(c.queue_id, c.attempt);
  const cp = start.cp;
  let rev = start.rev;
  const save = async (): Promise<void> => {
    cp.event_seq = reporter.lastSeq();
    cp.updated_at = new Date(ctx.exchangeNow()).toISOString();
    rev = await ctx.store.putDoc(CHECKPOINTS, key, cp, rev);
  };
  if (rev === undefined) await save();

  while (cp.range_index < cp.missing.length) {
    const range = cp.missing[cp.range_index]!;
    let reached = cp.cursor?.from ?? range.from;
    const pages = ctx.pages(ctx, p, {
      range,
      resume: cp.cursor,
      signal: ctx.signal,
      now: ctx.exchangeNow,
      concurrency: ctx.concurrency,
      limit: ctx.pageLimit,
    });
    let rangeDone = false;
    const t = ctx.timing;
    // The paginator has the next pages in flight while this one is published (a read-ahead of
    // `concurrency` pages, pages.ts); it hands them out strictly in order.
    for await (const page of timed(pages, (ms) => (t.waitPagesMs += ms))) {
      const t1 = performance.now();
      await publishBatch(ctx, p, cp.next_seq, page);
      const t2 = performance.now();
      t.publishMs += t2 - t1;
      cp.next_seq += 1;
      cp.records += page.rows.length;
      if (page.origin === 'archive') cp.archive_records += page.rows.length;
      else cp.rest_records += page.rows.length;
      if (page.notes) cp.notes = [...new Set([...cp.notes, ...page.notes])].slice(-MAX_NOTES);
      cp.covered_ms += page.covers.to - page.covers.from;
      cp.gaps = mergeRangeSet([...cp.gaps, ...page.gaps]);
      cp.cursor = page.next;
      reached = page.covers.to;
      if (page.next === null) {
        // The range ends with this page: move on in the same write, so a restart does not page it again.
        finishRange(cp, range, reached);
        rangeDone = true;
      }
      await save();
      await reporter.progress(progressOf(cp));
      t.checkpointMs += performance.now() - t2;
    }
    if (!rangeDone) {
      finishRange(cp, range, reached);
      await save();
    }
  }
  cp.done = true;
  await save();
  return cp;
}

/** Yields what `items` yields, adding the time spent waiting for each item to `add`. */
async function* timed<T>(items: AsyncIterable<T>, add: (ms: number) => void): AsyncGenerator<T> {
  let t0 = performance.now();
  for await (const item of items) {
    add(performance.now() - t0);
    yield item;
    t0 = performance.now();
  }
}

/** What the paginator left out had not closed on the exchange yet: a later run loads it. */
function finishRange(cp: Checkpoint, range: { from: number; to: number }, reached: number): void {
  cp.unloaded_ms += Math.max(0, range.to - reached);
  cp.range_index += 1;
  cp.cursor = null;
}

async function publishBatch(ctx: LoadContext, p: Plan, seq: number, page: Page): Promise<void> {
  await ctx.bus.publish(p.command.kafka_topic, [
    dataMessage(ctx.name, p.command, p.kind, p.series, seq, page),
  ]);
}

/**
 * One data batch as the message every loader publishes (loader-ws too): the batch envelope, its
 * deterministic id, keyed by symbol on the command's topic.
 */
export function dataMessage(
  producer: string,
  c: QueueCommand,
  kind: RecordKind,
  series: SeriesId,
  seq: number,
  page: {
    rows: Page['rows'];
    rowsJson?: string | undefined;
    covers: Page['covers'] | undefined;
    gaps: Page['gaps'];
  },
): OutgoingMessage {
  const data: DataBatch = {
    queue_id: c.queue_id,
    attempt: c.attempt,
    kind,
    market: series.market,
    symbol: series.symbol,
    dataset: series.dataset,
    collection: c.collection_name,
    seq,
    ...(page.covers ? { covers: page.covers } : {}),
    gaps: page.gaps,
    rows: page.rows,
  };
  const id = batchId(
    { market: series.market, symbol: series.symbol, dataset: series.dataset, covers: page.covers },
    page.rows,
  );
  const event = makeEvent({
    type: EventTypes.data(kind),
    source: sourceOf(producer),
    id,
    subject: seriesKey(series),
    // A page passed on whole keeps the exchange's own text for its rows: no second serialisation
    // (`rows` is the last key, so the text goes where JSON.stringify put the placeholder).
    data:
      page.rowsJson === undefined
        ? data
        : new JsonText(`${JSON.stringify({ ...data, rows: 0 }).slice(0, -2)}${page.rowsJson}}`),
    extensions: { queueid: c.queue_id },
  });
  return { key: series.symbol, event };
}
