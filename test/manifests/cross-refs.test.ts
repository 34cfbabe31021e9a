/**
 * Cross-references between manifests, code and image: sinks name existing Services, topics are
 * defined, every function's configuration is provided and parses, images are allowed, RBAC and
 * the kustomization hold together, and the image contains what the manifests run. Each check
 * passes on the repository and reports a copy broken in one place.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  imageProblems,
  kustomizationProblems,
  rbacProblems,
  serviceFunctionProblems,
  sinkProblems,
  topicProblems,
} from './cross-refs.ts';
import {
  configMapKeyProblems,
  configProblems,
  containerEnv,
  mainTsProblems,
  serviceContainer,
  serviceEnvProblems,
} from './env-refs.ts';
import { FUNCTIONS, requiredKeys } from './functions.ts';
import { imageContentProblems } from './image-contents.ts';
import { type Bundle, type Json, loadBundle, setAt, withDoc } from './load.ts';

const bundle = loadBundle();
const KS = 'kafka-sources/arango-connector.yaml';
const CONFIG = 'knative/config.yaml';
const CONTAINER = ['spec', 'template', 'spec', 'containers', 0];

const checks: Record<string, (b: Bundle) => string[]> = {
  sinks: sinkProblems,
  topics: topicProblems,
  'service functions': serviceFunctionProblems,
  'service environments': serviceEnvProblems,
  'ConfigMap keys': configMapKeyProblems,
  images: imageProblems,
  'image contents': imageContentProblems,
  rbac: (b) => rbacProblems(b),
  kustomization: kustomizationProblems,
};

describe('the repository is consistent', () => {
  it.each(Object.entries(checks))('%s', (_name, check) => {
    expect(check(bundle)).toEqual([]);
  });

  it.each(Object.entries(FUNCTIONS))(
    'functions/%s/main.ts parses its env with the schema the checks use',
    (name, fn) => {
      expect(mainTsProblems(name, fn)).toEqual([]);
    },
  );
});

describe('each cross-reference check reports a broken copy', () => {
  const edit = (file: string, index: number, change: (doc: Json) => void) =>
    withDoc(bundle, file, index, change);
  const cases: [string, keyof typeof checks, () => Bundle, RegExp][] = [
    [
      'a dangling sink',
      'sinks',
      () => edit(KS, 0, (d) => setAt(d, ['spec', 'sink', 'ref', 'name'], 'arango-conector')),
      /spec\.sink\.ref names Service "arango-conector", which is not in knative\//,
    ],
    [
      'a dangling dead-letter sink',
      'sinks',
      () => edit(KS, 0, (d) => setAt(d, ['spec', 'delivery', 'deadLetterSink', 'ref', 'name'], 'nobody')),
      /deadLetterSink\.ref names Service "nobody"/,
    ],
    [
      'a public sink',
      'sinks',
      () =>
        edit('knative/queue-manager.yaml', 0, (d) =>
          setAt(d, ['metadata', 'labels', 'networking.knative.dev/visibility'], undefined),
        ),
      /queue-manager receives KafkaSource events, so it must be labelled networking\.knative\.dev\/visibility: cluster-local/,
    ],
    [
      'a sink of another kind',
      'sinks',
      () => edit(KS, 0, (d) => setAt(d, ['spec', 'sink', 'ref', 'kind'], 'Broker')),
      /must name a serving\.knative\.dev\/v1 Service/,
    ],
    [
      'an undefined topic',
      'topics',
      () => edit(KS, 0, (d) => setAt(d, ['spec', 'topics', 0], 'binance-klines')),
      /topic "binance-klines" is not defined in kafka-sources\/topics\.yaml/,
    ],
    [
      'a shared consumer group',
      'topics',
      () => edit(KS, 0, (d) => setAt(d, ['spec', 'consumerGroup'], 'queue-manager')),
      /consumerGroup "queue-manager" is also used/,
    ],
    [
      'another Kafka cluster',
      'topics',
      () => edit(KS, 0, (d) => setAt(d, ['spec', 'bootstrapServers'], ['kafka:9092'])),
      /bootstrapServers kafka:9092 differ from KAFKA_BROKERS/,
    ],
    [
      'a missing cluster setting',
      'service environments',
      () => edit(CONFIG, 0, (d) => setAt(d, ['data', 'KAFKA_BROKERS'], undefined)),
      /arango-connector: KAFKA_BROKERS must be set in a cluster but is not provided/,
    ],
    [
      'a setting that does not parse',
      'service environments',
      () => edit(CONFIG, 0, (d) => setAt(d, ['data', 'LOG_LEVEL'], 'verbose')),
      /dummy-service: loadConfig\(DummyConfig\): LOG_LEVEL/,
    ],
    [
      'the manager launching Jobs as child processes in a cluster',
      'service environments',
      () => edit(CONFIG, 0, (d) => setAt(d, ['data', 'JOB_LAUNCHER'], 'child')),
      /JOB_LAUNCHER must be "kubernetes" in a cluster, is "child"/,
    ],
    [
      'an envFrom naming a missing ConfigMap',
      'service environments',
      () =>
        edit('knative/dummy-service.yaml', 0, (d) =>
          setAt(d, [...CONTAINER, 'envFrom', 0, 'configMapRef', 'name'], 'streamforge'),
        ),
      /envFrom configMapRef names ConfigMap "streamforge", which is not in knative\//,
    ],
    [
      'a misspelt ConfigMap key',
      'ConfigMap keys',
      () => edit(CONFIG, 0, (d) => setAt(d, ['data', 'KAFKA_BROKER'], 'x:9092')),
      /no function reads KAFKA_BROKER/,
    ],
    [
      'a reserved ConfigMap key',
      'ConfigMap keys',
      () => edit(CONFIG, 0, (d) => setAt(d, ['data', 'PORT'], '9000')),
      /PORT is set by Knative/,
    ],
    [
      'an image not in the allow-list',
      'images',
      () =>
        edit('knative/dummy-service.yaml', 0, (d) =>
          setAt(d, [...CONTAINER, 'image'], 'docker.io/someone/else:1.0'),
        ),
      /image docker\.io\/someone\/else:1\.0 is not in the manager's allow-list/,
    ],
    [
      'an unpinned allowed image',
      'images',
      () =>
        edit(CONFIG, 0, (d) =>
          setAt(d, ['data', 'JOB_IMAGES'], 'loader-api=ghcr.io/streamforge/streamforge:latest'),
        ),
      /is not a pinned registry image/,
    ],
    [
      'an allowed target with no function yet',
      'images',
      () =>
        edit(CONFIG, 0, (d) =>
          setAt(d, ['data', 'JOB_IMAGES'], 'loader-api=ghcr.io/a/b:1,graph-builder=ghcr.io/a/b:1'),
        ),
      /graph-builder is not a Job target of the manager/,
    ],
    [
      'a malformed allow-list',
      'images',
      () => edit(CONFIG, 0, (d) => setAt(d, ['data', 'JOB_IMAGES'], 'loader-api')),
      /JOB_IMAGES entry "loader-api"/,
    ],
    [
      'a Service running another function',
      'service functions',
      () =>
        edit('knative/dummy-service.yaml', 0, (d) => setAt(d, [...CONTAINER, 'env', 0, 'value'], 'dummy')),
      /STREAMFORGE_FUNCTION "dummy" differs from the Service name/,
    ],
    [
      'a missing ServiceAccount',
      'rbac',
      () =>
        edit('knative/queue-manager.yaml', 0, (d) =>
          setAt(d, ['spec', 'template', 'spec', 'serviceAccountName'], 'manager'),
        ),
      /serviceAccountName "manager" is not a ServiceAccount/,
    ],
    [
      'a wildcard grant',
      'rbac',
      () => edit('knative/rbac.yaml', 1, (d) => setAt(d, ['rules', 0, 'verbs'], ['*'])),
      /grants a wildcard/,
    ],
    [
      'a verb the launcher needs',
      'rbac',
      () => edit('knative/rbac.yaml', 1, (d) => setAt(d, ['rules', 0, 'verbs'], ['create', 'list'])),
      /calls deleteNamespacedJob, but no Role grants batch jobs "delete"/,
    ],
    [
      'a RoleBinding to a missing Role',
      'rbac',
      () => edit('knative/rbac.yaml', 2, (d) => setAt(d, ['roleRef', 'name'], 'admin')),
      /roleRef must name a Role/,
    ],
    [
      'a listed file that does not exist',
      'kustomization',
      () => edit('knative/kustomization.yaml', 0, (d) => setAt(d, ['resources', 6], 'later.yaml')),
      /knative\/later\.yaml does not exist/,
    ],
    [
      'a manifest left out',
      'kustomization',
      () => edit('knative/kustomization.yaml', 0, (d) => setAt(d, ['resources'], ['config.yaml'])),
      /knative\/rbac\.yaml is not listed in resources/,
    ],
    [
      'a Job template applied as a resource',
      'kustomization',
      () => edit('knative/kustomization.yaml', 0, (d) => setAt(d, ['resources', 6], 'jobs/loader-job.yaml')),
      /is a Job template/,
    ],
    [
      'a namespace the manager does not launch into',
      'kustomization',
      () => edit('knative/kustomization.yaml', 0, (d) => setAt(d, ['namespace'], 'default')),
      /differs from JOB_NAMESPACE "streamforge"/,
    ],
    [
      'a .dockerignore that drops the Job templates',
      'image contents',
      () => ({ ...bundle, dockerignore: `${bundle.dockerignore}\nknative\n` }),
      /excludes knative\/jobs\/loader-job\.yaml/,
    ],
    [
      'a Dockerfile that does not copy the functions',
      'image contents',
      () => ({ ...bundle, dockerfile: bundle.dockerfile.replace(/^COPY functions .*$/m, '') }),
      /does not COPY functions\/queue-manager\/main\.ts/,
    ],
    [
      'a Service port the image does not expose',
      'image contents',
      () =>
        edit('knative/dummy-service.yaml', 0, (d) =>
          setAt(d, [...CONTAINER, 'ports', 0, 'containerPort'], 3000),
        ),
      /containerPort 3000 differs from the image's EXPOSE 8080/,
    ],
  ];
  it.each(cases)('%s', (_name, check, broken, expected) => {
    expect(checks[check]!(broken()).join('\n')).toMatch(expected);
  });

  it('a key a function newly requires, with no default, that no manifest provides', () => {
    const fn = FUNCTIONS['arango-connector']!;
    const [first, ...rest] = fn.schemas;
    const keys = first!.keys.extend({ CONNECTOR_REGION: z.string().min(1) });
    const stricter = { ...fn, schemas: [{ ...first!, schema: keys, keys }, ...rest] };
    expect(requiredKeys(keys)).toEqual(['CONNECTOR_REGION']);
    const svc = bundle.docs.find((d) => d.file === 'knative/arango-connector.yaml')!;
    const { env } = containerEnv(bundle, serviceContainer(svc), { knative: true });
    expect(configProblems(fn, env)).toEqual([]);
    expect(configProblems(stricter, env).join('\n')).toMatch(
      /CONNECTOR_REGION is required by loadConfig but not provided/,
    );
  });

  it('a main.ts that parses with another schema or reads env on the side', () => {
    const fn = FUNCTIONS['dummy-service']!;
    const source = "const cfg = loadConfig(OtherConfig, process.env);\nconst x = process.env['SECRET_FLAG'];";
    const problems = mainTsProblems('dummy-service', fn, source).join('\n');
    expect(problems).toMatch(/does not call loadConfig\(DummyConfig/);
    expect(problems).toMatch(/reads SECRET_FLAG outside its config schema/);
  });
});
