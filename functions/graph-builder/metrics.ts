/** graph-builder's metrics (Prometheus conventions: base units, `_total`, bounded labels). */
import type { Registry } from 'prom-client';
import { counter, histogram } from '../../shared/runtime/metrics.ts';

export function builderMetrics(registry: Registry) {
  return {
    snapshots: counter(registry, 'streamforge_graph_snapshots_total', 'Graph snapshots written to the store'),
    edges: counter(
      registry,
      'streamforge_graph_edges_total',
      'Edges kept in written snapshots (all methods)',
    ),
    seconds: histogram(
      registry,
      'streamforge_graph_build_seconds',
      'Wall time of a whole graph build',
      [],
      [0.1, 0.5, 1, 5, 15, 60, 300, 1200],
    ),
    // `reason` is one of two values: input (bad or missing data) or internal.
    failures: counter(
      registry,
      'streamforge_graph_build_failures_total',
      'Graph builds that ended in error, by reason (input: bad or missing data; internal)',
      ['reason'],
    ),
  };
}
