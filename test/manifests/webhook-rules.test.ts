/**
 * The rules the schemas leave to Knative's webhooks (one port, reserved ports/env/paths, feature
 * flags, offsets, ordering, KEDA annotation keys) and the project's Service policy: the real
 * manifests pass, and each rule reports a broken copy of one.
 */
import { describe, expect, it } from 'vitest';
import { type Json, kafkaSources, knativeServices, loadBundle, setAt, where } from './load.ts';
import { kafkaSourceRules, knativeServiceRules } from './webhook-rules.ts';

const bundle = loadBundle();
const TEMPLATE = ['spec', 'template'];
const ANN = [...TEMPLATE, 'metadata', 'annotations'];
const SPEC = [...TEMPLATE, 'spec'];
const CONTAINER = [...SPEC, 'containers', 0];

function brokenService(change: (doc: Json) => void): string[] {
  const d = structuredClone(knativeServices(bundle).find((x) => x.file === 'knative/arango-connector.yaml'));
  if (!d) throw new Error('no arango-connector Service');
  change(d.doc);
  return knativeServiceRules(d);
}

function brokenSource(change: (doc: Json) => void): string[] {
  const d = structuredClone(kafkaSources(bundle)[0]);
  if (!d) throw new Error('no KafkaSource');
  change(d.doc);
  return kafkaSourceRules(d);
}

describe('Knative Service rules', () => {
  it('finds Services to check', () => expect(knativeServices(bundle).length).toBeGreaterThanOrEqual(3));

  it.each(knativeServices(bundle).map((d) => [where(d), d] as const))('%s follows them', (_n, d) => {
    expect(knativeServiceRules(d)).toEqual([]);
  });

  const cases: [string, (doc: Json) => void, RegExp][] = [
    [
      'a second port',
      (d) => setAt(d, [...CONTAINER, 'ports', 1], { containerPort: 8081 }),
      /at most one container port/,
    ],
    [
      'a reserved port',
      (d) => setAt(d, [...CONTAINER, 'ports', 0, 'containerPort'], 9090),
      /port 9090 is reserved/,
    ],
    [
      'a reserved env name',
      (d) => setAt(d, [...CONTAINER, 'env', 5], { name: 'K_REVISION', value: 'x' }),
      /env K_REVISION is reserved/,
    ],
    [
      'a mount on a reserved path',
      (d) => setAt(d, [...CONTAINER, 'volumeMounts'], [{ name: 'v', mountPath: '/tmp' }]),
      /\/tmp is reserved/,
    ],
    [
      'a feature-flagged volume',
      (d) => setAt(d, [...SPEC, 'volumes'], [{ name: 'v', emptyDir: {} }]),
      /volumes\/0\/emptyDir: needs the Knative feature flag kubernetes\.podspec-volumes-emptydir/,
    ],
    [
      'a feature-flagged pod securityContext',
      (d) => setAt(d, [...SPEC, 'securityContext'], { runAsNonRoot: true }),
      /kubernetes\.podspec-securitycontext/,
    ],
    [
      'readiness on the liveness path',
      (d) => setAt(d, [...CONTAINER, 'readinessProbe', 'httpGet', 'path'], '/healthz'),
      /readinessProbe must GET \/readyz/,
    ],
    [
      'a probe on another port',
      (d) => setAt(d, [...CONTAINER, 'livenessProbe', 'httpGet', 'port'], 9000),
      /livenessProbe port 9000/,
    ],
    [
      'no memory limit',
      (d) => setAt(d, [...CONTAINER, 'resources', 'limits', 'memory'], undefined),
      /resources\.limits\.memory is not set/,
    ],
    [
      'root allowed',
      (d) => setAt(d, [...CONTAINER, 'securityContext', 'runAsNonRoot'], false),
      /runAsNonRoot must be true/,
    ],
    [
      'no containerConcurrency',
      (d) => setAt(d, [...SPEC, 'containerConcurrency'], undefined),
      /containerConcurrency must be set/,
    ],
    [
      'a timeout above the maximum',
      (d) => setAt(d, [...SPEC, 'timeoutSeconds'], 900),
      /timeoutSeconds 900 exceeds/,
    ],
    [
      'a target above the hard cap',
      (d) => setAt(d, [...ANN, 'autoscaling.knative.dev/target'], '80'),
      /target 80 exceeds containerConcurrency 10/,
    ],
    [
      'a bad autoscaler class',
      (d) => setAt(d, [...ANN, 'autoscaling.knative.dev/class'], 'kpa'),
      /class has an invalid value "kpa"/,
    ],
    [
      'a non-numeric scale bound',
      (d) => setAt(d, [...ANN, 'autoscaling.knative.dev/max-scale'], 'six'),
      /max-scale has an invalid value/,
    ],
    [
      'min-scale above max-scale',
      (d) => setAt(d, [...ANN, 'autoscaling.knative.dev/min-scale'], '9'),
      /min-scale 9 exceeds max-scale 6/,
    ],
    [
      'a legacy camelCase key',
      (d) => setAt(d, [...ANN, 'autoscaling.knative.dev/minScale'], '1'),
      /unknown annotation autoscaling\.knative\.dev\/minScale/,
    ],
    [
      'a missing autoscaling annotation',
      (d) => setAt(d, [...ANN, 'autoscaling.knative.dev/max-scale'], undefined),
      /max-scale is not set/,
    ],
    [
      'autoscaling on the Service instead of its template',
      (d) => setAt(d, ['metadata', 'annotations', 'autoscaling.knative.dev/min-scale'], '1'),
      /ignored on the Service; it belongs on spec\.template/,
    ],
  ];
  it.each(cases)('reports %s', (_name, change, expected) => {
    expect(brokenService(change).join('\n')).toMatch(expected);
  });
});

