/**
 * The manifests against a real API server with the CRDs installed (Knative Service, KafkaSource,
 * Strimzi KafkaTopic): every file in knative/ and kafka-sources/ passes `kubectl apply
 * --dry-run=server` as shipped (strict field validation, kubectl's default), both Job templates do
 * once rendered, the whole deployment applies with `kubectl apply -k` in the documented order
 * (README "Deploy on Kubernetes", docs/kubernetes.md), and broken variants are rejected.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { QueueCommand } from '../../shared/contracts/workflow.ts';
import { parseJobTemplate, renderJob } from '../../shared/jobs/render-job.ts';
import { loadTopology } from '../../shared/topology/load.ts';
import { yamlFiles } from '../manifests/load.ts';
import {
  CLUSTER_TIMEOUT_MS,
  NS,
  SKIP_KUBE,
  readRepoFile,
  repoRoot,
  startTestCluster,
  type TestCluster,
} from './cluster.ts';

type Json = Record<string, unknown>;

/** Every manifest file (not kustomize's own, not the Job templates, which are rendered below). */
const FILES = [...yamlFiles('knative'), ...yamlFiles('kafka-sources')].filter(
  (f) => !f.endsWith('/kustomization.yaml') && !f.startsWith('knative/jobs/'),
);
const TEMPLATES = yamlFiles('knative/jobs');

function docsOf(file: string): Json[] {
  return parseAllDocuments(readRepoFile(file))
    .filter((d) => d.contents !== null)
    .map((d) => d.toJS() as Json);
}

function docOf(file: string, kind: string): Json {
  const d = docsOf(file).find((x) => x['kind'] === kind);
  if (!d) throw new Error(`no ${kind} in ${file}`);
  return d;
}

/** Sets a value at a path of keys/indices, creating nothing (the path must exist up to the last key). */
function set(doc: Json, keys: (string | number)[], value: unknown): Json {
  const copy = structuredClone(doc);
  let cur = copy as Record<string | number, unknown>;
  for (const k of keys.slice(0, -1)) cur = cur[k] as Record<string | number, unknown>;
  const last = keys[keys.length - 1] ?? '';
  if (value === undefined) delete cur[last];
  else cur[last] = value;
  return copy;
}

const CONTAINER = ['spec', 'template', 'spec', 'containers', 0];

const suite = SKIP_KUBE ? describe.skip : describe;

