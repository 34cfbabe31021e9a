/** graph-builder's metrics (Prometheus conventions: base units, `_total`, bounded labels). */
import { Counter, Histogram, type Registry } from 'prom-client';

export function builderMetrics(registry: Registry) {
  return {
    snapshots: new Counter({
      name: 'streamforge_graph_snapshots_total',
      help: 'Graph snapshots written to the store',
      registers: [registry],
    }),
    edges: new Counter({
      name: 'streamforge_graph_edges_total',
      help: 'Edges kept in written snapshots (all methods)',
      registers: [registry],
    }),
    seconds: new Histogram({
      name: 'streamforge_graph_build_seconds',
      help: 'Wall time of a whole graph build',
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 1200],
      registers: [registry],
    }),
    failures: new Counter({
      name: 'streamforge_graph_build_failures_total',
      help: 'Graph builds that ended in error, by reason (input: bad or missing data; internal)',
      labelNames: ['reason'] as const,
      registers: [registry],
    }),
  };
}
