#!/usr/bin/env node
/**
 * A real single-node Apache Kafka broker (KRaft) for tests, benches and local development.
 *
 *   node scripts/kafka.mjs fetch                 download Kafka's jars once into .cache/kafka/<version>/libs
 *   node scripts/kafka.mjs start [--port N]      start a broker on 127.0.0.1, print KAFKA_BROKERS=..., run until
 *                                                SIGINT/SIGTERM, then stop it and delete its data
 *
 * Plain Node ESM without dependencies, so CI can run it before anything else. Needs `java` (17+)
 * and, for `fetch`, `mvn` (the jars come from Maven Central: no other download is possible here).
 * JS API: `fetchKafka()`, `startKafka(opts) → { brokers, port, dir, stop() }`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { clearTimeout, setTimeout } from 'node:timers';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.mjs';

export { freePort };

export const KAFKA_VERSION = '3.9.1';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const cacheDir = join(repoRoot, '.cache', 'kafka', KAFKA_VERSION);
const libsDir = join(cacheDir, 'libs');
const marker = join(cacheDir, 'COMPLETE');

// kafka_2.13 brings the broker and its runtime dependencies; slf4j-reload4j + reload4j are the
// logging backend the Kafka distribution ships (without one the broker logs nothing at all).
const POM = `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>io.streamforge</groupId>
  <artifactId>kafka-test-broker</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency><groupId>org.apache.kafka</groupId><artifactId>kafka_2.13</artifactId><version>${KAFKA_VERSION}</version></dependency>
    <dependency><groupId>org.slf4j</groupId><artifactId>slf4j-reload4j</artifactId><version>1.7.36</version></dependency>
    <dependency><groupId>ch.qos.reload4j</groupId><artifactId>reload4j</artifactId><version>1.2.25</version></dependency>
  </dependencies>
</project>
`;

function need(cmd, args, hint) {
  const r = spawnSync(cmd, args, { stdio: 'ignore' });
  if (r.error || r.status !== 0) throw new Error(`${cmd} is required (${hint}) but could not be run`);
}

/** Downloads the broker's jars once (idempotent: a marker file says the cache is complete). */
export function fetchKafka({ quiet = false } = {}) {
  if (existsSync(marker)) return libsDir;
  need('java', ['-version'], 'a Java 17+ runtime for the Kafka broker');
  need('mvn', ['-v'], 'Maven, to fetch the Kafka jars from Maven Central');
  const work = mkdtempSync(join(tmpdir(), 'streamforge-kafka-fetch-'));
  const staging = `${libsDir}.partial-${process.pid}`;
  try {
    writeFileSync(join(work, 'pom.xml'), POM);
    if (!quiet) console.error(`fetching Apache Kafka ${KAFKA_VERSION} jars from Maven Central ...`);
    const r = spawnSync(
      'mvn',
      [
        '-q',
        '-B',
        'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
        '-DincludeScope=runtime',
        `-DoutputDirectory=${staging}`,
      ],
      { cwd: work, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' },
    );
    if (r.status !== 0) {
      throw new Error(
        `mvn could not fetch Kafka ${KAFKA_VERSION} (exit ${r.status}):\n${r.stdout}${r.stderr}`,
      );
    }
    rmSync(libsDir, { recursive: true, force: true });
    mkdirSync(cacheDir, { recursive: true });
    renameSync(staging, libsDir);
    writeFileSync(marker, `${new Date().toISOString()}\n`);
    return libsDir;
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(staging, { recursive: true, force: true });
  }
}

/** Kafka cluster ids are 16 random bytes in URL-safe base64; the CLI avoids a leading '-'. */
export function clusterId() {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** server.properties of the single-node KRaft broker the tests run (also scripts/faults-kafka.mjs). */
export function serverProperties({ port, controllerPort, dataDir }) {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}`,
    'listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
    `log.dirs=${dataDir}`,
    'num.partitions=3',
    'default.replication.factor=1',
    'auto.create.topics.enable=true',
    'min.insync.replicas=1',
    'offsets.topic.replication.factor=1',
    // One partition instead of 50: the first group coordination is much faster.
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    // Tests use short consumer session timeouts so a rebalance takes a second, not 30.
    'group.min.session.timeout.ms=1000',
    'num.network.threads=2',
    'num.io.threads=2',
    'log.flush.interval.messages=9223372036854775807',
    '',
  ].join('\n');
}

// Broker logs go to a file in the broker's temp dir (printed on failure), never to the console.
const LOG4J = (file) => `log4j.rootLogger=INFO, file
log4j.appender.file=org.apache.log4j.FileAppender
log4j.appender.file.File=${file}
log4j.appender.file.layout=org.apache.log4j.PatternLayout
log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n
log4j.logger.org.apache.kafka=INFO
log4j.logger.kafka=INFO
log4j.logger.state.change.logger=WARN
log4j.logger.kafka.log.LogCleaner=WARN
`;

// The format tool runs for a second: C1 only and the serial GC halve its start-up.
const QUICK_JVM = ['-XX:TieredStopAtLevel=1', '-XX:+UseSerialGC', '-Xshare:auto'];

function tail(file, lines = 40) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function canConnect(port) {
  return new Promise((ok) => {
    const s = connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      ok(true);
    });
    s.once('error', () => ok(false));
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Deletes broker dirs left behind by a process that was killed before it could clean up. */
function removeStaleDirs() {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('streamforge-kafka-') || name.startsWith('streamforge-kafka-fetch-')) continue;
    const dir = join(tmpdir(), name);
    try {
      const pidFile = join(dir, 'java.pid');
      const stale = existsSync(pidFile)
        ? !alive(Number(readFileSync(pidFile, 'utf8')))
        : Date.now() - statSync(dir).mtimeMs > 3_600_000;
      if (stale) rmSync(dir, { recursive: true, force: true });
    } catch {
      // another process is cleaning up the same dir
    }
  }
}

/**
 * Starts a fresh single-node KRaft broker in a new temp dir. Resolves once it accepts
 * connections and has logged that it started. `stop()` shuts it down and deletes its data.
 */
export async function startKafka({ port, heapMb = 512, readyTimeoutMs = 90_000, keepDir = false } = {}) {
  const libs = fetchKafka();
  removeStaleDirs();
  const brokerPort = port ?? (await freePort());
  const controllerPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'streamforge-kafka-'));
  const props = join(dir, 'server.properties');
  const logFile = join(dir, 'server.log');
  writeFileSync(props, serverProperties({ port: brokerPort, controllerPort, dataDir: join(dir, 'data') }));
  writeFileSync(join(dir, 'log4j.properties'), LOG4J(logFile));
  const jvm = [`-Dlog4j.configuration=file:${join(dir, 'log4j.properties')}`, '-cp', `${libs}/*`];

  const format = spawnSync(
    'java',
    [
      ...jvm,
      '-Xmx256m',
      ...QUICK_JVM,
      'kafka.tools.StorageTool',
      'format',
      '-t',
      clusterId(),
      '-c',
      props,
      '--ignore-formatted',
    ],
    { encoding: 'utf8' },
  );
  if (format.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`kafka storage format failed (exit ${format.status}):\n${format.stdout}${format.stderr}`);
  }

  // The broker runs under a small sh watchdog: when this Node process dies, however abruptly, the
  // pipe on the watchdog's stdin closes and the broker is stopped, so no orphan keeps the port.
  const java = [
    'java',
    `-Xmx${heapMb}m`,
    `-Xms${Math.min(heapMb, 256)}m`,
    '-XX:+UseG1GC',
    '-Djava.awt.headless=true',
    ...jvm,
  ];
  const quoted = [...java, 'kafka.Kafka', props].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const script = `exec 3<&0; ${quoted} </dev/null >>'${join(dir, 'stdout.log')}' 2>&1 & j=$!; echo $j >'${join(dir, 'java.pid')}'; (cat <&3 >/dev/null; kill $j 2>/dev/null) & wait $j`;
  const child = spawn('sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
  let exited = null;
  const exitPromise = new Promise((ok) =>
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      child.stdin.destroy();
      ok();
    }),
  );
  child.stdin.on('error', () => {}); // EPIPE after the broker exited

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', killNow);
    if (exited === null) {
      child.stdin.end(); // watchdog sends SIGTERM: controlled shutdown
      const timer = setTimeout(() => {
        try {
          process.kill(Number(readFileSync(join(dir, 'java.pid'), 'utf8')), 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }, 20_000);
      await exitPromise;
      clearTimeout(timer);
    }
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };
  const killNow = () => child.stdin.destroy();
  process.once('exit', killNow);

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (exited !== null) {
      await stop();
      throw new Error(
        `kafka broker exited during start (${JSON.stringify(exited)}):\n${tail(logFile)}\n${tail(join(dir, 'stdout.log'))}`,
      );
    }
    if (Date.now() > deadline) {
      const logs = tail(logFile);
      await stop();
      throw new Error(`kafka broker not ready after ${readyTimeoutMs} ms:\n${logs}`);
    }
    const started = existsSync(logFile) && readFileSync(logFile, 'utf8').includes('Kafka Server started');
    if (started && (await canConnect(brokerPort))) break;
    await sleep(200);
  }
  return { brokers: `127.0.0.1:${brokerPort}`, port: brokerPort, dir, logFile, stop };
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  if (cmd === 'fetch') {
    console.log(fetchKafka());
    return;
  }
  if (cmd === 'start') {
    const i = rest.indexOf('--port');
    const port = i >= 0 ? Number(rest[i + 1]) : undefined;
    if (port !== undefined && !Number.isInteger(port)) throw new Error('--port needs a number');
    const kafka = await startKafka({ port, keepDir: rest.includes('--keep') });
    console.log(`KAFKA_BROKERS=${kafka.brokers}`);
    console.error(`broker log: ${kafka.logFile} (Ctrl-C stops the broker and deletes its data)`);
    await new Promise((ok) => {
      process.once('SIGINT', ok);
      process.once('SIGTERM', ok);
    });
    await kafka.stop();
    return;
  }
  console.error('usage: node scripts/kafka.mjs fetch | start [--port N] [--keep]');
  process.exitCode = 2;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
