/**
 * Renders what observability/ ships from its sources: the Grafana dashboards (observability/
 * grafana/*.json) from the panel lists below, and the cluster manifests that must say the same
 * as their sources: observability/k8s/prometheus-rule.yaml (the groups of
 * observability/prometheus/streamforge-rules.yaml in a prometheus-operator PrometheusRule) and
 * observability/k8s/grafana-dashboards.yaml (the dashboards in a ConfigMap labelled for Grafana's
 * sidecar). test/observability fails when a file differs from what this renders.
 *
 *   node --import tsx scripts/observability.ts    # rewrites the rendered files
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { parse, stringify } from 'yaml';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const RULES_FILE = 'observability/prometheus/streamforge-rules.yaml';

interface Panel {
  title: string;
  /** PromQL, one target per expression; `{{label}}` legends. */
  exprs: [expr: string, legend: string][];
  unit?: string;
  kind?: 'timeseries' | 'stat';
}

interface Dashboard {
  uid: string;
  title: string;
  description: string;
  panels: Panel[];
}

const ts = (title: string, unit: string, ...exprs: [string, string][]): Panel => ({ title, unit, exprs });
const stat = (title: string, unit: string, expr: string): Panel => ({
  title,
  unit,
  exprs: [[expr, '']],
  kind: 'stat',
});

