/**
 * Lines of data.binance.vision CSV files → rows in ROW_COLUMNS order (shared/contracts/rows.ts),
 * the hot loop of the archive loader (issue 12 "Integrity"; binance.md §5).
 *
 * - Layouts: klines are the 12 REST fields in both markets; spot trades `id, price, qty,
 *   quoteQty, time, isBuyerMaker, isBestMatch`, USD-M trades the same without isBestMatch; spot
 *   aggTrades `aggId, price, qty, firstId, lastId, time, isBuyerMaker, isBestMatch`, USD-M the
 *   same without isBestMatch. A missing isBestMatch is `null` in the row (the record field is
 *   optional, rows.ts).
 * - Times are normalised by magnitude, never by the file's date: 13 digits are ms, 16 digits are
 *   µs (spot from 2025-01-01) and become floor(µs / 1000), i.e. their first 13 digits — exact,
 *   where `Math.floor(v / 1000)` would round above 2^53. Anything else is rejected.
 * - Decimals are checked (`-?\d+(\.\d+)?`, the row schema's DECIMAL_PATTERN) and kept as the
 *   exchange's strings; ids and trade counts become numbers (at most 15 digits: safe integers);
 *   booleans `True`/`False`/`true`/`false` become booleans.
 *
 * Hand-written rather than a CSV library: Binance's lines have no quoting, and every field needs
 * a check anyway, so one pass over the bytes splits, checks and converts at once. Measured in
 * bench/archive-parse.ts (one core, a month of 1s klines, the same inflate in front): csv-parse
 * 7.0.3 gave 116–121 K lines/s as arrays of strings (105–109 K as checked rows), this parser
 * 0.90–0.94 M rows/s, the whole of parseArchive; on 2.68 M trades 235–245 K against 1.76–1.80 M.
 *
 * The hot path only decides good or bad; `explainLine` (the cold path, per rejected line) says why.
 */
import type { Row } from '../contracts/rows.ts';
import type { Market } from '../contracts/common.ts';

/** Record kinds the archive has files of. */
export type ArchiveKind = 'kline' | 'trade' | 'agg_trade';

/**
 * One line `[start, end)` (no newline) of a text: its bytes `b` and the same bytes as a latin1
 * string `s` (equal indices). Returns its row, or undefined when it does not parse (ask
 * `explainLine` why).
 */
export type LineParser = (b: Uint8Array, s: string, start: number, end: number) => Row | undefined;

const COMMA = 44;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;

/**
 * A cursor over one line `[p, e)`. Each reader takes the field at `p` up to the next comma or the
 * line's end and moves `p` past that comma (`p > e`: no field left); a fault sets `bad` instead
 * of throwing, so a line's readers run straight through and the line is checked once.
 *
 * Characters are read from the bytes (`b[i]`): measured faster here than `s.charCodeAt(i)`
 * (1.34–1.59 s against 1.72–1.84 s for 2.68 M kline lines); strings are sliced from `s`. The
 * byte at `e` is always the line's `\n` (or `\r`), never a digit, so the digit loops need no
 * bounds test (a few per cent); a reader that starts past `e` (no field left) is bad.
 */
class Cursor {
  b: Uint8Array = new Uint8Array(0);
  s = '';
  p = 0;
  e = 0;
  bad = false;
  /** Times read with 16 digits (µs), over the cursor's life. */
  micros = 0;

  at(b: Uint8Array, s: string, start: number, end: number): void {
    this.b = b;
    this.s = s;
    this.p = start;
    this.e = end;
    this.bad = false;
  }

  /** Moves past the delimiter at `i`; a field that stops before anything but a comma is bad. */
  private close(i: number): void {
    const e = this.e;
    if (i < e && this.b[i] !== COMMA) {
      this.bad = true;
      while (i < e && this.b[i] !== COMMA) i++;
    }
    this.p = i + 1;
  }

  /** A decimal (`-?\d+(\.\d+)?`) as the exchange wrote it. */
  dec(): string {
    const { b, e } = this;
    const a = this.p;
    let i = a;
    if (i < e && b[i] === MINUS) i++;
    const d = i;
    let c: number;
    while ((c = b[i]!) >= ZERO && c <= NINE) i++;
    if (i === d || a > e) this.bad = true;
    else if (i < e && c === DOT) {
      const f = ++i;
      while ((c = b[i]!) >= ZERO && c <= NINE) i++;
      if (i === f) this.bad = true;
    }
    this.close(i);
    return this.s.slice(a, i);
  }

  /** An integer of 1 to 15 digits (a safe integer), negative only if `signed`. */
  int(signed = false): number {
    const { b, e } = this;
    let i = this.p;
    const negative = signed && i < e && b[i] === MINUS;
    if (negative) i++;
    const a = i;
    let v = 0;
    let c: number;
    while ((c = b[i]!) >= ZERO && c <= NINE) {
      v = v * 10 + (c - ZERO);
      i++;
    }
    if (i === a || i - a > 15 || a > e) this.bad = true;
    this.close(i);
    return negative ? -v : v;
  }

  /** Epoch ms from 13 digits (ms) or 16 digits (µs: its first 13 digits, floor(µs / 1000)). */
  time(): number {
    const { b, e } = this;
    const a = this.p;
    const ms = a + 13;
    let i = a;
    let v = 0;
    let c: number;
    while ((c = b[i]!) >= ZERO && c <= NINE) {
      if (i < ms) v = v * 10 + (c - ZERO);
      i++;
    }
    const n = i - a;
    if (n === 16) this.micros++;
    else if (n !== 13 || a > e) this.bad = true;
    this.close(i);
    return v;
  }