suite('manifests against a real API server', () => {
  let c: TestCluster;

  beforeAll(async () => {
    c = await startTestCluster();
    // `apply --dry-run=server` needs the namespace to exist for real.
    c.kubectlOk(['create', 'namespace', NS]);
  }, CLUSTER_TIMEOUT_MS);
  afterAll(async () => {
    await c?.stop();
  });

  const dryRun = (input: string) =>
    c.kubectl(['apply', '--dry-run=server', '--validate=strict', '-n', NS, '-f', '-'], { input });

  /** stderr without kubectl's note on objects made by `kubectl create` (the namespace, step 1). */
  const problems = (stderr: string) =>
    stderr.split('\n').filter((l) => l.trim() !== '' && !/last-applied-configuration annotation/.test(l));

  it.each(FILES)('%s passes kubectl apply --dry-run=server as shipped', (file) => {
    const r = c.kubectl([
      'apply',
      '--dry-run=server',
      '--validate=strict',
      '-n',
      NS,
      '-f',
      path.join(repoRoot, file),
    ]);
    expect(problems(r.stderr)).toEqual([]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/\(server dry run\)/);
  });

  it.each(TEMPLATES)('%s, rendered as the manager renders it, passes --dry-run=server', (file) => {
    const job = renderJob(
      parseJobTemplate(readRepoFile(file)),
      {
        command: {
          command: 'start',
          queue_id: 'wf-btcusdt-api_candles_5m-20240801-abcdef',
          target: 'loader-api',
          attempt: 1,
        } as unknown as QueueCommand,
        image: 'ghcr.io/streamforge/streamforge:0.1.0',
        env: { BINANCE_API_URL: 'https://api.binance.com' },
      },
      NS,
    );
    const r = dryRun(JSON.stringify(job));
    expect(problems(r.stderr)).toEqual([]);
    expect(r.status).toBe(0);
  });

  it('the whole deployment applies with kubectl apply -k, in the documented order', async () => {
    // 1. Namespace (above) and the Secret with its values, created outside git.
    c.kubectlOk([
      '-n',
      NS,
      'create',
      'secret',
      'generic',
      'streamforge-secrets',
      '--from-literal=ARANGO_USERNAME=streamforge',
      '--from-literal=ARANGO_PASSWORD=change-me',
      '--from-literal=API_TOKEN=0123456789abcdef',
    ]);
    // 2. and 3.
    c.kubectlOk(['apply', '-k', path.join(repoRoot, 'knative')]);
    c.kubectlOk(['apply', '-k', path.join(repoRoot, 'kafka-sources')]);

    const names = (kind: string) =>
      c
        .kubectlOk(['-n', NS, 'get', kind, '-o', 'jsonpath={.items[*].metadata.name}'])
        .split(' ')
        .filter(Boolean)
        .sort();
    // A Service for every function that has one, including loader-ws and graph-builder.
    expect(names('services.serving.knative.dev')).toEqual(
      ['arango-connector', 'dummy-service', 'graph-builder', 'loader-ws', 'queue-manager'].sort(),
    );
    const topology = await loadTopology(path.join(repoRoot, 'kafka-sources'));
    expect(names('kafkasources.sources.knative.dev')).toEqual(
      topology.sources.map((s) => s.source.metadata.name).sort(),
    );
    // The topics the code creates locally are the KafkaTopics the cluster holds (one source).
    const topics = JSON.parse(
      c.kubectlOk(['-n', NS, 'get', 'kafkatopics.kafka.strimzi.io', '-o', 'json']),
    ) as {
      items: {
        metadata: { name: string };
        spec: { topicName?: string; partitions: number; config?: Json };
      }[];
    };
    expect(
      topics.items
        .map((t) => ({
          topic: t.spec.topicName ?? t.metadata.name,
          partitions: t.spec.partitions,
          config: t.spec.config ?? {},
        }))
        .sort((a, b) => a.topic.localeCompare(b.topic)),
    ).toEqual([...topology.topics].sort((a, b) => a.topic.localeCompare(b.topic)));

    // Applying knative/ (with its empty Secret) kept the values created in step 1.
    const secret = JSON.parse(
      c.kubectlOk(['-n', NS, 'get', 'secret', 'streamforge-secrets', '-o', 'json']),
    ) as {
      data?: Record<string, string>;
    };
    expect(Object.keys(secret.data ?? {}).sort()).toEqual([
      'API_TOKEN',
      'ARANGO_PASSWORD',
      'ARANGO_USERNAME',
    ]);

    // The security context as the server stored it (nothing pruned): non-root, read-only root.
    const ksvcs = JSON.parse(
      c.kubectlOk(['-n', NS, 'get', 'services.serving.knative.dev', '-o', 'json']),
    ) as {
      items: { metadata: { name: string }; spec: { template: { spec: { containers: Json[] } } } }[];
    };
    for (const s of ksvcs.items) {
      expect(s.spec.template.spec.containers[0]?.['securityContext'], s.metadata.name).toMatchObject({
        runAsNonRoot: true,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
    }

    // What is applied is what is stored: `kubectl diff` (a server-side dry run) finds nothing to change.
    for (const dir of ['knative', 'kafka-sources']) {
      const diff = c.kubectl(['diff', '-k', path.join(repoRoot, dir)]);
      expect(diff.stdout, dir).toBe('');
      expect(diff.status, dir).toBe(0);
    }
  });

  const QM = 'knative/queue-manager.yaml';
  const broken: [string, () => Json, RegExp][] = [
    [
      'a wrong field type (containerConcurrency as text)',
      () => set(docOf(QM, 'Service'), ['spec', 'template', 'spec', 'containerConcurrency'], 'fifty'),
      /containerConcurrency.*(must be of type integer|Invalid value)/s,
    ],
    [
      'an unknown field (strict field validation)',
      () => set(docOf(QM, 'Service'), ['spec', 'template', 'spec', 'containerConcurency'], 50),
      /unknown field "spec\.template\.spec\.containerConcurency"/,
    ],
    [
      'a misspelt securityContext field in a container',
      () => set(docOf(QM, 'Service'), [...CONTAINER, 'securityContext', 'readOnlyRootFileSystem'], true),
      /unknown field .*readOnlyRootFileSystem/,
    ],
    [
      'a KafkaSource without its required topics',
      () => set(docOf('kafka-sources/arango-connector.yaml', 'KafkaSource'), ['spec', 'topics'], undefined),
      /spec\.topics: Required value/,
    ],
    [
      'a KafkaTopic with zero partitions',
      () => set(docOf('kafka-sources/topics.yaml', 'KafkaTopic'), ['spec', 'partitions'], 0),
      /spec\.partitions: Invalid value: 0: spec\.partitions in body should be greater than or equal to 1/,
    ],
    [
      'a KafkaTopic with partitions as text',
      () => set(docOf('kafka-sources/topics.yaml', 'KafkaTopic'), ['spec', 'partitions'], 'six'),
      /spec\.partitions.*must be of type integer/s,
    ],
    [
      'a Role with no verbs',
      () => set(docOf('knative/rbac.yaml', 'Role'), ['rules', 0, 'verbs'], []),
      /verbs: Required value/,
    ],
    [
      'a NetworkPolicy with a port out of range',
      () =>
        set(
          docOf('knative/network-policy.yaml', 'NetworkPolicy'),
          ['spec', 'ingress', 0, 'ports'],
          [{ port: 70000 }],
        ),
      /port|Invalid value/,
    ],
  ];

  it.each(broken)('rejects %s', (_label, make, expected) => {
    const r = dryRun(stringify(make()));
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(expected);
  });
});
