/**
 * The OCI image, built without a Docker engine (image/build.sh: mmdebstrap + umoci) and run from
 * its unpacked root filesystem the way a container runtime would: `umoci unpack` writes the
 * runtime config (args, env, cwd, uid:gid) from the image config, and bubblewrap runs that as the
 * image's non-root user, node as PID 1 of a new PID namespace, on a read-only root with a tmpfs
 * /tmp (what the Job template's readOnlyRootFilesystem gives). Every STREAMFORGE_FUNCTION the
 * Knative Services set must answer its health probes and exit 0 on SIGTERM; every Job target the
 * manager may start must fail fast with exit 2 and a clear message when it has no command.
 *
 * The build is cached in .cache/image/<key> (image/build.sh); a cold build takes about 1.5 min.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { asArray, at, jobTemplates, knativeServices, loadBundle, ofKind } from '../manifests/load.ts';

const repo = path.resolve(import.meta.dirname, '../..');
const which = (tool: string): boolean => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;
const missing = ['mmdebstrap', 'umoci', 'bwrap', 'setpriv'].filter((t) => !which(t));
const isRoot = process.getuid?.() === 0;
/** Why this suite cannot run here (empty when it can). In CI (.ci/run installs the tools) it always runs. */
const cannotRun = !isRoot
  ? 'image/build.sh needs root (mmdebstrap --mode=root, root-owned layer files)'
  : missing.length > 0
    ? `not installed: ${missing.join(', ')} (apt-get install mmdebstrap umoci bubblewrap)`
    : '';
if (cannotRun && process.env['CI']) throw new Error(`test/image cannot run in CI: ${cannotRun}`);

interface RuntimeSpec {
  process: { args: string[]; env: string[]; cwd: string; user: { uid: number; gid: number } };
}
interface BuildInfo {
  tag: string;
  layers: { compressed_bytes: number; tar_bytes: number }[];
  compressed_bytes: number;
  tar_bytes: number;
}

let imageDir = '';
let bundle = '';
let rootfs = '';
let spec: RuntimeSpec;
let build: BuildInfo;
let imageConfig: Record<string, unknown>;

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Host PIDs of a process's descendants (from /proc), to signal node itself as a kubelet would. */
function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parent.set(Number(d), ppid);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const walk = (p: number): void => {
    for (const [child, pp] of parent)
      if (pp === p) {
        out.push(child);
        walk(child);
      }
  };
  walk(pid);
  return out;
}
const commOf = (pid: number): string => {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
};

interface Run {
  exited: Promise<number | null>;
  output: () => string;
  /** SIGTERM to node (PID 1 inside the sandbox), as the kubelet sends it to the container. */
  term: () => void;
  kill: () => void;
}

/**
 * Runs argv in the unpacked image: the runtime config's env plus `env`, its cwd and uid:gid (the
 * process never has root: setpriv drops to the image's user before bubblewrap starts), host
 * network (loopback only in these tests), read-only root (writable when `writableRoot`).
 */