  /** `True`/`true` or `False`/`false`. */
  bool(): boolean {
    const { b, e } = this;
    const a = this.p;
    const c = a < e ? b[a] : 0;
    let v = false;
    let i = a;
    if ((c === 84 || c === 116) && a + 4 <= e && b[a + 1] === 114 && b[a + 2] === 117 && b[a + 3] === 101) {
      v = true;
      i = a + 4;
    } else if (
      (c === 70 || c === 102) &&
      a + 5 <= e &&
      b[a + 1] === 97 &&
      b[a + 2] === 108 &&
      b[a + 3] === 115 &&
      b[a + 4] === 101
    )
      i = a + 5;
    else this.bad = true;
    this.close(i);
    return v;
  }

  /** Any text up to the next comma (the klines' `ignore` field). */
  text(): string {
    const { b, e } = this;
    const a = this.p;
    let i = a;
    while (i < e && b[i] !== COMMA) i++;
    if (a > e) this.bad = true;
    this.p = i + 1;
    return this.s.slice(a, i);
  }

  /** Whether the line ended after its last field and no field was bad. */
  ok(): boolean {
    return !this.bad && this.p > this.e;
  }
}

/** The line parser of one file layout, and how many µs times it has read so far. */
export function createLineParser(kind: ArchiveKind, market: Market): LineParser & { micros: () => number } {
  const c = new Cursor();
  const spot = market === 'spot';
  const micros = (): number => c.micros;
  switch (kind) {
    case 'kline':
      return Object.assign(
        (b: Uint8Array, s: string, start: number, end: number): Row | undefined => {
          c.at(b, s, start, end);
          const row = [
            c.time(),
            c.dec(),
            c.dec(),
            c.dec(),
            c.dec(),
            c.dec(),
            c.time(),
            c.dec(),
            c.int(),
            c.dec(),
            c.dec(),
            c.text(),
          ];
          return c.ok() ? row : undefined;
        },
        { micros },
      );
    case 'trade':
      return Object.assign(
        (b: Uint8Array, s: string, start: number, end: number): Row | undefined => {
          c.at(b, s, start, end);
          const row = [c.int(), c.dec(), c.dec(), c.dec(), c.time(), c.bool(), spot ? c.bool() : null];
          return c.ok() ? row : undefined;
        },
        { micros },
      );
    case 'agg_trade':
      return Object.assign(
        (b: Uint8Array, s: string, start: number, end: number): Row | undefined => {
          c.at(b, s, start, end);
          const row = [
            c.int(),
            c.dec(),
            c.dec(),
            c.int(true),
            c.int(true),
            c.time(),
            c.bool(),
            spot ? c.bool() : null,
          ];
          return c.ok() ? row : undefined;
        },
        { micros },
      );
  }
}

type FieldType = 'time' | 'decimal' | 'int' | 'signed' | 'bool' | 'text';

/** Field names and types of each layout, as in binance.md §5 (for reasons only). */
const LAYOUTS: Record<ArchiveKind, [string, FieldType][]> = {
  kline: [
    ['open_time', 'time'],
    ['open', 'decimal'],
    ['high', 'decimal'],
    ['low', 'decimal'],
    ['close', 'decimal'],
    ['volume', 'decimal'],
    ['close_time', 'time'],
    ['quote_volume', 'decimal'],
    ['trades', 'int'],
    ['taker_buy_base', 'decimal'],
    ['taker_buy_quote', 'decimal'],
    ['ignore', 'text'],
  ],
  trade: [
    ['id', 'int'],
    ['price', 'decimal'],
    ['qty', 'decimal'],
    ['quote_qty', 'decimal'],
    ['time', 'time'],
    ['is_buyer_maker', 'bool'],
    ['is_best_match', 'bool'],
  ],
  agg_trade: [
    ['agg_id', 'int'],
    ['price', 'decimal'],
    ['qty', 'decimal'],
    ['first_trade_id', 'signed'],
    ['last_trade_id', 'signed'],
    ['time', 'time'],
    ['is_buyer_maker', 'bool'],
    ['is_best_match', 'bool'],
  ],
};

/** The fields a line of this layout has (USD-M trades and aggTrades lack is_best_match). */
export function layoutFields(kind: ArchiveKind, market: Market): string[] {
  const fields = LAYOUTS[kind].map(([name]) => name);
  return kind !== 'kline' && market === 'usdm' ? fields.slice(0, -1) : fields;
}

const CHECKS: Record<FieldType, [RegExp, string]> = {
  time: [/^(\d{13}|\d{16})$/, 'a time of 13 digits (ms) or 16 digits (µs)'],
  decimal: [/^-?\d+(\.\d+)?$/, 'a decimal'],
  int: [/^\d{1,15}$/, 'an integer of at most 15 digits'],
  signed: [/^-?\d{1,15}$/, 'an integer of at most 15 digits'],
  bool: [/^(True|False|true|false)$/, 'True, False, true or false'],
  text: [/^/, ''],
};

/** Why `line` did not parse (the cold path, for a line `createLineParser` rejected). */
export function explainLine(kind: ArchiveKind, market: Market, line: string): string {
  const names = layoutFields(kind, market);
  const values = line.split(',');
  if (values.length !== names.length)
    return `expected ${names.length} fields (${names.join(',')}), got ${values.length}`;
  const types = LAYOUTS[kind];
  for (let i = 0; i < values.length; i++) {
    const [re, what] = CHECKS[types[i]![1]];
    const v = values[i]!;
    if (!re.test(v))
      return `field ${i + 1} (${names[i]}): expected ${what}, got ${JSON.stringify(v.slice(0, 40))}`;
  }
  return 'line does not parse';
}