export const DASHBOARDS: Dashboard[] = [
  {
    uid: 'streamforge-overview',
    title: 'StreamForge / Platform overview',
    description: 'Workflows, records stored, consumer lag and errors across every function.',
    panels: [
      stat('Active workflows', 'short', 'sum(streamforge_workflows_active)'),
      stat(
        'Records stored (1h)',
        'short',
        'sum(increase(streamforge_records_stored_total{result!="unchanged"}[1h]))',
      ),
      stat('Dead letters (1h)', 'short', 'sum(increase(streamforge_dead_letters_total[1h]))'),
      stat('429/418 answers (1h)', 'short', 'sum(increase(streamforge_exchange_rate_limited_total[1h]))'),
      ts('Workflows by status', 'short', ['sum by (status) (streamforge_workflows_active)', '{{status}}']),
      ts('Workflows finished per hour', 'short', [
        'sum by (status) (increase(streamforge_workflows_finished_total[1h]))',
        '{{status}}',
      ]),
      ts(
        'Workflow duration p50 / p95',
        's',
        [
          'histogram_quantile(0.5, sum by (le, family) (rate(streamforge_workflow_duration_seconds_bucket[1h])))',
          'p50 {{family}}',
        ],
        [
          'histogram_quantile(0.95, sum by (le, family) (rate(streamforge_workflow_duration_seconds_bucket[1h])))',
          'p95 {{family}}',
        ],
      ),
      ts('Longest workflow silence', 's', ['max(streamforge_workflow_max_silence_seconds)', 'silence']),
      ts('Consumer lag by topic', 's', ['max by (topic) (streamforge_consumer_lag_seconds)', '{{topic}}']),
      ts(
        'CloudEvents received / failed per second',
        'ops',
        ['sum by (fn) (rate(streamforge_cloudevents_received_total[5m]))', 'received {{fn}}'],
        ['sum by (fn, status) (rate(streamforge_cloudevents_failed_total[5m]))', 'failed {{fn}} {{status}}'],
      ),
      ts('HTTP p95 latency by function', 's', [
        'histogram_quantile(0.95, sum by (le, fn) (rate(http_request_duration_seconds_bucket[5m])))',
        '{{fn}}',
      ]),
      ts('Resident memory by function', 'bytes', ['max by (fn) (process_resident_memory_bytes)', '{{fn}}']),
    ],
  },
  {
    uid: 'streamforge-loaders',
    title: 'StreamForge / Loaders and the exchange',
    description: "Request weight against the exchange's limit, 429/418 answers, jobs and workflow families.",
    panels: [
      ts(
        'Request weight used / limit',
        'short',
        ['max by (market, host) (streamforge_exchange_weight_used)', 'used {{market}} {{host}}'],
        ['max by (market, host) (streamforge_exchange_weight_limit)', 'limit {{market}} {{host}}'],
      ),
      ts('Request weight remaining', 'short', [
        'min by (market, host) (streamforge_exchange_weight_remaining)',
        '{{market}} {{host}}',
      ]),
      ts('429 / 418 answers', 'short', [
        'sum by (status, host) (increase(streamforge_exchange_rate_limited_total[5m]))',
        '{{status}} {{host}}',
      ]),
      ts('Paused for Retry-After', 'short', [
        'max by (market, host) (streamforge_exchange_paused)',
        '{{market}} {{host}}',
      ]),
      ts(
        'Jobs launched / failed per hour',
        'short',
        ['sum by (target) (increase(streamforge_jobs_launched_total[1h]))', 'launched {{target}}'],
        ['sum(increase(streamforge_job_failures_total[1h]))', 'failed'],
      ),
      ts('Workflows created per hour by type', 'short', [
        'sum by (type) (increase(streamforge_workflows_created_total[1h]))',
        '{{type}}',
      ]),
      ts('Workflows failed by the stall watchdog', 'short', [
        'sum(increase(streamforge_workflows_stalled_total[1h]))',
        'stalled',
      ]),
    ],
  },
  {
    uid: 'streamforge-connector',
    title: 'StreamForge / Connector (storage)',
    description: 'Records and batches stored, dead letters by reason, coverage gaps, batch latency.',
    panels: [
      ts('Records stored per second by kind', 'ops', [
        'sum by (kind, result) (rate(streamforge_records_stored_total[5m]))',
        '{{kind}} {{result}}',
      ]),
      ts('Batches per second by outcome', 'ops', [
        'sum by (outcome) (rate(streamforge_connector_batches_total[5m]))',
        '{{outcome}}',
      ]),
      ts('Dead letters by reason', 'short', [
        'sum by (reason) (increase(streamforge_dead_letters_total[5m]))',
        '{{reason}}',
      ]),
      ts(
        'Batch store time p50 / p99',
        's',
        [
          'histogram_quantile(0.5, sum by (le) (rate(streamforge_connector_batch_duration_seconds_bucket[5m])))',
          'p50',
        ],
        [
          'histogram_quantile(0.99, sum by (le) (rate(streamforge_connector_batch_duration_seconds_bucket[5m])))',
          'p99',
        ],
      ),
      ts('Batches in flight', 'short', ['sum(streamforge_connector_batches_in_flight)', 'in flight']),
      ts(
        'Exchange gaps recorded',
        'short',
        ['sum by (kind) (increase(streamforge_coverage_gaps_total[1h]))', 'gaps {{kind}}'],
        ['sum by (kind) (increase(streamforge_coverage_gap_seconds_total[1h]))', 'seconds {{kind}}'],
      ),
      ts('Consumer lag of data topics', 's', [
        'max by (topic) (streamforge_consumer_lag_seconds{fn="arango-connector"})',
        '{{topic}}',
      ]),
    ],
  },
  {
    uid: 'streamforge-live',
    title: 'StreamForge / Live streams',
    description: 'loader-ws: per-series freshness, messages, gaps refilled, connections and back-pressure.',
    panels: [
      ts('Time since the last record, per live series', 's', [
        'max by (market, symbol, dataset) (streamforge_live_series_last_record_age_seconds)',
        '{{market}} {{symbol}} {{dataset}}',
      ]),
      ts('Live workflows', 'short', ['sum(streamforge_ws_live_workflows)', 'workflows']),
      ts('Messages per second by kind', 'ops', [
        'sum by (kind) (rate(streamforge_ws_messages_total[5m]))',
        '{{kind}}',
      ]),
      ts(
        'Holes refilled and left',
        'short',
        ['sum by (kind) (increase(streamforge_ws_gap_fills_total[1h]))', 'refilled {{kind}}'],
        ['sum by (kind) (increase(streamforge_ws_unfilled_gaps_total[1h]))', 'unfilled {{kind}}'],
      ),
      ts(
        'Connections, reconnects and rotations',
        'short',
        ['sum by (market) (streamforge_ws_connections)', 'open {{market}}'],
        ['sum by (market) (increase(streamforge_ws_reconnects_total[1h]))', 'reconnects {{market}}'],
        ['sum by (market) (increase(streamforge_ws_rotations_total[1h]))', 'rotations {{market}}'],
      ),
      ts(
        'Back-pressure',
        'short',
        ['sum(streamforge_ws_buffered_records)', 'buffered records'],
        ['sum(streamforge_ws_behind_workflows)', 'workflows behind'],
        ['sum by (kind) (increase(streamforge_ws_shed_records_total[5m]))', 'shed {{kind}}'],
      ),
      ts(
        'Duplicates and malformed events',
        'short',
        ['sum by (kind) (increase(streamforge_ws_duplicates_total[5m]))', 'duplicates {{kind}}'],
        ['sum by (kind) (increase(streamforge_ws_malformed_events_total[5m]))', 'malformed {{kind}}'],
      ),
    ],
  },
];

