#!/usr/bin/env node
/**
 * A real Kubernetes API server (kube-apiserver + etcd, no controllers, no kubelet) for the cluster
 * tests (test/cluster) and for trying manifests locally.
 *
 *   node scripts/kube.mjs build     build kube-apiserver and etcd once into .cache/kube/<version>/bin
 *                                   (Go module proxy; scripts/kube-apiserver/go.mod pins every module)
 *   node scripts/kube.mjs start     start both on free 127.0.0.1 ports, print KUBECONFIG=..., run until
 *                                   SIGINT/SIGTERM, then stop them and delete their data
 *
 * The server runs with token authentication (a static token file: one admin in system:masters)
 * and RBAC on, and signs ServiceAccount tokens (TokenRequest works: `kubectl create token`).
 * Nothing runs Jobs or pods: a test that needs a Job's outcome writes its /status itself.
 *
 * Plain Node ESM without dependencies, like scripts/kafka.mjs. Needs `go` (1.25+) for `build`.
 * etcd: ETCD_BIN if set, else the one built here, else `etcd` on PATH (Debian's etcd-server 3.4
 * works too). JS API: `buildKube()`, `startKube(opts) → { server, kubeconfig, caFile, adminToken, stop() }`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.mjs';

export const KUBE_VERSION = 'v1.35.4';
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The scratch Go module that pins k8s.io/kubernetes and its 31 staging modules (and etcd). */
const goModuleDir = join(repoRoot, 'scripts', 'kube-apiserver');
export const cacheDir = join(repoRoot, '.cache', 'kube', KUBE_VERSION);
export const binDir = join(cacheDir, 'bin');
const apiserverBin = join(binDir, 'kube-apiserver');
const etcdBuiltBin = join(binDir, 'etcd');

function log(quiet, msg) {
  if (!quiet) process.stderr.write(`[kube] ${msg}\n`);
}

/** Version stamps: without them the server says v0.0.0-master and kubectl cannot parse it. */
function ldflags() {
  const [major, minor] = KUBE_VERSION.slice(1).split('.');
  const x = [];
  for (const pkg of ['k8s.io/component-base/version', 'k8s.io/client-go/pkg/version']) {
    x.push(
      `-X ${pkg}.gitVersion=${KUBE_VERSION}`,
      `-X ${pkg}.gitMajor=${major}`,
      `-X ${pkg}.gitMinor=${minor}`,
    );
    x.push(`-X ${pkg}.gitTreeState=clean`);
  }
  return `-s -w ${x.join(' ')}`;
}

