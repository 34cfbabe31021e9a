/**
 * Every document under knative/ and kafka-sources/ against the upstream schema of its kind
 * (test/fixtures/schemas, closed in memory so unknown fields fail), and each way a manifest can be
 * wrong that the schema must catch, shown on a broken copy of a real manifest.
 */
import { describe, expect, it } from 'vitest';
import { type Json, loadBundle, parseYamlStream, setAt, where } from './load.ts';
import { loadSchemas } from './schemas.ts';

const bundle = loadBundle();
const schemas = loadSchemas();
const manifests = bundle.docs.filter((d) => d.doc['kind'] !== 'Kustomization');

/** Problems of a copy of `file`#`index` after `change`. */
function broken(file: string, index: number, change: (doc: Json) => void): string[] {
  const d = bundle.docs.find((x) => x.file === file && x.index === index);
  if (!d) throw new Error(`no document ${file}#${index}`);
  const doc = structuredClone(d.doc);
  change(doc);
  return schemas.validate(doc);
}

const QM = 'knative/queue-manager.yaml';
const KS = 'kafka-sources/arango-connector.yaml';
const NP = 'knative/network-policy.yaml';
const TEMPLATE = ['spec', 'template'];
const CONTAINER = [...TEMPLATE, 'spec', 'containers', 0];

describe('manifests against the upstream schemas', () => {
  it('reads every file the same under YAML 1.2 and YAML 1.1 (what the API server uses)', () => {
    expect(bundle.yamlProblems).toEqual([]);
  });

  it('covers every kind the deployment uses', () => {
    const kinds = new Set(manifests.map((d) => `${String(d.doc['apiVersion'])} ${String(d.doc['kind'])}`));
    for (const k of [
      'serving.knative.dev/v1 Service',
      'sources.knative.dev/v1 KafkaSource',
      'kafka.strimzi.io/v1 KafkaTopic',
      'v1 ConfigMap',
      'v1 Secret',
      'v1 ServiceAccount',
      'v1 Namespace',
      'rbac.authorization.k8s.io/v1 Role',
      'rbac.authorization.k8s.io/v1 RoleBinding',
      'batch/v1 Job',
      'networking.k8s.io/v1 NetworkPolicy',
    ])
      expect(kinds).toContain(k);
  });

  it.each(manifests.map((d) => [where(d), d.doc] as const))('%s validates', (_name, doc) => {
    expect(schemas.validate(doc)).toEqual([]);
  });
});

describe('the schema checks catch a broken manifest', () => {
  const cases: [string, string, number, (doc: Json) => void, RegExp][] = [
    [
      'a misspelt Knative field',
      QM,
      0,
      (d) => setAt(d, [...TEMPLATE, 'spec', 'containerConcurency'], 10),
      /additional properties \(containerConcurency\)/,
    ],
    [
      'an unquoted number in a revision annotation',
      QM,
      0,
      (d) => setAt(d, [...TEMPLATE, 'metadata', 'annotations', 'autoscaling.knative.dev/min-scale'], 1),
      /\/spec\/template\/metadata\/annotations\/autoscaling\.knative\.dev~1min-scale: must be string/,
    ],
    [
      'a misspelt revision template metadata field',
      QM,
      0,
      (d) => setAt(d, [...TEMPLATE, 'metadata', 'anotations'], {}),
      /additional properties \(anotations\)/,
    ],
    [
      'a quantity the API server cannot parse',
      QM,
      0,
      (d) => setAt(d, [...CONTAINER, 'resources', 'limits', 'memory'], '512 MB'),
      /limits\/memory: must match pattern/,
    ],
    [
      'a wrong apiVersion',
      QM,
      0,
      (d) => (d['apiVersion'] = 'serving.knative.dev/v2'),
      /no schema for apiVersion/,
    ],
    ['a wrong kind', KS, 0, (d) => (d['kind'] = 'KafkaSorce'), /no schema for .*kind KafkaSorce/],
    [
      'an unquoted number in a KafkaSource annotation',
      KS,
      0,
      (d) => setAt(d, ['metadata', 'annotations', 'autoscaling.eventing.knative.dev/lag-threshold'], 10),
      /\/metadata\/annotations\/autoscaling\.eventing\.knative\.dev~1lag-threshold: must be string/,
    ],
    [
      'a misspelt metadata field',
      KS,
      0,
      (d) => setAt(d, ['metadata', 'lables'], {}),
      /additional properties \(lables\)/,
    ],
    [
      'a misspelt KafkaSource field',
      KS,
      0,
      (d) => setAt(d, ['spec', 'delivery', 'backofDelay'], 'PT1S'),
      /additional properties \(backofDelay\)/,
    ],
    [
      'a KafkaSource without topics',
      KS,
      0,
      (d) => setAt(d, ['spec', 'topics'], undefined),
      /must have required property 'topics'/,
    ],
    [
      'a misspelt Job field',
      'knative/jobs/loader-job.yaml',
      0,
      (d) => setAt(d, [...CONTAINER, 'imagePullPolcy'], 'Always'),
      /additional properties \(imagePullPolcy\)/,
    ],
    [
      'a ConfigMap value that is not a string',
      'knative/config.yaml',
      0,
      (d) => setAt(d, ['data', 'LOG_LEVEL'], 1),
      /must be string/,
    ],
    [
      'Secret data that is not base64',
      'knative/config.yaml',
      1,
      (d) => setAt(d, ['data', 'X'], 'not base64!'),
      /must match format "byte"/,
    ],
    [
      'a misspelt Role field',
      'knative/rbac.yaml',
      1,
      (d) => setAt(d, ['rules', 0, 'resource'], ['jobs']),
      /additional properties \(resource\)/,
    ],
    [
      'a misspelt NetworkPolicy field',
      NP,
      0,
      (d) => setAt(d, ['spec', 'ingress', 0, 'form'], []),
      /additional properties \(form\)/,
    ],
    [
      'a NetworkPolicy selector requirement without operator',
      NP,
      0,
      (d) => setAt(d, ['spec', 'podSelector', 'matchExpressions', 0, 'operator'], undefined),
      /\/spec\/podSelector\/matchExpressions\/0: must have required property 'operator'/,
    ],
    [
      'a RoleBinding without roleRef',
      'knative/rbac.yaml',
      2,
      (d) => setAt(d, ['roleRef'], undefined),
      /required property 'roleRef'/,
    ],
  ];

  it.each(cases)('%s', (_name, file, index, change, expected) => {
    const problems = broken(file, index, change);
    expect(problems.join('\n')).toMatch(expected);
  });

  it('reports a value that YAML 1.1 reads as a boolean', () => {
    const { problems } = parseYamlStream('metadata:\n  annotations:\n    example.com/debug: on\n', 'x.yaml');
    expect(problems.join('\n')).toMatch(/YAML 1\.1.*example\.com\/debug: "on" vs true/);
  });
});
