/**
 * Chunks of a CSV (as they come out of inflate) → batches of rows and rejected lines, with
 * bounded memory: a batch holds at most `batchSize` rows, a line at most MAX_LINE bytes, and the
 * only copy made is of the line that straddles two chunks.
 *
 * Lines are numbered from 1 as in the file (the header row included), so a rejected line can be
 * dead-lettered with its file name and line number (issue 12 "Bad input"). A first line whose
 * first field is not numeric is a header (USD-M files from 2022 on, binance.md §5) and is
 * skipped; empty lines are skipped; a `\r` before the newline is dropped.
 */
import type { Market } from '../contracts/common.ts';
import type { Row } from '../contracts/rows.ts';
import { createLineParser, explainLine, type ArchiveKind } from './csv-rows.ts';

/** A line that did not parse: the caller dead-letters it with the file name, then goes on. */
export interface Rejected {
  /** 1-based line number in the CSV (the header row counts). */
  line: number;
  /** The line, cut to 500 characters. */
  text: string;
  reason: string;
}

/** What the parser yields: rows in ROW_COLUMNS order and the lines rejected since the last batch. */
export interface ParsedBatch {
  rows: Row[];
  rejected: Rejected[];
  /** Every line up to this one is in this batch or an earlier one (a resume point: `afterLine`). */
  lastLine: number;
}

export interface BatcherOptions {
  kind: ArchiveKind;
  market: Market;
  /** Rows per batch; default 1000. A batch is also cut when as many lines were rejected. */
  batchSize?: number;
  /** Lines up to this number are skipped unread (resuming after a batch's `lastLine`). */
  afterLine?: number;
}

/** Longest line carried from one chunk to the next; Binance's are under 200 bytes. */
export const MAX_LINE = 64 * 1024;
const TEXT_LIMIT = 500;
/**
 * Bytes of lines turned into one string at a time. Under V8's large-object threshold (128 KiB):
 * a 256 KiB string is allocated in its own mapped pages, and turning a month of 1s klines
 * (422 MB) into 256 KiB strings took 420–545 ms against 41–68 ms in 64 KiB ones.
 */
const WINDOW = 64 * 1024;
const NEWLINE = 10;

export class RowBatcher {
  private readonly parse: ReturnType<typeof createLineParser>;
  private readonly batchSize: number;
  private readonly afterLine: number;
  /** Bytes of a line not ended yet (a copy), and whether it outgrew MAX_LINE. */
  private carry: Buffer | undefined;
  private overlong = false;
  private rows: Row[] = [];
  private rejected: Rejected[] = [];
  private ready: ParsedBatch[] = [];
  /** Lines seen so far (the number of the last one). */
  lines = 0;
  rowCount = 0;
  rejectedCount = 0;
  /** The header row, when the file has one. */
  header: string | undefined;

  constructor(private readonly o: BatcherOptions) {
    this.parse = createLineParser(o.kind, o.market);
    this.batchSize = o.batchSize ?? 1000;
    this.afterLine = o.afterLine ?? 0;
    if (!(this.batchSize >= 1)) throw new RangeError(`batchSize must be at least 1, got ${this.batchSize}`);
  }

  /** Times read in µs (16 digits) so far. */
  get microsecondTimes(): number {
    return this.parse.micros();
  }

  /** Takes the next chunk of the CSV; its complete batches are then in `take()`. */
  push(chunk: Buffer): void {
    let from = 0;
    if (this.carry !== undefined) {
      const nl = chunk.indexOf(NEWLINE);
      if (nl < 0) {
        this.extendCarry(chunk);
        return;
      }
      this.extendCarry(chunk.subarray(0, nl + 1));
      this.carriedLine();
      from = nl + 1;
    }
    // Windows of whole lines up to WINDOW bytes, each read as one latin1 string.
    for (;;) {
      let last = chunk.lastIndexOf(NEWLINE, Math.min(from + WINDOW, chunk.length) - 1);
      if (last < from) last = chunk.indexOf(NEWLINE, from); // one line longer than WINDOW
      if (last < 0) break;
      const b = chunk.subarray(from, last + 1);
      const s = b.toString('latin1', 0, b.length);
      for (let p = 0, nl = s.indexOf('\n'); nl >= 0; p = nl + 1, nl = s.indexOf('\n', p))
        this.line(b, s, p, nl);
      from = last + 1;
    }
    if (from < chunk.length) this.extendCarry(chunk.subarray(from));
  }

  /** The end of the CSV: a last line without a newline, and the last batch. */
  end(): void {
    if (this.carry !== undefined) {
      this.extendCarry(Buffer.from('\n'));
      this.carriedLine();
    }
    if (this.rows.length > 0 || this.rejected.length > 0) this.flush();
  }

  /** The batches completed since the last call. */
  take(): ParsedBatch[] {
    const out = this.ready;
    this.ready = [];
    return out;
  }

  private extendCarry(part: Buffer): void {
    const have = this.carry?.length ?? 0;
    if (have + part.length <= MAX_LINE) {
      // A copy: the chunk it came from is not kept alive (nor changed under it).
      this.carry = have === 0 ? Buffer.from(part) : Buffer.concat([this.carry!, part]);
    } else if (!this.overlong) {
      this.overlong = true;
      this.carry = Buffer.concat([this.carry ?? Buffer.alloc(0), part.subarray(0, TEXT_LIMIT)]);
    }
  }

  /** The carried line, now ended by its `\n` (cut short if it was overlong). */
  private carriedLine(): void {
    const b = this.carry!;
    this.carry = undefined;
    const end = b[b.length - 1] === NEWLINE ? b.length - 1 : b.length;
    this.line(b, b.toString('latin1', 0, b.length), 0, end);
  }

  /** Line `[start, end)` of `b` (`b[end]` is its newline; `s`: the same bytes as latin1). */
  private line(b: Buffer, s: string, start: number, end: number): void {
    const n = ++this.lines;
    const overlong = this.overlong;
    this.overlong = false;
    if (n <= this.afterLine) return;
    if (end > start && b[end - 1] === 13) end--;
    if (end === start) return;
    if (overlong) {
      this.reject(n, b, start, end, `line longer than ${MAX_LINE} bytes`);
      return;
    }
    if (n === 1) {
      // A UTF-8 byte order mark is not part of the first field.
      if (b[start] === 0xef && b[start + 1] === 0xbb && b[start + 2] === 0xbf) start += 3;
      const c = b[start]!;
      if (!(c >= 48 && c <= 57) && c !== 45) {
        this.header = b.toString('utf8', start, Math.min(end, start + TEXT_LIMIT));
        return;
      }
    }
    const row = this.parse(b, s, start, end);
    if (row !== undefined) {
      this.rows.push(row);
      this.rowCount++;
      if (this.rows.length >= this.batchSize) this.flush();
    } else {
      this.reject(n, b, start, end, explainLine(this.o.kind, this.o.market, s.slice(start, end)));
    }
  }

  private reject(line: number, b: Buffer, start: number, end: number, reason: string): void {
    this.rejected.push({ line, text: b.toString('utf8', start, Math.min(end, start + TEXT_LIMIT)), reason });
    this.rejectedCount++;
    if (this.rejected.length >= this.batchSize) this.flush();
  }

  private flush(): void {
    this.ready.push({ rows: this.rows, rejected: this.rejected, lastLine: this.lines });
    this.rows = [];
    this.rejected = [];
  }
}
