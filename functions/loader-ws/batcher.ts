/**
 * Micro-batches of one live series: records collect until `maxRecords` or `maxMs` after the first,
 * then go out as one data batch (the same envelope and topic as a REST page, so the sink and the
 * store treat them alike). One publish is in flight at a time, in order; a failed publish is
 * retried with backoff and nothing is dropped. Memory is bounded: past `maxBuffered` unpublished
 * records `offer` refuses, the series sheds what it receives and refills it over REST later, and
 * the workflow reports that it is behind.
 */
import type { Row } from '../../shared/contracts/rows.ts';
import type { Range } from '../../shared/store/store.ts';

export interface Batch<M> {
  rows: Row[];
  /** Slice of the time axis these rows settle (with `gaps` inside it). */
  covers: Range | undefined;
  gaps: Range[];
  /** The series' cursor after the last row (what a restart resumes from); only on a batch that empties the buffer. */
  mark: M | undefined;
  /** Exchange time of the newest row, for the event-to-published latency. */
  eventTime: number | undefined;
}

export interface BatcherOptions<M> {
  maxRecords: number;
  maxMs: number;
  maxBuffered: number;
  publish: (b: Batch<M>) => Promise<void>;
  /** A publish failed; it is retried after `retryInMs`. */
  onPublishError: (err: unknown, retryInMs: number) => void;
}

export class Batcher<M> {
  private rows: Row[] = [];
  private covers: Range | undefined;
  private gaps: Range[] = [];
  private mark: M | undefined;
  private eventTime: number | undefined;
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private inFlightRows = 0;
  private failures = 0;
  private closed = false;
  private readonly waiters: Array<() => void> = [];
  /** Records shed because the buffer was full. */
  shed = 0;
  /** True from a refusal until the buffer drained below half. */
  behind = false;

  constructor(private readonly o: BatcherOptions<M>) {}

  get maxBuffered(): number {
    return this.o.maxBuffered;
  }

  /** Unpublished records (waiting and in flight). */
  get buffered(): number {
    return this.rows.length + this.inFlightRows;
  }

  /** Room for `n` more records? */
  hasRoom(n = 1): boolean {
    return this.buffered + n <= this.o.maxBuffered;
  }

  /**
   * Adds rows (with the slice they settle); false, and nothing added, when the buffer is full.
   * `force` (REST refills, which waited for `room` first) adds anyway: the bound is then exceeded
   * by at most one REST page.
   */
  offer(
    rows: readonly Row[],
    covers: Range | undefined,
    gaps: readonly Range[],
    mark: M,
    eventTime?: number,
    force = false,
  ): boolean {
    if (!force && !this.hasRoom(rows.length) && rows.length > 0) {
      this.shed += rows.length;
      this.behind = true;
      return false;
    }
    for (const r of rows) this.rows.push(r);
    if (covers)
      this.covers = this.covers
        ? { from: Math.min(this.covers.from, covers.from), to: Math.max(this.covers.to, covers.to) }
        : covers;
    for (const g of gaps) this.gaps.push(g);
    this.mark = mark;
    if (eventTime !== undefined) this.eventTime = eventTime;
    if (this.rows.length >= this.o.maxRecords) this.kick();
    else if (!this.timer && !this.inFlight) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, this.o.maxMs);
    }
    return true;
  }

  /** Resolves once `n` records fit (a REST refill waits here instead of shedding). */
  async room(n: number): Promise<void> {
    while (!this.closed && !this.hasRoom(Math.min(n, this.o.maxBuffered))) {
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  /** Publishes everything buffered; resolves when all is published. */
  async flush(): Promise<void> {
    for (;;) {
      if (this.inFlight) await this.inFlight;
      else if (this.rows.length > 0 || this.covers || this.gaps.length > 0) this.kick();
      else return;
    }
  }

  /** Stops retrying (shutdown); what is buffered is dropped (a restart refills it). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.waiters.splice(0)) w();
  }

  private kick(): void {
    if (this.inFlight || this.closed) return;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.rows.length === 0 && !this.covers && this.gaps.length === 0) return;
    const batch: Batch<M> = {
      rows: this.rows.splice(0, this.o.maxRecords),
      covers: undefined,
      gaps: [],
      mark: undefined,
      eventTime: this.eventTime,
    };
    // Covers and gaps travel with the batch that empties the buffer (a partial one settles nothing yet).
    if (this.rows.length === 0) {
      batch.covers = this.covers;
      batch.gaps = this.gaps;
      batch.mark = this.mark;
      this.covers = undefined;
      this.gaps = [];
    }
    this.inFlightRows = batch.rows.length;
    this.inFlight = this.send(batch).finally(() => {
      this.inFlight = undefined;
      this.inFlightRows = 0;
      if (this.buffered <= this.o.maxBuffered / 2) this.behind = false;
      for (const w of this.waiters.splice(0)) w();
      if (this.rows.length >= this.o.maxRecords) this.kick();
      else if (this.rows.length > 0 && !this.timer)
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.kick();
        }, this.o.maxMs);
    });
  }

  private async send(batch: Batch<M>): Promise<void> {
    for (;;) {
      try {
        await this.o.publish(batch);
        this.failures = 0;
        return;
      } catch (err) {
        if (this.closed) return;
        const wait = Math.min(10_000, 100 * 2 ** this.failures++);
        this.o.onPublishError(err, wait);
        await new Promise((r) => setTimeout(r, wait));
      }
    }
  }
}
