/**
 * Fault runs against the Kafka mode (the test setup's broker, KAFKA_BROKERS): the same scenarios
 * as embedded.test.ts; each uses its own days, so nothing left on the shared topics by one run is
 * counted by another. The broker restart runs on a broker of its own (kafka-broker.test.ts).
 */
import { afterAll, describe, it } from 'vitest';
import type { Row } from './harness.ts';
import { checkRow, report } from './harness.ts';
import { killLoader, killPlatform, lockStore, runScenario, storms } from './scenarios.ts';

const brokers = process.env['KAFKA_BROKERS'] ?? '';
const rows: Row[] = [];
afterAll(() => {
  if (rows.length > 0) report('kafka', rows);
});

const check = (row: Row): void => checkRow(rows, row);

describe.skipIf(brokers === '')('faults, Kafka mode', { timeout: 150_000 }, () => {
  const mode = 'kafka' as const;
  const kafkaBrokers = brokers;
  it('SIGKILL of a loader process mid-backfill', async () => {
    check(
      await runScenario({
        name: 'loader SIGKILL',
        mode,
        kafkaBrokers,
        slot: 10,
        retryable: ['job_exit'],
        inject: killLoader,
      }),
    );
  });
  // Observed failing only right after the platform-SIGKILL scenario on the same consumer groups
  // (0 stored, everything stalled); run before it, it passes. That scenario now runs last.
  it('the store locked by another connection for longer than its busy timeout', async () => {
    check(
      await runScenario({
        name: 'store unavailable',
        mode,
        kafkaBrokers,
        slot: 12,
        live: true,
        inject: lockStore,
      }),
    );
  });
  it('429 and 418 storms from the exchange', async () => {
    check(
      await runScenario({ name: '429/418 storms', mode, kafkaBrokers, slot: 13, live: true, inject: storms }),
    );
  });
  // OPEN (two runs): after the restart nothing was stored (0 of 17,534) and every workflow, retried
  // once, stalled again (STALL_TIMEOUT_MS 8 s). Suspected: the killed platform's consumer-group
  // members hold the partitions until their session times out, longer than the stall timeout the
  // suite sets. Last in the file, so the groups it leaves behind touch no other scenario.
  it('SIGKILL of the platform, restart on the same file and the same consumer groups', async () => {
    check(
      await runScenario({
        name: 'platform SIGKILL + restart',
        mode,
        kafkaBrokers,
        slot: 11,
        live: true,
        retryable: ['job_exit', 'stalled'],
        inject: killPlatform,
      }),
    );
  });
});
