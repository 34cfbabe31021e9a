/**
 * The Kubernetes JobLauncher (shared/jobs/k8s-launcher.ts) against a real kube-apiserver, as the
 * manager's ServiceAccount with only the Role knative/rbac.yaml grants: it creates, lists, watches
 * and deletes Jobs. No controller runs, so the test writes each Job's /status itself (as admin),
 * the way the Job controller would; the launcher's watch reports the exit, and the manager ends the
 * workflow. Least privilege on the objects the launcher really creates: the image comes from the
 * allow-list (JOB_IMAGES), the pod runs as non-root with a read-only root filesystem, and neither
 * the API token nor any Secret reference is in a Job's spec or in the logs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BatchV1Api } from '@kubernetes/client-node';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { QueueCommand, Workflow } from '../../shared/contracts/workflow.ts';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import type { JobExit, JobLauncher } from '../../shared/jobs/job-launcher.ts';
import { createK8sLauncher } from '../../shared/jobs/k8s-launcher.ts';
import { JobLabels, parseJobTemplate } from '../../shared/jobs/render-job.ts';
import { createSqliteStore } from '../../shared/store/sqlite-store.ts';
import { createManager, type Manager } from '../../functions/queue-manager/app.ts';
import { settingsFromConfig } from '../../functions/queue-manager/config.ts';
import { jobTemplates, loadManagerConfig } from '../../functions/queue-manager/main.ts';
import {
  CLUSTER_TIMEOUT_MS,
  MANAGER_SA,
  NS,
  SKIP_KUBE,
  readRepoFile,
  startTestCluster,
  type TestCluster,
} from './cluster.ts';

const IMAGE = 'ghcr.io/streamforge/streamforge:0.1.0';
/** Stand-ins for the Secret's values: none may reach a Job or a log line. */
const API_TOKEN = `api-token-${'9f'.repeat(16)}`;
const ARANGO_PASSWORD = `arango-pw-${'7c'.repeat(12)}`;

function command(queueId: string, attempt = 1): QueueCommand {
  return {
    command: 'start',
    queue_id: queueId,
    symbol: 'BTCUSDT',
    type: 'api_candles_5m',
    target: 'loader-api',
    attempt,
  } as unknown as QueueCommand;
}

async function eventually<T>(check: () => T | undefined | Promise<T | undefined>, ms = 10_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The /status the Job controller would write when the Job's pod ends. */
async function finish(batch: BatchV1Api, name: string, outcome: 'Complete' | 'Failed'): Promise<void> {
  const now = new Date();
  const cond = (type: string) => ({ type, status: 'True', lastTransitionTime: now });
  const status =
    outcome === 'Complete'
      ? {
          startTime: now,
          completionTime: now,
          succeeded: 1,
          conditions: [cond('SuccessCriteriaMet'), cond('Complete')],
        }
      : { startTime: now, failed: 1, conditions: [cond('FailureTarget'), cond('Failed')] };
  const job = await batch.readNamespacedJob({ name, namespace: NS });
  job.status = status;
  await batch.replaceNamespacedJobStatus({ name, namespace: NS, body: job });
}

/** Every Secret reference anywhere in a Job (env valueFrom.secretKeyRef, envFrom.secretRef, volumes). */
function secretRefs(v: unknown, where = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => secretRefs(x, `${where}[${i}]`));
  if (typeof v !== 'object' || v === null) return [];
  return Object.entries(v).flatMap(([k, x]) =>
    ['secretKeyRef', 'secretRef', 'secret'].includes(k) ? [`${where}.${k}`] : secretRefs(x, `${where}.${k}`),
  );
}

const suite = SKIP_KUBE ? describe.skip : describe;

