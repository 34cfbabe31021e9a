/**
 * Rules the schemas leave to admission webhooks (SOURCES.md quirk 7, knative.md §1, §3, §4), plus
 * this project's deployment policy for every Service. Each function returns one line per problem.
 */
import { type ManifestDoc, asArray, asObject, asString, at, isObject, show } from './load.ts';
import { crdSchema } from './schemas.ts';

// knative/serving pkg/apis/serving/k8s_validation.go (reservedEnvVars, reservedPorts, reservedPaths).
const RESERVED_ENV = new Set(['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION']);
const RESERVED_PORTS = new Set([8008, 8012, 8013, 8022, 9090, 9091]);
const RESERVED_PATHS = new Set(['/', '/dev', '/dev/log', '/tmp', '/var', '/var/log']);

const KPA = 'autoscaling.knative.dev/';
const KPA_KEYS: Record<string, RegExp> = {
  class: /^(kpa|hpa)\.autoscaling\.knative\.dev$/,
  metric: /^(concurrency|rps|cpu|memory)$/,
  target: /^\d+(\.\d+)?$/,
  'target-utilization-percentage': /^\d+(\.\d+)?$/,
  'target-burst-capacity': /^-?\d+(\.\d+)?$/,
  'min-scale': /^\d+$/,
  'max-scale': /^\d+$/,
  'initial-scale': /^\d+$/,
  'activation-scale': /^\d+$/,
  window: /^\d+(ms|s|m|h)$/,
  'scale-down-delay': /^\d+(ms|s|m|h)$/,
  'scale-to-zero-pod-retention-period': /^\d+(ms|s|m|h)$/,
  'panic-window-percentage': /^\d+(\.\d+)?$/,
  'panic-threshold-percentage': /^\d+(\.\d+)?$/,
};

const KEDA = 'autoscaling.eventing.knative.dev/';
const LEGACY_KEDA = 'keda.autoscaling.knative.dev/';
const KEDA_KEYS: Record<string, RegExp> = {
  class: /^(keda\.autoscaling\.knative\.dev|disabled)$/,
  'min-scale': /^\d+$/,
  'max-scale': /^\d+$/,
  'polling-interval': /^\d+$/,
  'cooldown-period': /^\d+$/,
  'lag-threshold': /^\d+$/,
  'activation-lag-threshold': /^\d+$/,
};

/** Annotation problems under `prefix` against a table of known keys and value patterns. */
function annotationProblems(
  annotations: unknown,
  prefix: string,
  keys: Record<string, RegExp>,
  where: string,
): string[] {
  const problems: string[] = [];
  const a = asObject(annotations);
  for (const [k, v] of Object.entries(a)) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(prefix.length);
    const pattern = keys[key];
    if (!pattern) problems.push(`${where}: unknown annotation ${k}`);
    else if (typeof v !== 'string')
      problems.push(`${where}: ${k} must be a string (quote it), is ${JSON.stringify(v)}`);
    else if (!pattern.test(v)) problems.push(`${where}: ${k} has an invalid value "${v}"`);
  }
  const min = Number(a[`${prefix}min-scale`] ?? 0);
  const max = Number(a[`${prefix}max-scale`] ?? 0);
  if (max > 0 && min > max) problems.push(`${where}: ${prefix}min-scale ${min} exceeds max-scale ${max}`);
  return problems;
}

/** Fields the Knative Service CRD marks "accessible behind a feature flag" (off unless a cluster enables them). */
function featureFlagged(value: unknown, schema: unknown, where: string, out: string[]): void {
  if (!isObject(schema)) return;
  const flag = /behind a feature flag - ([\w.-]+)/.exec(asString(schema['description']) ?? '');
  if (flag) {
    out.push(`${where}: needs the Knative feature flag ${flag[1]}; manifests must run on a default install`);
    return;
  }
  if (Array.isArray(value)) value.forEach((v, i) => featureFlagged(v, schema['items'], `${where}/${i}`, out));
  else if (isObject(value))
    for (const [k, v] of Object.entries(value))
      featureFlagged(v, asObject(schema['properties'])[k], `${where}/${k}`, out);
}

