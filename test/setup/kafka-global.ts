/**
 * vitest globalSetup: one real Kafka broker for the whole test run.
 *
 * - SKIP_KAFKA_SETUP=1: nothing is started (tests that need Kafka skip themselves);
 * - KAFKA_BROKERS already set: that broker is used as it is;
 * - otherwise: fetch the jars if needed (scripts/kafka.mjs) and start a broker on 127.0.0.1.
 *
 * The address reaches the test workers in two ways: `process.env.KAFKA_BROKERS`, set here in the
 * main process before any worker is forked (forked workers inherit the environment), and
 * `inject('kafkaBrokers')` for code that prefers vitest's provide/inject channel.
 */
import type { TestProject } from 'vitest/node';
import { startKafka, type RunningKafka } from '../../scripts/kafka.mjs';

declare module 'vitest' {
  export interface ProvidedContext {
    kafkaBrokers: string;
  }
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (process.env['SKIP_KAFKA_SETUP'] === '1') {
    project.provide('kafkaBrokers', '');
    return undefined;
  }
  const given = process.env['KAFKA_BROKERS'];
  if (given !== undefined && given.trim() !== '') {
    project.provide('kafkaBrokers', given);
    return undefined;
  }
  let kafka: RunningKafka;
  try {
    kafka = await startKafka();
  } catch (err) {
    throw new Error(
      'Could not start the Kafka test broker (scripts/kafka.mjs). It needs java 17+ and, the first time, mvn with ' +
        'access to Maven Central to fetch the jars (`node scripts/kafka.mjs fetch`). Set SKIP_KAFKA_SETUP=1 to run ' +
        'without Kafka, or KAFKA_BROKERS=host:port to use a running broker.\n' +
        String(err instanceof Error ? err.message : err),
      { cause: err },
    );
  }
  process.env['KAFKA_BROKERS'] = kafka.brokers;
  project.provide('kafkaBrokers', kafka.brokers);
  return async () => {
    delete process.env['KAFKA_BROKERS'];
    await kafka.stop();
  };
}