suite('Kubernetes JobLauncher against a real API server (as the manager ServiceAccount)', () => {
  let c: TestCluster;
  let admin: BatchV1Api;
  let saToken: string;
  const logs: string[] = [];
  const logger = pino({ name: 'queue-manager', level: 'debug' }, { write: (s: string) => void logs.push(s) });

  beforeAll(async () => {
    c = await startTestCluster({ crds: [] });
    c.kubectlOk(['create', 'namespace', NS]);
    c.kubectlOk(['create', 'namespace', 'other']);
    c.kubectlOk(['apply', '-n', NS, '-f', '-'], { input: readRepoFile('knative/rbac.yaml') });
    saToken = c.serviceAccountToken(NS, MANAGER_SA);
    admin = c.kubeConfig().makeApiClient(BatchV1Api);
  }, CLUSTER_TIMEOUT_MS);
  afterAll(async () => {
    await c?.stop();
  });

  function saLauncher(): JobLauncher {
    return createK8sLauncher({
      kubeConfig: c.kubeConfig(saToken),
      namespace: NS,
      template: parseJobTemplate(readRepoFile('knative/jobs/loader-job.yaml')),
      logger,
      // Watch only: every exit below must come through the watch.
      pollIntervalMs: 0,
      rewatchDelayMs: 200,
    });
  }

  it('creates, lists, watches and deletes Jobs; exits are reported once, with their code', async () => {
    const launcher = saLauncher();
    const exits: JobExit[] = [];
    launcher.onExit((e) => exits.push(e));
    try {
      const ok = await launcher.launch({ command: command('wf-ok'), image: IMAGE });
      const bad = await launcher.launch({ command: command('wf-bad', 2), image: IMAGE });
      // Launching the same attempt again (a manager restarted mid-launch) is not an error.
      await launcher.launch({ command: command('wf-ok'), image: IMAGE });
      const listed = await admin.listNamespacedJob({ namespace: NS });
      expect(listed.items.map((j) => j.metadata?.name).sort()).toEqual([bad.name, ok.name].sort());
      // What a manager that starts again takes over: each Job with its workflow and attempt.
      expect(await launcher.list()).toEqual(
        expect.arrayContaining([
          { queue_id: 'wf-ok', name: ok.name, attempt: 1 },
          { queue_id: 'wf-bad', name: bad.name, attempt: 2 },
        ]),
      );
      expect(await launcher.list()).toHaveLength(2);

      await finish(admin, ok.name, 'Complete');
      await finish(admin, bad.name, 'Failed');
      await eventually(() => (exits.length >= 2 ? true : undefined));
      expect(exits).toEqual(
        expect.arrayContaining([
          { queue_id: 'wf-ok', name: ok.name, code: 0, signal: null, attempt: 1 },
          { queue_id: 'wf-bad', name: bad.name, code: 1, signal: null, attempt: 2 },
        ]),
      );
      // A later status write (MODIFIED again) is not a second exit.
      await admin.patchNamespacedJob({
        name: ok.name,
        namespace: NS,
        body: [{ op: 'add', path: '/metadata/labels/touched', value: 'yes' }],
      });
      await new Promise((r) => setTimeout(r, 500));
      expect(exits).toHaveLength(2);

      await launcher.cancel('wf-ok');
      await launcher.cancel('wf-unknown');
      const after = await admin.listNamespacedJob({ namespace: NS });
      // Background propagation: the Job is gone at once (Foreground would wait for a GC that is not here).
      expect(after.items.map((j) => j.metadata?.name)).toEqual([bad.name]);
      await launcher.cancel('wf-bad');
      expect((await admin.listNamespacedJob({ namespace: NS })).items).toEqual([]);
      expect(await launcher.list()).toEqual([]);
    } finally {
      await launcher.close();
    }
  });

  it('reports a Job that finished while no launcher was running (the first list)', async () => {
    const first = saLauncher();
    const job = await first.launch({ command: command('wf-offline'), image: IMAGE });
    await first.close();
    await finish(admin, job.name, 'Complete');
    const second = saLauncher();
    const exits: JobExit[] = [];
    second.onExit((e) => exits.push(e));
    try {
      await eventually(() => exits.find((e) => e.name === job.name));
      expect(exits).toHaveLength(1);
    } finally {
      await second.close();
      await second.cancel('wf-offline');
    }
  });

  it('the same ServiceAccount cannot create Jobs in another namespace or read Secrets', async () => {
    const other = createK8sLauncher({
      kubeConfig: c.kubeConfig(saToken),
      namespace: 'other',
      template: parseJobTemplate(readRepoFile('knative/jobs/loader-job.yaml')),
      logger,
      pollIntervalMs: 0,
    });
    await expect(other.launch({ command: command('wf-elsewhere'), image: IMAGE })).rejects.toMatchObject({
      code: 403,
    });
    await other.close();
    const r = c.kubectl(['-n', NS, 'get', 'secrets'], { token: saToken });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/forbidden/i);
  });

  describe('the manager, configured from knative/config.yaml and the Secret', () => {
    let manager: Manager;
    let launcher: JobLauncher;
    let jobEnv: Record<string, string> = {};
    let dir: string;
    let store: ReturnType<typeof createSqliteStore>;
    const bus = createMemoryBus({ retryBackoffMs: 10 });

    beforeAll(async () => {
      // The container's environment in the cluster: the ConfigMap (envFrom) plus the Secret's keys.
      const configMap = parseAllDocuments(readRepoFile('knative/config.yaml'))
        .map((d) => d.toJS() as { kind?: string; data?: Record<string, string> })
        .find((d) => d.kind === 'ConfigMap');
      const cfg = loadManagerConfig({
        ...configMap?.data,
        // Only loader-api may run: every other target has no allowed image.
        JOB_IMAGES: `loader-api=${IMAGE}`,
        ARANGO_USERNAME: 'streamforge',
        ARANGO_PASSWORD,
        API_TOKEN,
      });
      dir = mkdtempSync(path.join(tmpdir(), 'sf-cluster-'));
      store = createSqliteStore({ path: path.join(dir, 'wf.sqlite') });
      jobEnv = settingsFromConfig(cfg).jobEnv;
      launcher = createK8sLauncher({
        kubeConfig: c.kubeConfig(saToken),
        namespace: cfg.JOB_NAMESPACE,
        // JOB_TEMPLATE and JOB_TEMPLATES, read as the manager's main.ts reads them.
        ...jobTemplates(cfg),
        logger,
        pollIntervalMs: 0,
        rewatchDelayMs: 200,
      });
      manager = createManager({
        store,
        bus,
        launcher,
        logger,
        settings: { ...settingsFromConfig(cfg), jobExitGraceMs: 50 },
      });
      await manager.start();
    });
    afterAll(async () => {
      await manager?.stop();
      await bus.close();
      await store?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    /** The Job the manager created for a workflow, once the API server has it. */
    const jobOf = (queueId: string) =>
      eventually(async () => {
        const list = await admin.listNamespacedJob({
          namespace: NS,
          labelSelector: `${JobLabels.queueId}=${queueId}`,
        });
        return list.items[0];
      });

    const post = (body: unknown, token = API_TOKEN) =>
      manager.app.request('/workflows', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(body),
      });

    it('creates the Job with the allow-listed image, non-root, read-only root, no secret in its spec', async () => {
      expect((await post({ symbol: 'BTCUSDT', type: 'api_candles_5m' }, 'wrong-token')).status).toBe(401);
      const res = await post({
        symbol: 'BTCUSDT',
        type: 'api_candles_5m',
        time_range: '2024-08-01:2024-08-02',
      });
      expect(res.status).toBe(201);
      const wf = (await res.json()) as Workflow;
      const job = await jobOf(wf.queue_id);

      const pod = job.spec?.template.spec;
      expect(pod?.containers.map((x) => x.image)).toEqual([IMAGE]);
      expect(pod?.automountServiceAccountToken).toBe(false);
      expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
      expect(pod?.containers[0]?.securityContext).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      // The Job as the API server stored it: no token, no password, no reference to a Secret.
      const stored = JSON.stringify(job);
      expect(stored).not.toContain(API_TOKEN);
      expect(stored).not.toContain(ARANGO_PASSWORD);
      expect(secretRefs(job)).toEqual([]);

      // The exit, written as the Job controller would, ends the workflow through the watch.
      await finish(admin, job.metadata?.name ?? '', 'Failed');
      const done = await eventually(async () => {
        const r = await manager.app.request(`/workflows/${wf.queue_id}`, {
          headers: { authorization: `Bearer ${API_TOKEN}` },
        });
        const w = (await r.json()) as Workflow;
        return w.status === 'error' ? w : undefined;
      });
      expect(done.status).toBe('error');
    });

    it('refuses a target without an allowed image and ignores an image in the request', async () => {
      const refused = await post({
        symbol: 'BTCUSDT',
        type: 'bulk_candles_1h',
        time_range: '2024-08-01:2024-08-02',
      });
      expect(refused.status).toBe(400);
      expect(await refused.text()).toMatch(/no job image is allowed for target loader-bulk/);

      const res = await post({
        symbol: 'ETHUSDT',
        type: 'api_candles_5m',
        time_range: '2024-08-01:2024-08-02',
        image: 'evil.example/miner:latest',
      });
      if (res.status === 201) {
        const wf = (await res.json()) as Workflow;
        const job = await jobOf(wf.queue_id);
        expect(job.spec?.template.spec?.containers.map((x) => x.image)).toEqual([IMAGE]);
      } else {
        // Or the request is refused outright for its unknown field: no Job either way.
        expect(res.status).toBe(400);
      }
      const images = (await admin.listNamespacedJob({ namespace: NS })).items.flatMap(
        (j) => j.spec?.template.spec?.containers.map((x) => x.image) ?? [],
      );
      expect(new Set(images)).toEqual(new Set([IMAGE]));
    });

    it('renders a gnn-trainer Job from trainer-job.yaml, with key references to the Secret and no API token', async () => {
      const cmd = {
        ...command('wf-btcusdt-gnn_train-20240801-c0ffee', 1),
        type: 'gnn_train',
        target: 'gnn-trainer',
      } as QueueCommand;
      const handle = await launcher.launch({ command: cmd, image: IMAGE, env: jobEnv });
      try {
        // The Job as the API server accepted and stored it.
        const job = await admin.readNamespacedJob({ name: handle.name, namespace: NS });
        expect(job.metadata?.labels?.['app.kubernetes.io/component']).toBe('trainer');
        expect(job.spec?.activeDeadlineSeconds).toBe(21600);
        const container = job.spec?.template.spec?.containers[0];
        expect(container?.args).toEqual(['functions/gnn-trainer/main.ts']);
        expect(container?.resources?.requests).toMatchObject({ cpu: '2', memory: '2Gi' });
        const refs = (container?.env ?? []).flatMap((e) =>
          e.valueFrom?.secretKeyRef ? [`${e.name}=${e.valueFrom.secretKeyRef.key}`] : [],
        );
        expect(refs.sort()).toEqual([
          'ARANGO_PASSWORD=ARANGO_PASSWORD',
          'ARANGO_USERNAME=ARANGO_USERNAME',
          'ARTIFACT_S3_ACCESS_KEY_ID=ARTIFACT_S3_ACCESS_KEY_ID',
          'ARTIFACT_S3_SECRET_ACCESS_KEY=ARTIFACT_S3_SECRET_ACCESS_KEY',
        ]);
        // No whole-Secret envFrom, and no value of the Secret in the spec.
        expect(secretRefs(job).every((p) => p.endsWith('.secretKeyRef'))).toBe(true);
        const stored = JSON.stringify(job);
        expect(stored).not.toContain('API_TOKEN');
        expect(stored).not.toContain(API_TOKEN);
        expect(stored).not.toContain(ARANGO_PASSWORD);
      } finally {
        await launcher.cancel(cmd.queue_id);
      }
    });

    it('never writes the API token or the store password to the logs', () => {
      expect(logs.length).toBeGreaterThan(0);
      const all = logs.join('');
      expect(all).not.toContain(API_TOKEN);
      expect(all).not.toContain(ARANGO_PASSWORD);
      expect(all).not.toContain(saToken);
    });
  });
});