describe('KafkaSource rules', () => {
  it('finds KafkaSources to check', () => expect(kafkaSources(bundle).length).toBeGreaterThanOrEqual(2));

  it.each(kafkaSources(bundle).map((d) => [where(d), d] as const))('%s follows them', (_n, d) => {
    expect(kafkaSourceRules(d)).toEqual([]);
  });

  const KEDA = 'autoscaling.eventing.knative.dev/';
  const cases: [string, (doc: Json) => void, RegExp][] = [
    [
      'a bad initialOffset',
      (d) => setAt(d, ['spec', 'initialOffset'], 'newest'),
      /initialOffset "newest" must be one of earliest, latest/,
    ],
    [
      'a bad ordering',
      (d) => setAt(d, ['spec', 'ordering'], 'sorted'),
      /ordering "sorted" must be one of ordered, unordered/,
    ],
    [
      'a bad backoff policy',
      (d) => setAt(d, ['spec', 'delivery', 'backoffPolicy'], 'quadratic'),
      /backoffPolicy "quadratic"/,
    ],
    [
      'a backoff delay that is not ISO-8601',
      (d) => setAt(d, ['spec', 'delivery', 'backoffDelay'], '500ms'),
      /backoffDelay "500ms"/,
    ],
    [
      'a legacy KEDA annotation key',
      (d) => setAt(d, ['metadata', 'annotations', 'keda.autoscaling.knative.dev/minScale'], '0'),
      /legacy key; use autoscaling\.eventing\.knative\.dev\/minScale/,
    ],
    [
      'an unknown KEDA annotation',
      (d) => setAt(d, ['metadata', 'annotations', `${KEDA}lagThreshold`], '10'),
      /unknown annotation/,
    ],
    [
      'a number instead of a string',
      (d) => setAt(d, ['metadata', 'annotations', `${KEDA}lag-threshold`], 10),
      /must be a string \(quote it\)/,
    ],
    [
      'a bad KEDA class',
      (d) => setAt(d, ['metadata', 'annotations', `${KEDA}class`], 'keda'),
      /class has an invalid value "keda"/,
    ],
    [
      'min above max',
      (d) => setAt(d, ['metadata', 'annotations', `${KEDA}min-scale`], '99'),
      /min-scale 99 exceeds max-scale/,
    ],
  ];
  it.each(cases)('reports %s', (_name, change, expected) => {
    expect(brokenSource(change).join('\n')).toMatch(expected);
  });
});