/** A dashboard as Grafana's JSON model (schemaVersion 39), on a `datasource` template variable. */
export function dashboardJson(d: Dashboard): Record<string, unknown> {
  const ds = { type: 'prometheus', uid: '${datasource}' };
  let y = 0;
  let x = 0;
  const panels = d.panels.map((p, i) => {
    const w = p.kind === 'stat' ? 6 : 12;
    const h = p.kind === 'stat' ? 4 : 8;
    if (x + w > 24) {
      x = 0;
      y += 8;
    }
    const gridPos = { h, w, x, y };
    x += w;
    return {
      id: i + 1,
      type: p.kind ?? 'timeseries',
      title: p.title,
      datasource: ds,
      gridPos,
      fieldConfig: { defaults: { unit: p.unit ?? 'short' }, overrides: [] },
      options:
        p.kind === 'stat'
          ? { reduceOptions: { calcs: ['lastNotNull'] } }
          : { legend: { displayMode: 'list' } },
      targets: p.exprs.map(([expr, legend], j) => ({
        refId: String.fromCharCode(65 + j),
        datasource: ds,
        expr,
        legendFormat: legend,
      })),
    };
  });
  return {
    uid: d.uid,
    title: d.title,
    description: d.description,
    tags: ['streamforge'],
    schemaVersion: 39,
    editable: true,
    time: { from: 'now-6h', to: 'now' },
    refresh: '30s',
    templating: {
      list: [{ name: 'datasource', type: 'datasource', query: 'prometheus', label: 'Prometheus' }],
    },
    panels,
  };
}

const GENERATED = '# Rendered by scripts/observability.ts from its source; edit the source and rerun it.\n';

/** Every rendered file: repository-relative path → content, as prettier (npm run check) keeps it. */
export async function render(): Promise<Map<string, string>> {
  const raw = renderRaw();
  const out = new Map<string, string>();
  for (const [file, text] of raw) {
    const filepath = path.join(ROOT, file);
    out.set(file, await format(text, { ...(await resolveConfig(filepath)), filepath }));
  }
  return out;
}

function renderRaw(): Map<string, string> {
  const out = new Map<string, string>();
  const dashboards: Record<string, string> = {};
  for (const d of DASHBOARDS) {
    const text = `${JSON.stringify(dashboardJson(d), null, 2)}\n`;
    out.set(`observability/grafana/${d.uid}.json`, text);
    dashboards[`${d.uid}.json`] = text;
  }
  const rules = parse(readFileSync(path.join(ROOT, RULES_FILE), 'utf8')) as { groups: unknown[] };
  out.set(
    'observability/k8s/prometheus-rule.yaml',
    GENERATED +
      stringify(
        {
          apiVersion: 'monitoring.coreos.com/v1',
          kind: 'PrometheusRule',
          metadata: {
            name: 'streamforge',
            // kube-prometheus-stack's default ruleSelector picks rules with its release label.
            labels: { 'app.kubernetes.io/part-of': 'streamforge', release: 'kube-prometheus-stack' },
          },
          spec: { groups: rules.groups },
        },
        { lineWidth: 0 },
      ),
  );
  out.set(
    'observability/k8s/grafana-dashboards.yaml',
    GENERATED +
      stringify({
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: 'streamforge-dashboards',
          // Grafana's dashboard sidecar (kube-prometheus-stack, grafana chart) loads every
          // ConfigMap with this label; set its searchNamespace to ALL or to this namespace.
          labels: { 'app.kubernetes.io/part-of': 'streamforge', grafana_dashboard: '1' },
          annotations: { grafana_folder: 'StreamForge' },
        },
        data: dashboards,
      }),
  );
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await render();
  for (const [file, text] of files) writeFileSync(path.join(ROOT, file), text);
  console.log(`rendered ${files.size} files`);
}
