/** Human-readable output of the CLI (`--json` prints the API's own JSON instead). */
import type { Workflow } from '../../shared/contracts/workflow.ts';
import type { WorkflowSummary } from './client.ts';

const num = (n: number) => n.toLocaleString('en-US');

/** `-1121 Invalid symbol.` */
export function errorText(wf: Pick<Workflow, 'error'>): string {
  return wf.error ? `${String(wf.error.code)} ${wf.error.message}` : '';
}

/** Percent done: the loader's figure while it runs, 100 once completed. */
export function percentOf(wf: Pick<Workflow, 'status' | 'progress'>): number {
  if (wf.status === 'completed') return 100;
  return Math.floor(wf.progress?.percent ?? 0);
}

export function oneLine(wf: WorkflowSummary): string {
  const parts = [wf.queue_id, wf.status, `${num(wf.records_written)} records`];
  if (wf.status === 'loading' && wf.progress?.percent !== undefined) parts.push(`${percentOf(wf)}%`);
  if (wf.error) parts.push(errorText(wf));
  if (wf.waiting) parts.push('waiting for a job slot');
  return parts.join('  ');
}

export function created(wf: Workflow): string {
  const extra = [...(wf.notes ?? []), ...(wf.waiting ? [wf.waiting] : [])].map((n) => `\n  note: ${n}`);
  return `created ${wf.queue_id}  ${wf.status}  ${wf.symbol} ${wf.market} ${wf.type} ${wf.time_range}${extra.join('')}`;
}

/** Aligned columns, the header first. */
export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function listTable(items: WorkflowSummary[], total: number): string {
  if (items.length === 0) return `no workflows (total ${total})`;
  const rows = [['QUEUE_ID', 'STATUS', 'SYMBOL', 'MARKET', 'TYPE', 'RECORDS', 'UPDATED', 'ERROR']];
  for (const w of items) {
    rows.push([
      w.queue_id,
      w.status,
      w.symbol,
      w.market,
      w.type,
      num(w.records_written),
      w.updated_at,
      errorText(w),
    ]);
  }
  return `${table(rows)}\n${items.length} of ${total}`;
}

/** A full view of one workflow, with its timeline. */
export function details(wf: Workflow): string {
  const lines = [
    `${wf.queue_id}`,
    `  status      ${wf.status} (attempt ${wf.attempt})`,
    `  what        ${wf.symbol} ${wf.market} ${wf.type} ${wf.time_range}`,
    `  records     ${num(wf.records_written)} stored` +
      (wf.progress?.records !== undefined ? `, ${num(wf.progress.records)} published` : ''),
    `  into        topic ${wf.kafka_topic}, collection ${wf.collection_name}`,
    `  created     ${wf.created_at}`,
  ];
  if (wf.finished_at) lines.push(`  finished    ${wf.finished_at}`);
  if (wf.error) lines.push(`  error       ${errorText(wf)}${wf.error.source ? ` (${wf.error.source})` : ''}`);
  for (const n of [...(wf.notes ?? []), ...(wf.waiting ? [wf.waiting] : [])])
    lines.push(`  note        ${n}`);
  lines.push('  timeline');
  for (const t of wf.timeline)
    lines.push(
      `    ${t.at}  ${t.producer.padEnd(16)} ${t.status.padEnd(9)} ${t.message}` +
        (t.reports !== undefined && t.reports > 1 ? ` (${t.reports} reports)` : ''),
    );
  return lines.join('\n');
}

/** `2024-08-01T00:00:00Z` (ms only when there are some), `-` for none. */
export function isoTime(ms: number | null): string {
  if (ms === null) return '-';
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** A duration as the largest whole units: `3d 4h`, `15m`, `250ms`. */
export function duration(ms: number): string {
  const units: [string, number][] = [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  const parts: string[] = [];
  let rest = ms;
  for (const [u, size] of units) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${u}`);
      rest %= size;
    }
    if (parts.length === 2) break;
  }
  return parts.length > 0 ? parts.join(' ') : `${ms}ms`;
}

/** `1.5 MB` (SI units, as file managers show sizes). */
export function bytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u += 1;
  }
  return `${v.toFixed(1)} ${units[u]!}`;
}

export interface SeriesRow {
  market: string;
  symbol: string;
  dataset: string;
  count: number;
  first: number | null;
  last: number | null;
}

/** `streamforge series`: one line per stored series. */
export function seriesTable(items: readonly SeriesRow[]): string {
  if (items.length === 0) return 'no stored series';
  const rows = [['MARKET', 'SYMBOL', 'DATASET', 'RECORDS', 'FIRST', 'LAST']];
  for (const s of items)
    rows.push([s.market, s.symbol, s.dataset, num(s.count), isoTime(s.first), isoTime(s.last)]);
  return `${table(rows)}\n${items.length} series, ${num(items.reduce((n, s) => n + s.count, 0))} records`;
}

export interface Span {
  from: number;
  to: number;
}

/** One stretch of a series' timeline: stored, a gap at the exchange, or not loaded. */
export interface TimelineSpan extends Span {
  state: 'stored' | 'exchange_gap' | 'missing';
}

/**
 * The coverage ledger as one timeline from the first to the last known time: the stored ranges,
 * the exchange's gaps (no data exists there) and, between them, what was never loaded.
 */
export function timeline(covered: readonly Span[], gaps: readonly Span[]): TimelineSpan[] {
  const known: TimelineSpan[] = [
    ...covered.map((s) => ({ ...s, state: 'stored' as const })),
    ...gaps.map((s) => ({ ...s, state: 'exchange_gap' as const })),
  ].sort((a, b) => a.from - b.from || a.to - b.to);
  const out: TimelineSpan[] = [];
  let end: number | undefined;
  for (const s of known) {
    if (end !== undefined && s.from > end) out.push({ from: end, to: s.from, state: 'missing' });
    out.push(s);
    end = end === undefined ? s.to : Math.max(end, s.to);
  }
  return out;
}

const STATE_TEXT: Record<TimelineSpan['state'], string> = {
  stored: 'stored',
  exchange_gap: 'no data at the exchange',
  missing: 'MISSING (not loaded)',
};

/** `streamforge gaps`: the timeline as a table, then the totals. */
export function gapsTable(series: SeriesRow, spans: readonly TimelineSpan[]): string {
  const head = `${series.market} ${series.symbol} ${series.dataset}: ${num(series.count)} records from ${isoTime(series.first)} to ${isoTime(series.last)}`;
  if (spans.length === 0) return `${head}\nno coverage recorded`;
  const rows = [['FROM', 'TO', 'SPAN', 'STATE']];
  for (const s of spans)
    rows.push([isoTime(s.from), isoTime(s.to), duration(s.to - s.from), STATE_TEXT[s.state]]);
  const missing = spans.filter((s) => s.state === 'missing');
  const gaps = spans.filter((s) => s.state === 'exchange_gap');
  const total = (xs: TimelineSpan[]) => duration(xs.reduce((n, s) => n + s.to - s.from, 0));
  return [
    head,
    table(rows),
    `${missing.length} missing (${missing.length > 0 ? total(missing) : 'none'}), ` +
      `${gaps.length} exchange gaps (${gaps.length > 0 ? total(gaps) : 'none'})`,
  ].join('\n');
}
