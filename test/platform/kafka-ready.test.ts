/**
 * `npm start` in the Kafka mode, as a process: /readyz must not say ready before the local runner
 * has joined every consumer group. Found by the fault suite: the manager's port answered 200
 * while the runner was still joining, a workflow submitted then put its command on
 * queue-control before loader-ws's group existed, and that fresh group (`initialOffset: latest`)
 * never read it: the live workflow stayed `pending` until the watchdog failed it.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../shared/jobs/child-process-launcher.ts';
import { freePort } from '../../scripts/kafka.mjs';

const brokers = process.env['KAFKA_BROKERS'] ?? '';

describe.skipIf(brokers === '')('platform in the Kafka mode', () => {
  it(
    'answers /readyz 200 only after the local runner runs every KafkaSource',
    { timeout: 90_000 },
    async () => {
      const dir = await mkdtemp(path.join(tmpdir(), 'sf-kafka-ready-'));
      const port = await freePort();
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(REPO_ROOT, 'functions/platform/main.ts'), '--no-demo'],
        {
          cwd: REPO_ROOT,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: {
            ...process.env,
            PORT: String(port),
            SQLITE_PATH: path.join(dir, 'streamforge.sqlite'),
            DEMO: 'false',
            LOG_LEVEL: 'info',
            KAFKA_BROKERS: brokers,
          },
        },
      );
      const running: number[] = [];
      let out = '';
      child.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const lines = out.split('\n');
        out = lines.pop() ?? '';
        for (const line of lines) {
          if (!line.startsWith('{')) continue;
          const rec = JSON.parse(line) as { msg?: string };
          if (rec.msg === 'KafkaSource running locally') running.push(Date.now());
        }
      });
      let notReady = 0;
      try {
        const deadline = Date.now() + 80_000;
        let readyAt: number | undefined;
        while (readyAt === undefined && Date.now() < deadline && child.exitCode === null) {
          const status = await fetch(`http://127.0.0.1:${port}/readyz`).then(
            (r) => r.status,
            () => 0,
          );
          if (status === 200) readyAt = Date.now();
          else {
            if (status === 503) notReady += 1;
            await new Promise((r) => setTimeout(r, 20));
          }
        }
        expect(readyAt, 'the platform became ready').toBeDefined();
        // kafka-sources/ has four KafkaSources; each joins its group before the next one starts.
        expect(running).toHaveLength(4);
        expect(readyAt!).toBeGreaterThanOrEqual(Math.max(...running));
        // The port answered, with 503, while the runner was joining (so the ordering was observed).
        expect(notReady).toBeGreaterThan(0);
      } finally {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