/** Knative webhook rules and the project's policy for one serving.knative.dev/v1 Service. */
export function knativeServiceRules(d: ManifestDoc): string[] {
  const p: string[] = [];
  const spec = asObject(at(d.doc, 'spec.template.spec'));
  const containers = asArray(spec['containers']);
  if (containers.length !== 1)
    p.push(`spec.template.spec.containers: one container per Service, found ${containers.length}`);
  for (const c of containers) {
    const name = asString(at(c, 'name')) ?? '';
    const ports = asArray(at(c, 'ports'));
    if (ports.length > 1) p.push(`${name}: at most one container port, found ${ports.length}`);
    const port = Number(at(ports[0], 'containerPort') ?? 8080);
    if (RESERVED_PORTS.has(port)) p.push(`${name}: port ${port} is reserved by Knative`);
    for (const e of asArray(at(c, 'env'))) {
      const n = asString(at(e, 'name')) ?? '';
      if (RESERVED_ENV.has(n)) p.push(`${name}: env ${n} is reserved by Knative`);
    }
    for (const m of asArray(at(c, 'volumeMounts'))) {
      const mp = (asString(at(m, 'mountPath')) ?? '').replace(/\/+$/, '') || '/';
      if (RESERVED_PATHS.has(mp)) p.push(`${name}: volume mount path ${mp} is reserved by Knative`);
    }
    for (const [probe, path] of [
      ['readinessProbe', '/readyz'],
      ['livenessProbe', '/healthz'],
    ] as const) {
      if (at(c, `${probe}.httpGet.path`) !== path) p.push(`${name}: ${probe} must GET ${path}`);
      const probePort = at(c, `${probe}.httpGet.port`);
      if (probePort !== undefined && Number(probePort) !== port)
        p.push(`${name}: ${probe} port ${show(probePort)} is not the container port ${port}`);
    }
    for (const r of ['requests.cpu', 'requests.memory', 'limits.cpu', 'limits.memory'])
      if (at(c, `resources.${r}`) === undefined) p.push(`${name}: resources.${r} is not set`);
    if (at(c, 'securityContext.runAsNonRoot') !== true)
      p.push(`${name}: securityContext.runAsNonRoot must be true`);
    if (at(c, 'securityContext.allowPrivilegeEscalation') !== false)
      p.push(`${name}: securityContext.allowPrivilegeEscalation must be false`);
  }
  const cc = spec['containerConcurrency'];
  const timeout = spec['timeoutSeconds'];
  if (typeof cc !== 'number') p.push('containerConcurrency must be set');
  if (typeof timeout !== 'number') p.push('timeoutSeconds must be set');
  else if (timeout > 600) p.push(`timeoutSeconds ${timeout} exceeds Knative's default maximum of 600`);
  const annotations = at(d.doc, 'spec.template.metadata.annotations');
  p.push(...annotationProblems(annotations, KPA, KPA_KEYS, 'spec.template.metadata.annotations'));
  for (const k of ['class', 'min-scale', 'max-scale', 'target'])
    if (asObject(annotations)[KPA + k] === undefined)
      p.push(`spec.template.metadata.annotations: ${KPA}${k} is not set`);
  const target = Number(asObject(annotations)[`${KPA}target`]);
  if (typeof cc === 'number' && cc > 0 && target > cc)
    p.push(`${KPA}target ${target} exceeds containerConcurrency ${cc}: the soft target would never apply`);
  for (const k of Object.keys(asObject(at(d.doc, 'metadata.annotations'))))
    if (k.startsWith(KPA))
      p.push(`metadata.annotations: ${k} is ignored on the Service; it belongs on spec.template`);
  featureFlagged(
    d.doc['spec'],
    at(crdSchema('serving.knative.dev/v1', 'Service'), 'properties.spec'),
    '/spec',
    p,
  );
  return p.map((m) => `${d.file}: ${m}`);
}

/** KafkaSource webhook rules (knative.md §3) and KEDA annotations (§4). */
export function kafkaSourceRules(d: ManifestDoc): string[] {
  const p: string[] = [];
  const spec = asObject(d.doc['spec']);
  const oneOf = (field: string, value: unknown, allowed: string[]) => {
    if (value !== undefined && !allowed.includes(show(value)))
      p.push(`spec.${field} "${show(value)}" must be one of ${allowed.join(', ')}`);
  };
  oneOf('initialOffset', spec['initialOffset'], ['earliest', 'latest']);
  oneOf('ordering', spec['ordering'], ['ordered', 'unordered']);
  oneOf('delivery.backoffPolicy', at(spec, 'delivery.backoffPolicy'), ['exponential', 'linear']);
  const delay = at(spec, 'delivery.backoffDelay');
  if (delay !== undefined && !/^P(?!$)(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$/.test(show(delay)))
    p.push(`spec.delivery.backoffDelay "${show(delay)}" is not an ISO-8601 duration`);
  const annotations = asObject(at(d.doc, 'metadata.annotations'));
  for (const k of Object.keys(annotations))
    if (k.startsWith(LEGACY_KEDA))
      p.push(`metadata.annotations: ${k} is a legacy key; use ${KEDA}${k.slice(LEGACY_KEDA.length)}`);
  p.push(...annotationProblems(annotations, KEDA, KEDA_KEYS, 'metadata.annotations'));
  return p.map((m) => `${d.file}: ${m}`);
}
