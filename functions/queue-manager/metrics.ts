/** The manager's business metrics, on the function app's registry (DESIGN.md "Metrics"). */
import type { Counter, Registry } from 'prom-client';
import { counter } from '../../shared/runtime/metrics.ts';

export interface ManagerMetrics {
  created: Counter<'type'>;
  finished: Counter<'status'>;
  events: Counter<'outcome'>;
  stalled: Counter;
  jobsLaunched: Counter<'target'>;
  jobFailures: Counter;
}

export function managerMetrics(registry: Registry): ManagerMetrics {
  return {
    created: counter(registry, 'streamforge_workflows_created_total', 'Workflows created', ['type']),
    finished: counter(
      registry,
      'streamforge_workflows_finished_total',
      'Workflows that reached a terminal status',
      ['status'],
    ),
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
  };
}
