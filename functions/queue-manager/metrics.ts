/**
 * The manager's business metrics, on the function app's registry (DESIGN.md "Metrics"). Labels
 * are bounded: `type` is a validated workflow type (a finite enum: contracts/workflow.ts),
 * `family` the same without its interval, `status` a workflow status, `target` a loader, `outcome`
 * a fixed set.
 */
import type { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../shared/runtime/metrics.ts';
import type { Workflow } from '../../shared/contracts/workflow.ts';

export interface ManagerMetrics {
  created: Counter<'type'>;
  finished: Counter<'status'>;
  events: Counter<'outcome'>;
  stalled: Counter;
  jobsLaunched: Counter<'target'>;
  jobFailures: Counter;
  /** Created to terminal status, by workflow family and final status. */
  workflowSeconds: Histogram<'family' | 'status'>;
  active: Gauge<'status'>;
  silentSeconds: Gauge;
  /** A workflow reached a terminal status: counts it and observes its duration. */
  workflowFinished(wf: Pick<Workflow, 'type' | 'status' | 'created_at' | 'finished_at' | 'updated_at'>): void;
  /** The active workflows as the watchdog sees them each sweep: counts by status, longest silence. */
  observeActive(
    active: ReadonlyArray<Pick<Workflow, 'status' | 'last_event_at' | 'waiting'>>,
    now: number,
  ): void;
}

/** `api_candles_5m` → `api_candles`: one histogram series per family, not per interval. */
export function workflowFamily(type: string): string {
  return type.replace(/_\d+[smhdwM]$/, '');
}

const ACTIVE_STATUSES = ['pending', 'started', 'loading'] as const;

/** Workflow duration buckets: a minute-long REST pull to a month-long live stream. */
const DURATION_BUCKETS = [
  1,
  5,
  15,
  30,
  60,
  120,
  300,
  600,
  1800,
  3600,
  4 * 3600,
  12 * 3600,
  86_400,
  7 * 86_400,
];

export function managerMetrics(registry: Registry): ManagerMetrics {
  const finished = counter(
    registry,
    'streamforge_workflows_finished_total',
    'Workflows that reached a terminal status',
    ['status'],
  );
  const workflowSeconds = histogram(
    registry,
    'streamforge_workflow_duration_seconds',
    'Time from a workflow created to its terminal status, by workflow family and status',
    ['family', 'status'],
    DURATION_BUCKETS,
  );
  const active = gauge(
    registry,
    'streamforge_workflows_active',
    'Workflows not yet finished, by status (updated by each watchdog sweep)',
    ['status'],
  );
  const silentSeconds = gauge(
    registry,
    'streamforge_workflow_max_silence_seconds',
    'Longest time any active workflow has gone without an event (the stall watchdog fails it at STALL_TIMEOUT_MS)',
  );
  return {
    created: counter(registry, 'streamforge_workflows_created_total', 'Workflows created', ['type']),
    finished,
    events: counter(
      registry,
      'streamforge_queue_events_total',
      'Queue-events received, by outcome (applied, unchanged, unknown workflow, invalid)',
      ['outcome'],
    ),
    stalled: counter(
      registry,
      'streamforge_workflows_stalled_total',
      'Workflows failed by the stall watchdog',
    ),
    jobsLaunched: counter(registry, 'streamforge_jobs_launched_total', 'Jobs launched', ['target']),
    jobFailures: counter(registry, 'streamforge_job_failures_total', 'Jobs that exited with a failure'),
    workflowSeconds,
    active,
    silentSeconds,
    workflowFinished(wf) {
      finished.inc({ status: wf.status });
      const end = Date.parse(wf.finished_at ?? wf.updated_at);
      const start = Date.parse(wf.created_at);
      if (Number.isFinite(end) && Number.isFinite(start))
        workflowSeconds.observe(
          { family: workflowFamily(wf.type), status: wf.status },
          Math.max(0, (end - start) / 1000),
        );
    },
    observeActive(wfs, now) {
      const counts = new Map<string, number>(ACTIVE_STATUSES.map((s) => [s, 0]));
      let silent = 0;
      for (const wf of wfs) {
        counts.set(wf.status, (counts.get(wf.status) ?? 0) + 1);
        // Waiting for a job slot is not silence (as the watchdog counts it).
        if (wf.waiting !== undefined) continue;
        const last = Date.parse(wf.last_event_at);
        if (Number.isFinite(last)) silent = Math.max(silent, (now - last) / 1000);
      }
      for (const [status, n] of counts) active.set({ status }, n);
      silentSeconds.set(Math.max(0, silent));
    },
  };
}
