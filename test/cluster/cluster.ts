/**
 * A real Kubernetes API server for the cluster tests: kube-apiserver + etcd from scripts/kube.mjs
 * (token auth, RBAC on, no controllers), plus kubectl and client-node helpers and the CRDs the
 * manifests use (Knative Serving Service, Knative KafkaSource, Strimzi KafkaTopic; KEDA objects
 * are made by the KafkaSource controller from annotations, so no KEDA CRD is needed).
 *
 * If the binaries cannot be built or started the tests FAIL with the reason (CI builds them in
 * .ci/run). Locally, SKIP_KUBE=1 skips test/cluster (docs/kubernetes.md).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { parse, stringify } from 'yaml';
import { startKube, type RunningKube } from '../../scripts/kube.mjs';

export const repoRoot = path.resolve(import.meta.dirname, '../..');
/** Local escape hatch only: under CI (CI set) the cluster tests always run, and fail if they cannot. */
export const SKIP_KUBE = process.env['SKIP_KUBE'] === '1' && !process.env['CI'];
/** The manager's namespace and ServiceAccount (knative/kustomization.yaml, knative/rbac.yaml). */
export const NS = 'streamforge';
export const MANAGER_SA = 'queue-manager';
export const MANAGER_USER = `system:serviceaccount:${NS}:${MANAGER_SA}`;
/** Start-up plus CRD installation; the first run may also build the binaries (~7 min). */
export const CLUSTER_TIMEOUT_MS = 15 * 60_000;

type Json = Record<string, unknown>;

export interface KubectlResult {
  status: number;
  stdout: string;
  stderr: string;
}

export interface TestCluster {
  kube: RunningKube;
  /** Runs kubectl against the test server, as admin unless `token` is given. */
  kubectl(args: string[], opts?: { input?: string; token?: string }): KubectlResult;
  /** As kubectl(), but throws with kubectl's stderr unless it exits 0; returns stdout. */
  kubectlOk(args: string[], opts?: { input?: string; token?: string }): string;
  /** A client-node KubeConfig for the server (admin unless `token`). */
  kubeConfig(token?: string): KubeConfig;
  /** A real ServiceAccount token (TokenRequest API, as `kubectl create token`). */
  serviceAccountToken(namespace: string, name: string): string;
  /** Milliseconds: start-up (etcd spawned → /readyz ok) and CRD installation. */
  timings: { startMs: number; crdMs: number };
  stop(): Promise<void>;
}

/** CRD files (test/fixtures/schemas, provenance in its SOURCES.md) installed by default. */
export const CRD_FILES = [
  'knative/serving.knative.dev_services.crd.yaml',
  'knative/sources.knative.dev_kafkasources.crd.yaml',
  'strimzi/kafka.strimzi.io_kafkatopics.crd.yaml',
];

/**
 * A CRD as the test server can serve it. KafkaSource converts between v1beta1 (storage) and v1
 * through a webhook that does not run here: serve v1 as the storage version without conversion.
 */
function testableCrd(crd: Json): Json {
  const spec = crd['spec'] as Json & { versions: Json[] };
  if (at(spec, 'conversion', 'strategy') !== 'Webhook') return crd;
  const served = spec.versions.map((v) => v['name']);
  const storage = served.includes('v1') ? 'v1' : served[0];
  return {
    ...crd,
    spec: {
      ...spec,
      conversion: { strategy: 'None' },
      versions: spec.versions.map((v) => ({ ...v, storage: v['name'] === storage })),
    },
  };
}

function at(v: unknown, ...keys: string[]): unknown {
  let cur = v;
  for (const k of keys) cur = typeof cur === 'object' && cur !== null ? (cur as Json)[k] : undefined;
  return cur;
}

/** Starts the server and installs the CRDs; throws a message a person can act on. */
export async function startTestCluster(opts: { crds?: string[] } = {}): Promise<TestCluster> {
  let kube: RunningKube;
  try {
    kube = await startKube({ quiet: true });
  } catch (err) {
    throw new Error(
      'Could not build or start kube-apiserver + etcd for test/cluster (scripts/kube.mjs). It needs Go 1.25+ and the ' +
        'Go module proxy the first time (`node scripts/kube.mjs build`, about 7 minutes on two cores; .ci/run does ' +
        'this), and etcd (Debian etcd-server, or the one that build makes). Set SKIP_KUBE=1 to skip these tests ' +
        'locally.\n' +
        String(err instanceof Error ? err.message : err),
      { cause: err },
    );
  }
  const cacheDir = path.join(kube.dir, 'kubectl-cache');
  const kubectl = (args: string[], o: { input?: string; token?: string } = {}): KubectlResult => {
    const base = [`--kubeconfig=${kube.kubeconfig}`, `--cache-dir=${cacheDir}`];
    if (o.token !== undefined) base.push(`--token=${o.token}`);
    const r = spawnSync('kubectl', [...base, ...args], {
      input: o.input ?? '',
      encoding: 'utf8',
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.error) throw new Error(`kubectl could not be run: ${r.error.message}`);
    // kubectl 1.32 warns about the version skew with a 1.35 server; that line is noise here.
    const stderr = r.stderr
      .split('\n')
      .filter((l) => !/version difference between client/.test(l))
      .join('\n');
    return { status: r.status ?? -1, stdout: r.stdout, stderr };
  };
  const kubectlOk = (args: string[], o: { input?: string; token?: string } = {}): string => {
    const r = kubectl(args, o);
    if (r.status !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.status}):\n${r.stderr}`);
    return r.stdout;
  };

  const cluster: TestCluster = {
    kube,
    kubectl,
    kubectlOk,
    kubeConfig(token = kube.adminToken) {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'test', server: kube.server, caFile: kube.caFile, skipTLSVerify: false }],
        users: [{ name: 'user', token }],
        contexts: [{ name: 'test', cluster: 'test', user: 'user' }],
        currentContext: 'test',
      });
      return kc;
    },
    serviceAccountToken(namespace, name) {
      return kubectlOk(['-n', namespace, 'create', 'token', name, '--duration=1h']).trim();
    },
    timings: { startMs: kube.startMs, crdMs: 0 },
    stop: () => kube.stop(),
  };

  try {
    const files = opts.crds ?? CRD_FILES;
    if (files.length > 0) {
      const started = Date.now();
      const docs = files.map((f) =>
        testableCrd(parse(readFileSync(path.join(repoRoot, 'test/fixtures/schemas', f), 'utf8')) as Json),
      );
      // Server-side apply: large CRDs exceed the client-side last-applied annotation limit.
      kubectlOk(['apply', '--server-side', '-f', '-'], {
        input: docs.map((d) => stringify(d)).join('---\n'),
      });
      const names = docs.map((d) => `crd/${String(at(d, 'metadata', 'name'))}`);
      kubectlOk(['wait', '--for=condition=Established', '--timeout=60s', ...names]);
      cluster.timings.crdMs = Date.now() - started;
    }
  } catch (err) {
    await kube.stop();
    throw err;
  }
  return cluster;
}

/** Repository file, as text. */
export function readRepoFile(rel: string): string {
  return readFileSync(path.join(repoRoot, rel), 'utf8');
}