function goBuild(pkg, out, quiet) {
  const tmp = `${out}.tmp-${process.pid}`;
  const started = Date.now();
  log(quiet, `go build ${pkg} (kube-apiserver: about 7 minutes on two cores when nothing is cached) ...`);
  const r = spawnSync('go', ['build', '-trimpath', '-ldflags', ldflags(), '-o', tmp, pkg], {
    cwd: goModuleDir,
    stdio: quiet ? ['ignore', 'ignore', 'pipe'] : 'inherit',
    env: { ...process.env, GOFLAGS: '-mod=readonly' },
  });
  if (r.error) throw new Error(`go is required to build ${pkg} (${r.error.message})`);
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`go build ${pkg} failed (exit ${r.status})\n${r.stderr?.toString().slice(-4000) ?? ''}`);
  }
  renameSync(tmp, out);
  log(quiet, `built ${out} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Waits for (or takes) a lock directory so that parallel test files build only once. */
async function withLock(fn) {
  mkdirSync(cacheDir, { recursive: true });
  const lock = join(cacheDir, 'build.lock');
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // Another process builds; a lock whose process is gone is stale (a killed build).
      const pidFile = join(lock, 'pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
      if (pid > 0 && !isAlive(pid)) rmSync(lock, { recursive: true, force: true });
      await new Promise((ok) => setTimeout(ok, 2000));
    }
  }
  writeFileSync(join(lock, 'pid'), String(process.pid));
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** etcd to run: ETCD_BIN, else the one built here, else `etcd` on PATH; undefined if none. */
export function findEtcd() {
  if (process.env.ETCD_BIN) return process.env.ETCD_BIN;
  if (existsSync(etcdBuiltBin)) return etcdBuiltBin;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, 'etcd');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/**
 * Builds kube-apiserver (and etcd v3.6, the version Kubernetes 1.35 is tested with) once into
 * .cache/kube/<version>/bin. Idempotent; returns the paths. `etcd: 'if-missing'` (the default)
 * builds etcd only when findEtcd() finds none.
 */
export async function buildKube({ quiet = false, etcd = 'if-missing' } = {}) {
  if (!existsSync(apiserverBin) || (etcd === 'always' && !existsSync(etcdBuiltBin)) || !findEtcd()) {
    await withLock(async () => {
      mkdirSync(binDir, { recursive: true });
      if (!existsSync(apiserverBin)) goBuild('k8s.io/kubernetes/cmd/kube-apiserver', apiserverBin, quiet);
      if (!existsSync(etcdBuiltBin) && (etcd === 'always' || !findEtcd()))
        goBuild('go.etcd.io/etcd/server/v3', etcdBuiltBin, quiet);
    });
  }
  return { apiserver: apiserverBin, etcd: findEtcd() };
}

function get(url, { ca, token, timeoutMs = 2000 }) {
  return new Promise((ok) => {
    const req = request(url, { ca, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => ok({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => ok({ status: 0, body: String(err.message) }));
    req.end();
  });
}

function tail(file, n = 30) {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-n).join('\n');
  } catch {
    return '(no log)';
  }
}

/** spawn() that keeps a failure to start (ENOENT, EACCES) on the child instead of throwing it unhandled. */
function launch(bin, args, fd) {
  const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
  child.once('error', (err) => {
    child.spawnError = err;
  });
  return child;
}

function stopChild(child, ms) {
  return new Promise((ok) => {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return ok();
    const t = setTimeout(() => child.kill('SIGKILL'), ms);
    child.once('exit', () => {
      clearTimeout(t);
      ok();
    });
    child.kill('SIGTERM');
  });
}

/** CSV line of a static token file: token,user,uid,"group1,group2". */
function tokenLine({ token, user, uid, groups = [] }) {
  return `${token},${user},${uid}${groups.length > 0 ? `,"${groups.join(',')}"` : ''}`;
}

/** A kubeconfig that trusts the server's self-signed CA and authenticates with `token`. */
export function kubeconfigYaml({ server, caFile, token, user = 'admin' }) {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '  - name: streamforge-test',
    '    cluster:',
    `      server: ${server}`,
    `      certificate-authority: ${caFile}`,
    'users:',
    `  - name: ${user}`,
    '    user:',
    `      token: ${token}`,
    'contexts:',
    `  - name: ${user}`,
    '    context:',
    '      cluster: streamforge-test',
    `      user: ${user}`,
    `current-context: ${user}`,
    '',
  ].join('\n');
}

/**
 * Starts etcd and kube-apiserver on free loopback ports with token auth and RBAC; resolves once
 * /readyz answers ok. `tokens`: extra static-token users ({token, user, uid, groups}).
 */
export async function startKube({
  tokens = [],
  readyTimeoutMs = 60_000,
  keepDir = false,
  quiet = true,
} = {}) {
  const { apiserver, etcd } = await buildKube({ quiet });
  if (!etcd)
    throw new Error(
      'no etcd: install Debian etcd-server, set ETCD_BIN, or run `node scripts/kube.mjs build`',
    );
  const dir = mkdtempSync(join(tmpdir(), 'streamforge-kube-'));
  const [etcdPort, peerPort, port] = [await freePort(), await freePort(), await freePort()];
  const children = [];
  const started = Date.now();

  let watchdog;
  const stop = async () => {
    watchdog?.kill('SIGKILL');
    for (const c of children.reverse()) await stopChild(c, 10_000);
    children.length = 0;
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const etcdLog = join(dir, 'etcd.log');
    const etcdFd = openSync(etcdLog, 'a');
    const peer = `http://127.0.0.1:${peerPort}`;
    const client = `http://127.0.0.1:${etcdPort}`;
    const etcdChild = launch(
      etcd,
      [
        '--name=default',
        `--data-dir=${join(dir, 'etcd')}`,
        `--listen-client-urls=${client}`,
        `--advertise-client-urls=${client}`,
        `--listen-peer-urls=${peer}`,
        `--initial-advertise-peer-urls=${peer}`,
        `--initial-cluster=default=${peer}`,
        '--log-level=warn',
      ],
      etcdFd,
    );
    closeSync(etcdFd);
    children.push(etcdChild);

    // ServiceAccount token signing key (TokenRequest), and the static tokens.
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const saKey = join(dir, 'sa.key');
    const saPub = join(dir, 'sa.pub');
    writeFileSync(saKey, privateKey.export({ type: 'pkcs1', format: 'pem' }), { mode: 0o600 });
    writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));
    const adminToken = randomBytes(24).toString('hex');
    const tokenFile = join(dir, 'tokens.csv');
    const lines = [{ token: adminToken, user: 'admin', uid: 'admin', groups: ['system:masters'] }, ...tokens];
    writeFileSync(tokenFile, `${lines.map(tokenLine).join('\n')}\n`, { mode: 0o600 });

    const certDir = join(dir, 'certs');
    const apiLog = join(dir, 'kube-apiserver.log');
    const apiFd = openSync(apiLog, 'a');
    const apiChild = launch(
      apiserver,
      [
        `--etcd-servers=${client}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${port}`,
        `--cert-dir=${certDir}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        '--anonymous-auth=false',
        '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
        `--service-account-key-file=${saPub}`,
        `--service-account-signing-key-file=${saKey}`,
        '--service-cluster-ip-range=10.96.0.0/16',
        // Without this the server tries to publish its own endpoint every 10 s and logs an error.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        '--v=0',
      ],
      apiFd,
    );
    closeSync(apiFd);
    children.push(apiChild);

    // If this process dies without stop() (a killed test worker), take both servers with it.
    const pids = children.map((c) => c.pid).join(' ');
    watchdog = spawn(
      '/bin/sh',
      [
        '-c',
        `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; kill ${pids} 2>/dev/null; sleep 5; ` +
          `kill -9 ${pids} 2>/dev/null; ${keepDir ? 'true' : `rm -rf '${dir}'`}`,
      ],
      { stdio: 'ignore', detached: true },
    );
    watchdog.unref();

    const server = `https://127.0.0.1:${port}`;
    const caFile = join(certDir, 'apiserver.crt');
    const deadline = Date.now() + readyTimeoutMs;
    for (;;) {
      for (const [name, c, file] of [
        ['etcd', etcdChild, etcdLog],
        ['kube-apiserver', apiChild, apiLog],
      ]) {
        if (c.spawnError) throw new Error(`${name} could not be started: ${c.spawnError.message}`);
        if (c.exitCode !== null || c.signalCode !== null)
          throw new Error(`${name} exited (${c.exitCode ?? c.signalCode}) during start-up:\n${tail(file)}`);
      }
      if (existsSync(caFile)) {
        const r = await get(`${server}/readyz`, { ca: readFileSync(caFile), token: adminToken });
        if (r.status === 200 && r.body.trim() === 'ok') break;
      }
      if (Date.now() > deadline)
        throw new Error(`kube-apiserver not ready after ${readyTimeoutMs} ms:\n${tail(apiLog)}`);
      await new Promise((ok) => setTimeout(ok, 250));
    }
    const kubeconfig = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfig, kubeconfigYaml({ server, caFile, token: adminToken }), { mode: 0o600 });
    log(quiet, `ready in ${Date.now() - started} ms at ${server}`);
    return {
      server,
      port,
      etcdPort,
      dir,
      caFile,
      adminToken,
      kubeconfig,
      logFile: apiLog,
      startMs: Date.now() - started,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function main(argv) {
  const [cmd] = argv;
  if (cmd === 'build') {
    const started = Date.now();
    const r = await buildKube({ etcd: process.env.ETCD_BIN ? 'if-missing' : 'always' });
    process.stdout.write(`kube-apiserver ${r.apiserver}\netcd ${r.etcd}\n`);
    log(false, `build step done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return;
  }
  if (cmd === 'start') {
    const kube = await startKube({ quiet: false });
    process.stdout.write(`KUBECONFIG=${kube.kubeconfig}\n`);
    const shutdown = () => {
      kube.stop().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
    return;
  }
  process.stderr.write('usage: node scripts/kube.mjs build|start\n');
  process.exit(2);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv.slice(2)).catch((err) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
