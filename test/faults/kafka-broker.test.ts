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
  // OPEN, and not deterministic: runs lost 290 of 17,570 records with 2 of 4 workflows stalled, or
  // the platform's API stopped answering across the restart. A known failure that sometimes passes
  // cannot be an \`it.fails\` in CI, so it runs only when asked: FAULTS_OPEN=1 npm run test:faults
  // (docs/faults.md "Open findings").
  it.runIf(process.env['FAULTS_OPEN'] === '1')(
    'a broker restart mid-run (SIGTERM, 3 s down, same data)',
    async () => {
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
    },
  );
});
