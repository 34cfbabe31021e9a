/** The connector's business metrics (DESIGN.md "Cross-cutting rules": records, batches, dead letters). */
import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../shared/runtime/metrics.ts';

export function connectorMetrics(registry: Registry) {
  return {
    records: counter(registry, 'connector_records_total', 'Valid records written, by UPSERT outcome', [
      'result',
    ]),
    batches: counter(registry, 'connector_batches_total', 'Data batches handled, by outcome', ['outcome']),
    deadLetters: counter(registry, 'dead_letters_total', 'Records sent to the dead-letter topic', ['reason']),
    batchSeconds: histogram(registry, 'connector_batch_duration_seconds', 'Time to store one data batch'),
    inFlight: gauge(registry, 'connector_batches_in_flight', 'Data batches being written'),
  };
}

export type ConnectorMetrics = ReturnType<typeof connectorMetrics>;