function runInImage(argv: string[], env: Record<string, string>, opts: { writableRoot?: boolean } = {}): Run {
  const { uid, gid } = spec.process.user;
  const envArgs: string[] = ['--clearenv'];
  const merged = new Map(
    spec.process.env.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]),
  );
  for (const [k, v] of Object.entries(env)) merged.set(k, v);
  for (const [k, v] of merged) envArgs.push('--setenv', k, v);
  const child = spawn(
    'setpriv',
    [
      `--reuid=${uid}`,
      `--regid=${gid}`,
      '--clear-groups',
      '--inh-caps=-all',
      'bwrap',
      '--unshare-user',
      '--unshare-pid',
      '--unshare-ipc',
      '--unshare-uts',
      '--as-pid-1',
      '--die-with-parent',
      opts.writableRoot ? '--bind' : '--ro-bind',
      rootfs,
      '/',
      '--proc',
      '/proc',
      '--dev',
      '/dev',
      '--tmpfs',
      '/tmp',
      '--chdir',
      spec.process.cwd,
      ...envArgs,
      '--',
      ...argv,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: {} },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    exited,
    output: () => out,
    term: () => {
      const node = descendants(child.pid!).filter((p) => commOf(p) === 'node');
      if (node.length === 0) throw new Error(`no node process under the sandbox:\n${out}`);
      for (const p of node.slice(0, 1)) process.kill(p, 'SIGTERM');
    },
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Resolves when `cond` holds; rejects with the output when the process exits first or time runs out. */
async function until(run: Run, cond: () => boolean, ms: number, what: string): Promise<void> {
  let done = false;
  void run.exited.then(() => (done = true));
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (done) throw new Error(`exited before ${what}:\n${run.output()}`);
    if (Date.now() > deadline) throw new Error(`no ${what} after ${ms} ms:\n${run.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// What the manifests run: every Knative Service's STREAMFORGE_FUNCTION, and the Job targets the
// manager may start (JOB_IMAGES) with the Job templates' command.
const manifests = loadBundle();
const serviceFunctions = knativeServices(manifests).map((d) => {
  const container = asArray(at(d.doc, 'spec.template.spec.containers'))[0];
  const env = asArray(at(container, 'env')).find((e) => at(e, 'name') === 'STREAMFORGE_FUNCTION');
  return {
    file: d.file,
    fn: String(at(env, 'value')),
    port: Number(at(container, 'ports.0.containerPort') ?? 8080),
  };
});
const configMap = ofKind(manifests, 'ConfigMap').find(
  (d) => at(d.doc, 'metadata.name') === 'streamforge-config',
);
const jobImages = at(configMap?.doc, 'data.JOB_IMAGES');
const jobTargets = (typeof jobImages === 'string' ? jobImages : '')
  .split(',')
  .map((pair) => pair.split('=')[0]!.trim())
  .filter((t) => t.length > 0);
const jobCommands = [
  ...new Set(
    jobTemplates(manifests).map((d) =>
      JSON.stringify(
        asArray(at(asArray(at(d.doc, 'spec.template.spec.containers'))[0], 'command')).map(String),
      ),
    ),
  ),
].map((c) => JSON.parse(c) as string[]);

describe.skipIf(cannotRun !== '')(
  `OCI image (image/build.sh)${cannotRun ? `: skipped, ${cannotRun}` : ''}`,
  () => {
    beforeAll(() => {
      const started = Date.now();
      const res = spawnSync('bash', ['image/build.sh'], { cwd: repo, encoding: 'utf8', timeout: 540_000 });
      if (res.status !== 0)
        throw new Error(`image/build.sh failed (${res.status ?? res.signal}):\n${res.stderr}`);
      imageDir = res.stdout.trim().split('\n').pop()!;
      build = JSON.parse(readFileSync(path.join(imageDir, 'build.json'), 'utf8')) as BuildInfo;
      const tmp = mkdtempSync(path.join(os.tmpdir(), 'sf-image-'));
      bundle = path.join(tmp, 'bundle');
      const unpack = spawnSync('umoci', ['unpack', '--image', `${imageDir}/oci:${build.tag}`, bundle], {
        encoding: 'utf8',
        timeout: 180_000,
      });
      if (unpack.status !== 0) throw new Error(`umoci unpack failed:\n${unpack.stderr}`);
      // umoci makes the bundle 0700; the image's user must reach the rootfs inside it.
      chmodSync(tmp, 0o755);
      chmodSync(bundle, 0o755);
      rootfs = path.join(bundle, 'rootfs');
      spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as RuntimeSpec;
      const index = JSON.parse(readFileSync(path.join(imageDir, 'oci/index.json'), 'utf8')) as {
        manifests: { digest: string }[];
      };
      const blob = (d: string) => path.join(imageDir, 'oci/blobs', ...d.split(':'));
      const manifest = JSON.parse(readFileSync(blob(index.manifests[0]!.digest), 'utf8')) as {
        config: { digest: string };
      };
      imageConfig = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8')) as Record<string, unknown>;
      const du = spawnSync('du', ['-sb', rootfs], { encoding: 'utf8' }).stdout.split('\t')[0];
      const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
      // eslint-disable-next-line no-console -- the image's size and build time belong in the test log
      console.log(
        `image ${build.tag}: ${build.layers.length} layers, compressed ${mb(build.compressed_bytes)} ` +
          `(${build.layers.map((l) => mb(l.compressed_bytes)).join(' + ')}), ` +
          `unpacked ${mb(Number(du))}; build + unpack ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    }, 600_000);

    afterAll(() => {
      if (bundle) rmSync(path.dirname(bundle), { recursive: true, force: true });
    });

    it('has the config the manifests and the Dockerfile assume', () => {
      const cfg = imageConfig['config'] as Record<string, unknown>;
      const labels = cfg['Labels'] as Record<string, string>;
      const pkg = JSON.parse(readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
        version: string;
        license: string;
      };
      expect(labels['org.opencontainers.image.version']).toBe(pkg.version);
      expect(labels['org.opencontainers.image.licenses']).toBe(pkg.license);
      expect(labels['org.opencontainers.image.source']).toMatch(/^https:\/\//);
      expect(cfg['WorkingDir']).toBe('/app');
      expect(Object.keys(cfg['ExposedPorts'] as object)).toEqual(['8080/tcp']);
      expect(imageConfig['architecture']).toBe('amd64');

      // The same user, port and entrypoint as the Dockerfile's final stage.
      const dockerfile = readFileSync(path.join(repo, 'Dockerfile'), 'utf8');
      const final = dockerfile.split(/^FROM\s/m).pop()!;
      const user = /^USER\s+(\S+)/m.exec(final)?.[1];
      expect(cfg['User']).toBe(user);
      expect(spec.process.user.uid).toBeGreaterThan(0);
      expect(`${spec.process.user.uid}:${spec.process.user.gid}`).toBe(user);
      expect(`${/^EXPOSE\s+(\d+)/m.exec(final)?.[1]}/tcp`).toBe('8080/tcp');
      const entrypoint = JSON.parse(/^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(final)?.[1] ?? '[]') as string[];
      expect(cfg['Entrypoint']).toEqual(entrypoint);
      expect(spec.process.args).toEqual(entrypoint);
      expect(cfg['Cmd'] ?? null).toBeNull();

      // The /app contents are exactly what the Dockerfile copies from the build context.
      const copies = final
        .split('\n')
        .filter((l) => /^COPY\s/.test(l) && !/--from=/.test(l))
        .flatMap((l) => l.trim().split(/\s+/).slice(1, -1))
        .map((s) => s.replace(/^\.\//, '').replace(/\/$/, ''));
      const script = readFileSync(path.join(repo, 'image/build.sh'), 'utf8');
      const appPaths = (/^app_paths=\(([^)]*)\)/m.exec(script)?.[1] ?? '').trim().split(/\s+/);
      expect([...appPaths].sort()).toEqual([...copies].sort());
      for (const p of [...appPaths, 'node_modules'])
        expect(existsSync(path.join(rootfs, 'app', p)), p).toBe(true);

      // Every manifest's image runs as the image's user.
      for (const d of [...knativeServices(manifests), ...jobTemplates(manifests)]) {
        const runAs =
          at(asArray(at(d.doc, 'spec.template.spec.containers'))[0], 'securityContext.runAsUser') ??
          at(d.doc, 'spec.template.spec.securityContext.runAsUser');
        if (runAs !== undefined) expect(runAs, d.file).toBe(spec.process.user.uid);
      }
    });

    it('holds production dependencies only, Node >= 20.19, and no compiler or package manager', () => {
      const nm = path.join(rootfs, 'app/node_modules');
      for (const dev of ['vitest', 'typescript', 'eslint', 'prettier', 'puppeteer-core', 'ccxt'])
        expect(existsSync(path.join(nm, dev)), `dev dependency ${dev} in the image`).toBe(false);
      for (const prod of ['tsx', 'better-sqlite3/build/Release/better_sqlite3.node', 'hono', 'kafkajs'])
        expect(existsSync(path.join(nm, prod)), prod).toBe(true);
      for (const tool of ['usr/bin/gcc', 'usr/bin/apt-get', 'usr/bin/npm', 'usr/local/bin/npm'])
        expect(existsSync(path.join(rootfs, tool)), tool).toBe(false);
      const node = runInImage(['node', '-p', 'process.versions.node'], {});
      return within(node.exited, 20_000, 'node --version').then((code) => {
        expect(code, node.output()).toBe(0);
        const [major, minor] = node.output().trim().split('.').map(Number) as [number, number];
        expect(major > 20 || (major === 20 && minor >= 19), node.output()).toBe(true);
      });
    });

    it('keeps /app read-only for its user even on a writable root filesystem', async () => {
      const run = runInImage(
        [
          '/bin/sh',
          '-c',
          'id -u; touch /app/package.json 2>&1 || echo refused; touch /tmp/ok && echo tmp-ok',
        ],
        {},
        { writableRoot: true },
      );
      expect(await within(run.exited, 20_000, 'sh')).toBe(0);
      const out = run.output();
      expect(out).toContain(`${spec.process.user.uid}\n`);
      expect(out).toMatch(/Permission denied[\s\S]*refused/);
      expect(out).toContain('tmp-ok');
    });

    it('refuses to start without STREAMFORGE_FUNCTION, saying so', async () => {
      const run = runInImage(spec.process.args, {});
      expect(await within(run.exited, 20_000, 'entrypoint')).toBe(2);
      expect(run.output()).toContain('set STREAMFORGE_FUNCTION to a folder of functions/');
    });

    it('lists every Knative Service and Job target to check', () => {
      expect(serviceFunctions.length).toBeGreaterThanOrEqual(4);
      expect(jobTargets).toEqual(expect.arrayContaining(['loader-api', 'loader-bulk']));
      expect(jobCommands.length).toBeGreaterThanOrEqual(1);
    });

    for (const { file, fn } of serviceFunctions) {
      it(`STREAMFORGE_FUNCTION=${fn} (${file}) answers /healthz and /readyz, then exits 0 on SIGTERM`, async () => {
        const port = await freePort();
        const run = runInImage(spec.process.args, {
          STREAMFORGE_FUNCTION: fn,
          PORT: String(port),
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          // The embedded mode (no Kafka, no ArangoDB): SQLite in the tmpfs, intake open.
          SQLITE_PATH: '/tmp/streamforge.sqlite',
          INTAKE_AUTH_DISABLED: 'true',
          SHUTDOWN_GRACE_MS: '2000',
        });
        try {
          await until(run, () => run.output().includes('"msg":"listening"'), 45_000, 'listening');
          const health = await fetch(`http://127.0.0.1:${port}/healthz`);
          expect(health.status, run.output()).toBe(200);
          const ready = await fetch(`http://127.0.0.1:${port}/readyz`);
          expect(ready.status, `${await ready.text()}\n${run.output()}`).toBe(200);
          run.term();
          expect(await within(run.exited, 20_000, `${fn} after SIGTERM`), run.output()).toBe(0);
          expect(run.output()).toContain('"msg":"shut down"');
        } finally {
          run.kill();
        }
      });
    }

    for (const target of jobTargets)
      for (const command of jobCommands) {
        it(`Job ${target} (${command.join(' ')} functions/${target}/main.ts) fails fast without a command`, async () => {
          const run = runInImage([...command, `functions/${target}/main.ts`], {
            NODE_ENV: 'production',
            SQLITE_PATH: '/tmp/streamforge.sqlite',
          });
          const started = Date.now();
          expect(await within(run.exited, 30_000, target), run.output()).toBe(2);
          expect(run.output()).toContain('STREAMFORGE_COMMAND is not set');
          expect(Date.now() - started).toBeLessThan(30_000);
        });
      }
  },
);
