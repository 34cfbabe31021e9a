/**
 * The connector's business metrics (DESIGN.md "Cross-cutting rules": records, batches, dead
 * letters, coverage gaps). Labels are bounded: `kind` is one of the six record kinds, `result`
 * and `outcome` are fixed sets, `reason` is a DeadLetterReason (schema.ts).
 */
import type { Registry } from 'prom-client';
import { counter, gauge, histogram } from '../../shared/runtime/metrics.ts';

export function connectorMetrics(registry: Registry) {
  return {
    records: counter(
      registry,
      'streamforge_records_stored_total',
      'Valid records written, by record kind and UPSERT outcome (inserted, updated, unchanged)',
      ['kind', 'result'],
    ),
    batches: counter(
      registry,
      'streamforge_connector_batches_total',
      'Data batches handled, by outcome (stored, redelivered, or the HTTP status of a failure)',
      ['outcome'],
    ),
    deadLetters: counter(
      registry,
      'streamforge_dead_letters_total',
      'Records sent to the dead-letter topic, by reason',
      ['reason'],
    ),
    coverageGaps: counter(
      registry,
      'streamforge_coverage_gaps_total',
      'Exchange gaps recorded in the coverage ledger (ranges where the exchange has no data), by record kind',
      ['kind'],
    ),
    coverageGapSeconds: counter(
      registry,
      'streamforge_coverage_gap_seconds_total',
      'Length of the exchange gaps recorded in the coverage ledger, by record kind',
      ['kind'],
    ),
    batchSeconds: histogram(
      registry,
      'streamforge_connector_batch_duration_seconds',
      'Time to store one data batch',
    ),
    inFlight: gauge(registry, 'streamforge_connector_batches_in_flight', 'Data batches being written'),
  };
}

export type ConnectorMetrics = ReturnType<typeof connectorMetrics>;
