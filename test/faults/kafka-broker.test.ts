/**
 * A broker restart mid-run (Kafka mode) on a broker of this file's own (scripts/faults-kafka.mjs:
 * stopped and started again on the same port and data), so the broker the other tests share is
 * never restarted under them.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import { startRestartableKafka, type RestartableKafka } from '../../scripts/faults-kafka.mjs';
import type { Row } from './harness.ts';
import { checkRow, report, sleep } from './harness.ts';
import { runScenario, type Ctx } from './scenarios.ts';

const skip = process.env['SKIP_KAFKA_SETUP'] === '1';
const rows: Row[] = [];
let kafka: RestartableKafka | undefined;
beforeAll(async () => {
  if (!skip) kafka = await startRestartableKafka();
}, 120_000);
afterAll(async () => {
  await kafka?.stop();
  if (rows.length > 0) report('kafka-broker', rows);
});

const check = (row: Row): void => checkRow(rows, row);

describe.skipIf(skip)('faults, Kafka mode: the broker', { timeout: 180_000 }, () => {
  // Once lost records and stalled workflows (290 of 17,570 missing, or 12,010 of 18,010 under CI
  // load); two causes found since, either enough for that: /readyz said ready before the runner had joined its groups, and the
  // watchdog called workflows silent while the broker was away (docs/faults.md).
  it('a broker restart mid-run (SIGTERM, 3 s down, same data)', async () => {
    const k = kafka!;
    check(
      await runScenario({
        name: 'broker restart',
        mode: 'kafka',
        kafkaBrokers: k.brokers,
        slot: 20,
        live: true,
        retryable: [],
        async inject(ctx: Ctx) {
          await sleep(Math.round(500 + ctx.rand() * 1000));
          const t = performance.now();
          await k.restart({ hard: false, downMs: 3000 });
          return `broker stopped (SIGTERM) and started again on the same data: ${Math.round((performance.now() - t) / 100) / 10} s unavailable`;
        },
      }),
    );
  });
});
