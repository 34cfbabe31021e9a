/**
 * A Kafka broker that can be restarted on the same data (the fault suite, test/faults): unlike
 * scripts/kafka.mjs's `startKafka`, which formats a fresh directory every time, `restart()` stops
 * the JVM (SIGTERM: controlled shutdown, or SIGKILL) and starts it again on the same port, the same
 * cluster id and the same log dirs, so topics, records and committed offsets survive — a real broker
 * restart. Uses the jars scripts/kafka.mjs fetched; plain ESM like it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { clusterId, fetchKafka, freePort, serverProperties } from './kafka.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const canConnect = (port) =>
  new Promise((ok) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => (s.destroy(), ok(true)));
    s.once('error', () => ok(false));
  });

/** Starts a single-node KRaft broker; `restart({ hard, downMs })` restarts it on the same data. */
export async function startRestartableKafka({ heapMb = 384, readyTimeoutMs = 90_000 } = {}) {
  const libs = fetchKafka({ quiet: true });
  const port = await freePort();
  const controllerPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'streamforge-faults-kafka-'));
  const props = join(dir, 'server.properties');
  const logFile = join(dir, 'server.log');
  writeFileSync(props, serverProperties({ port, controllerPort, dataDir: join(dir, 'data') }));
  writeFileSync(
    join(dir, 'log4j.properties'),
    `log4j.rootLogger=INFO, file\nlog4j.appender.file=org.apache.log4j.FileAppender\nlog4j.appender.file.File=${logFile}\n` +
      'log4j.appender.file.layout=org.apache.log4j.PatternLayout\nlog4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n\n',
  );
  const jvm = [`-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`, '-cp', `${libs}/*`];
  const id = clusterId();
  const format = spawnSync(
    'java',
    [
      ...jvm,
      '-Xmx256m',
      '-XX:TieredStopAtLevel=1',
      '-XX:+UseSerialGC',
      'kafka.tools.StorageTool',
      'format',
      '-t',
      id,
      '-c',
      props,
    ],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kafka storage format failed:\n${format.stdout}${format.stderr}`);
  }

  let java;
  let starts = 0;
  const killOnExit = () => java?.kill('SIGKILL');
  process.once('exit', killOnExit);

  async function up() {
    starts += 1;
    const marker = `Kafka Server started`;
    const before = existsSync(logFile) ? readFileSync(logFile, 'utf8').split(marker).length : 1;
    java = spawn(
      'java',
      [`-Xmx${heapMb}m`, '-XX:+UseG1GC', '-Djava.awt.headless=true', ...jvm, 'kafka.Kafka', props],
      {
        stdio: 'ignore',
      },
    );
    const child = java;
    let exited = false;
    child.once('exit', () => (exited = true));
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      if (exited) throw new Error(`kafka broker exited during start ${starts}`);
      if (Date.now() > deadline)
        throw new Error(`kafka broker not ready after ${readyTimeoutMs} ms (start ${starts})`);
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      if (log.split(marker).length > before && (await canConnect(port))) return;
      await sleep(200);
    }
  }

  async function down(hard) {
    const child = java;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((ok) => child.once('exit', ok));
    child.kill(hard ? 'SIGKILL' : 'SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(t);
  }

  await up();
  return {
    brokers: `127.0.0.1:${port}`,
    port,
    dir,
    /** Stops the broker (SIGTERM, or SIGKILL when `hard`), waits `downMs`, starts it on the same data. */
    async restart({ hard = false, downMs = 2000 } = {}) {
      await down(hard);
      await sleep(downMs);
      await up();
    },
    async stop() {
      process.removeListener('exit', killOnExit);
      await down(false);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
