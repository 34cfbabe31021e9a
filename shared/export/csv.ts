/**
 * CSV of exported records (RFC 4180): a header row, CRLF line ends, a field quoted when it holds
 * a comma, a quote, CR or LF (its quotes doubled). Decimals are the stored strings untouched,
 * times epoch ms, booleans `true`/`false`, an absent optional field empty, depth levels as JSON.
 */
import type { ExportColumn } from './columns.ts';

const NEEDS_QUOTES = /[",\r\n]/;

/** One field as RFC 4180 wants it. */
export function csvField(text: string): string {
  return NEEDS_QUOTES.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

function cell(col: ExportColumn, value: unknown): string {
  if (value === undefined || value === null) return '';
  if (col.type === 'levels') return csvField(JSON.stringify(value));
  // Every other column holds a string, a number or a boolean (the record schemas).
  const v = value as string | number | boolean;
  switch (col.type) {
    case 'string':
    case 'decimal':
      return csvField(String(v));
    default:
      return String(v);
  }
}

const encoder = new TextEncoder();

export function csvHeader(columns: readonly ExportColumn[]): Uint8Array {
  return encoder.encode(`${columns.map((c) => csvField(c.name)).join(',')}\r\n`);
}

export function csvRows(
  columns: readonly ExportColumn[],
  docs: readonly Record<string, unknown>[],
): Uint8Array {
  let out = '';
  for (const doc of docs) {
    let line = '';
    for (let i = 0; i < columns.length; i++) {
      const col = columns[i]!;
      line += (i === 0 ? '' : ',') + cell(col, doc[col.name]);
    }
    out += `${line}\r\n`;
  }
  return encoder.encode(out);
}
