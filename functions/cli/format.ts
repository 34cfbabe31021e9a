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
