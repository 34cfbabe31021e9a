/**
 * One live workflow: a series on a stream from its start until its `end` or a cancel. Records go
 * out in micro-batches on the command's data topic (the sink stores them like REST pages), each
 * followed by a checkpoint of where the series stands, so a restarted loader-ws continues from the
 * last published id and refills the outage over REST. Reports on `queue-events` like the history
 * loaders: `started`, throttled `loading` progress with `progress.live`, and at the end the final
 * "loader finished" with batches_published (the sink then completes the workflow), or `error` /
 * `cancelled`.
 */
import type { Publisher } from '../../shared/bus/event-bus.ts';
import type { Market } from '../../shared/contracts/common.ts';
import { datasetKind, type Dataset, type RecordKind, type SeriesId } from '../../shared/contracts/records.ts';
import { MAX_NOTES, planFor, type Progress, type QueueCommand } from '../../shared/contracts/workflow.ts';
import type { ExchangeClient } from '../../shared/exchange/rest-client.ts';
import { dataMessage } from '../../shared/loader/load.ts';
import { createReporter, type Reporter } from '../../shared/loader/reporter.ts';
import { workflowError } from '../../shared/loader/run.ts';
import { ExchangeError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { mergeRangeSet } from '../../shared/store/ranges.ts';
import type { Range, Store } from '../../shared/store/store.ts';
import { Batcher, type Batch } from './batcher.ts';
import type { ControlError } from './connection.ts';
import { DepthSeries } from './depth.ts';
import type { SymbolCheck } from './symbols.ts';
import { FUNCTION_NAME, type LiveSettings } from './schema.ts';
import {
  BookTickerSeries,
  IdSeries,
  KlineSeries,
  newCounters,
  type LiveSeries,
  type SeriesCounters,
  type SeriesMark,
} from './series.ts';

/** Documents collection of live checkpoints, key `<queue_id>:<attempt>`. */
export const LIVE_CHECKPOINTS = 'live_checkpoints';

export interface LiveCheckpoint {
  mark: SeriesMark;
  next_seq: number;
  records: number;
  event_seq: number;
  notes: string[];
  gaps: Range[];
}

/** The exchange stream of a workflow type: `btcusdt@aggTrade`, `btcusdt@kline_1m`, `btcusdt@depth@100ms`. */
export function streamOf(type: QueueCommand['type'], symbol: string): string {
  const s = symbol.toLowerCase();
  const plan = planFor(type);
  if (plan.interval) return `${s}@kline_${plan.interval}`;
  switch (plan.dataset) {
    case 'trades':
      return `${s}@trade`;
    case 'agg_trades':
      return `${s}@aggTrade`;
    case 'book_ticker':
      return `${s}@bookTicker`;
    case 'depth':
      return `${s}@depth@100ms`;
    default:
      throw new Error(`${type} has no live stream`);
  }
}

export interface LiveDeps {
  bus: Publisher;
  store: Store;
  logger: Logger;
  settings: LiveSettings;
  client: ExchangeClient;
  /** Subscribes the workflow's stream (the loader routes its events here). */
  subscribe(wf: LiveWorkflow): void;
  unsubscribe(wf: LiveWorkflow): void;
  /** The workflow ended (any way): forget it. `keep` = a shutdown, resume it on the next start. */
  done(wf: LiveWorkflow, keep: boolean): void;
  onPublished?: (wf: LiveWorkflow, b: Batch<SeriesMark>, publishedAt: number) => void;
  /** Throws the exchange's -1121 for a symbol the market does not list (symbols.ts). */
  checkSymbol: SymbolCheck;
  /** Reconnects and rotations of the market's connections (shared by the workflows on them). */
  connectionStats(market: Market): { reconnects: number; rotations: number };
  now(): number;
}

export class LiveWorkflow {
  readonly market: Market;
  readonly stream: string;
  readonly kind: RecordKind;
  readonly series: SeriesId;
  readonly counters: SeriesCounters = newCounters();
  readonly batcher: Batcher<SeriesMark>;
  private readonly log: Logger;
  private readonly stop = new AbortController();
  private reporter: Reporter | undefined;
  private impl: LiveSeries | undefined;
  private cp: LiveCheckpoint = { mark: {}, next_seq: 0, records: 0, event_seq: 0, notes: [], gaps: [] };
  private rev: number | undefined;
  private timers: NodeJS.Timeout[] = [];
  private ending: Promise<void> | undefined;
  private saving: Promise<void> = Promise.resolve();

  constructor(
    readonly command: QueueCommand,
    private readonly d: LiveDeps,
  ) {
    const plan = planFor(command.type);
    const dataset = plan.dataset as Dataset;
    this.market = command.market;
    this.kind = datasetKind(dataset);
    this.series = { market: command.market, symbol: command.symbol, dataset };
    this.stream = streamOf(command.type, command.symbol);
    this.log = d.logger.child({ queue_id: command.queue_id, attempt: command.attempt, stream: this.stream });
    this.batcher = new Batcher<SeriesMark>({
      maxRecords: d.settings.batchMaxRecords,
      maxMs: d.settings.batchMaxMs,
      maxBuffered: d.settings.maxBuffered,
      publish: (b) => this.publish(b),
      onPublishError: (err, wait) =>
        this.log.warn({ err, retry_in_ms: wait }, 'publishing a live batch failed; retrying'),
    });
  }

  get key(): string {
    return `${this.command.queue_id}:${this.command.attempt}`;
  }

  /** Anchors the series, reports `started` and subscribes; an exchange refusal ends it in error. */
  async start(): Promise<void> {
    const c = this.command;
    try {
      const stored = await this.d.store.getDoc<LiveCheckpoint>(LIVE_CHECKPOINTS, this.key);
      const resumed = stored !== null && stored !== undefined;
      if (stored) {
        this.cp = stored.doc;
        this.rev = stored.rev;
      }
      this.reporter = createReporter(this.d.bus, c, {
        firstSeq: resumed ? this.cp.event_seq + 1000 : 0,
        intervalMs: this.d.settings.progressIntervalMs,
        now: () => this.d.now(),
        producer: FUNCTION_NAME,
      });
      await this.d.checkSymbol(this.market, this.command.symbol);
      this.impl = this.makeSeries();
      await this.impl.init(resumed ? this.cp.mark : undefined);
      if (!resumed) await this.reporter.started(this.progress());
      else this.log.info({ mark: this.cp.mark, seq: this.cp.next_seq }, 'resuming a live workflow');
      this.d.subscribe(this);
      const progress = setInterval(() => {
        void this.reporter
          ?.progress(this.progress())
          .catch((err: unknown) => this.log.warn({ err }, 'progress event failed'));
      }, this.d.settings.progressIntervalMs);
      progress.unref();
      this.timers.push(progress);
      const settle = this.impl.settleAt();
      const wait = settle - this.d.now();
      if (settle < 8e15) {
        // Timers hold at most 2^31-1 ms: a far end re-arms itself.
        const arm = (): void => {
          const left = settle - this.d.now();
          if (left <= 0) return void this.finish();
          const t = setTimeout(arm, Math.min(left + 200, 2 ** 31 - 1));
          t.unref();
          this.timers.push(t);
        };
        if (wait <= 0) void this.finish();
        else arm();
      }
    } catch (err) {
      await this.fail(err);
    }
  }

  /** An event of the workflow's stream. */
  onEvent(data: unknown, receivedAt: number): void {
    this.impl?.onEvent(data, receivedAt);
  }

  onResumed(): void {
    this.impl?.onResumed();
  }

  onRefused(err: ControlError): void {
    void this.fail(new ExchangeError(400, err.code, err.exchangeMessage, `SUBSCRIBE ${this.stream}`));
  }

  /** `cancel`: publish what was received, report `cancelled`. */
  cancel(): Promise<void> {
    return (this.ending ??= (async () => {
      this.halt();
      await this.batcher.flush();
      await this.saving;
      await this.reporter
        ?.cancelled('stopped by cancel', this.progress())
        .catch((err: unknown) => this.log.error({ err }, 'cannot publish the cancelled event'));
      this.d.done(this, false);
    })());
  }

  /** Process shutdown: publish what was received and keep the workflow for the next start. */
  shutdown(): Promise<void> {
    return (this.ending ??= (async () => {
      this.halt();
      await Promise.race([this.batcher.flush(), new Promise((r) => setTimeout(r, 5000))]);
      this.batcher.close();
      await this.saving;
      this.d.done(this, true);
    })());
  }

  /** The live state as the workflow's status shows it. */
  progress(): Progress {
    const c = this.counters;
    return {
      pages: this.cp.next_seq,
      records: this.cp.records,
      live: {
        ...(c.last_event_time === undefined ? {} : { last_event_time: c.last_event_time }),
        ...(c.lag_ms === undefined ? {} : { lag_ms: c.lag_ms }),
        behind: this.batcher.behind,
        buffered: this.batcher.buffered,
        ...this.d.connectionStats(this.market),
        gap_fills: c.gap_fills,
        filled_records: c.filled_records,
        duplicates: c.duplicates,
        unfilled_gaps: c.unfilled_gaps,
        ...(this.kind === 'depth' ? { resyncs: c.resyncs, divergences: c.divergences } : {}),
      },
    };
  }

  private async finish(): Promise<void> {
    await (this.ending ??= (async () => {
      try {
        this.d.unsubscribe(this);
        await this.impl?.complete();
        this.halt();
        await this.batcher.flush();
        await this.saving;
        const r = this.reporter!;
        await r.progress(this.progress(), true);
        await r.finished(this.progress(), this.cp.next_seq, this.cp.gaps, 'loader finished', this.cp.notes);
        this.log.info(
          { batches: this.cp.next_seq, records: this.cp.records },
          'live workflow reached its end',
        );
        this.d.done(this, false);
      } catch (err) {
        this.ending = undefined;
        await this.fail(err);
      }
    })());
  }

  private async fail(err: unknown): Promise<void> {
    if (this.stop.signal.aborted && this.ending) return;
    this.ending = (async () => {
      this.halt();
      await Promise.race([this.batcher.flush(), new Promise((r) => setTimeout(r, 5000))]);
      this.batcher.close();
      const error = workflowError(err, FUNCTION_NAME);
      if (err instanceof ExchangeError && err.httpStatus < 500)
        this.log.info({ error }, 'live workflow refused by the exchange');
      else this.log.error({ err, error }, 'live workflow failed');
      const r =
        this.reporter ??
        createReporter(this.d.bus, this.command, {
          firstSeq: 0,
          intervalMs: 0,
          now: () => this.d.now(),
          producer: FUNCTION_NAME,
        });
      await r
        .error(error, this.progress(), this.cp.notes)
        .catch((e: unknown) => this.log.error({ err: e }, 'cannot publish the error event'));
      this.d.done(this, false);
    })();
    await this.ending;
  }

  private halt(): void {
    for (const t of this.timers.splice(0)) clearTimeout(t);
    this.d.unsubscribe(this);
    this.stop.abort(new Error('workflow stopped'));
  }

  private note(text: string): void {
    if (this.cp.notes.includes(text)) return;
    this.cp.notes = [...this.cp.notes, text].slice(-MAX_NOTES);
  }

  private makeSeries(): LiveSeries {
    const ctx = {
      market: this.market,
      symbol: this.command.symbol,
      client: this.d.client,
      batcher: this.batcher,
      counters: this.counters,
      logger: this.log,
      signal: this.stop.signal,
      start: this.command.start,
      end: this.command.end,
      note: (t: string) => this.note(t),
      fail: (e: unknown) => void this.fail(e),
    };
    const plan = planFor(this.command.type);
    if (plan.interval) return new KlineSeries(ctx, plan.interval);
    switch (this.kind) {
      case 'trade':
        return new IdSeries(ctx, 'trade');
      case 'agg_trade':
        return new IdSeries(ctx, 'agg_trade');
      case 'book_ticker':
        return new BookTickerSeries(ctx);
      default:
        return new DepthSeries(ctx, {
          snapshotEveryMs: this.d.settings.depthSnapshotMs,
          verifyEveryMs: this.d.settings.depthVerifyMs,
        });
    }
  }

  private async publish(b: Batch<SeriesMark>): Promise<void> {
    const seq = this.cp.next_seq;
    await this.d.bus.publish(this.command.kafka_topic, [
      dataMessage(FUNCTION_NAME, this.command, this.kind, this.series, seq, {
        rows: b.rows,
        covers: b.covers,
        gaps: b.gaps,
      }),
    ]);
    this.d.onPublished?.(this, b, Date.now());
    this.cp.next_seq = seq + 1;
    this.cp.records += b.rows.length;
    if (b.gaps.length > 0) this.cp.gaps = mergeRangeSet([...this.cp.gaps, ...b.gaps]);
    if (b.mark) this.cp.mark = b.mark;
    this.cp.event_seq = this.reporter?.lastSeq() ?? 0;
    // Checkpoints are written in order, one at a time; the next batch need not wait for it.
    const snapshot = { ...this.cp };
    this.saving = this.saving.then(async () => {
      try {
        this.rev = await this.d.store.putDoc(LIVE_CHECKPOINTS, this.key, snapshot, this.rev);
      } catch (err) {
        this.log.warn({ err }, 'live checkpoint not saved');
        const again = await this.d.store.getDoc<LiveCheckpoint>(LIVE_CHECKPOINTS, this.key).catch(() => null);
        this.rev = again?.rev;
      }
    });
  }
}
