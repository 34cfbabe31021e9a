/**
 * Cross-references between the manifests, the code and the image: sinks and topics of the
 * KafkaSources, RBAC, the kustomization, the image allow-list, and what the image must contain.
 * Each function returns one line per problem (empty = consistent).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { JOB_TARGETS } from '../../functions/queue-manager/commands.ts';
import { ConfigError } from '../../shared/runtime/config.ts';
import { FUNCTIONS } from './functions.ts';
import { containerEnv, serviceContainer } from './env-refs.ts';
import {
  type Bundle,
  asArray,
  asObject,
  asString,
  at,
  jobTemplates,
  kafkaSources,
  knativeServices,
  nameOf,
  ofKind,
  yamlFiles,
} from './load.ts';
import { managerConfig } from './render.ts';
import { repoRoot } from './schemas.ts';

const exists = (rel: string) => existsSync(path.join(repoRoot, rel));

const VISIBILITY = 'networking.knative.dev/visibility';

/**
 * Every sink and dead-letter sink names a Knative Service in knative/ (same namespace), and that
 * Service is cluster-local: CloudEvent intake takes no token (a KafkaSource cannot send one).
 */
export function sinkProblems(b: Bundle): string[] {
  const services = new Map(knativeServices(b).map((d) => [nameOf(d), d]));
  const sinks = new Set<string>();
  const p = kafkaSources(b).flatMap((d) =>
    ['spec.sink', 'spec.delivery.deadLetterSink'].flatMap((field) => {
      const dest = at(d.doc, field);
      if (dest === undefined && field !== 'spec.sink') return [];
      const ref = asObject(at(dest, 'ref'));
      const want = `${d.file}: ${field}.ref must name a serving.knative.dev/v1 Service in knative/`;
      if (ref['apiVersion'] !== 'serving.knative.dev/v1' || ref['kind'] !== 'Service') return [want];
      if (ref['namespace'] !== undefined) return [`${d.file}: ${field}.ref must not name a namespace`];
      const name = asString(ref['name']) ?? '';
      sinks.add(name);
      return services.has(name)
        ? []
        : [`${d.file}: ${field}.ref names Service "${name}", which is not in knative/`];
    }),
  );
  for (const name of sinks) {
    const svc = services.get(name);
    if (svc && asObject(at(svc.doc, 'metadata.labels'))[VISIBILITY] !== 'cluster-local')
      p.push(
        `${svc.file}: ${name} receives KafkaSource events, so it must be labelled ${VISIBILITY}: cluster-local`,
      );
  }
  return p;
}

/** Topics are defined, consumer groups are distinct, and bootstrapServers is the functions' Kafka. */
export function topicProblems(b: Bundle): string[] {
  const defined = new Set(b.topics);
  const groups = new Map<string, string>();
  const brokers = (managerKafka(b) ?? '').split(',').filter(Boolean);
  return kafkaSources(b).flatMap((d) => {
    const p = asArray(at(d.doc, 'spec.topics'))
      .map(String)
      .filter((t) => !defined.has(t))
      .map((t) => `${d.file}: topic "${t}" is not defined in kafka-sources/topics.yaml`);
    const group = asString(at(d.doc, 'spec.consumerGroup'));
    if (!group)
      p.push(`${d.file}: spec.consumerGroup must be set (the default is a random, unchangeable name)`);
    else if (groups.has(group))
      p.push(`${d.file}: consumerGroup "${group}" is also used by ${groups.get(group)}`);
    else groups.set(group, d.file);
    const servers = asArray(at(d.doc, 'spec.bootstrapServers')).map(String);
    if (JSON.stringify(servers) !== JSON.stringify(brokers))
      p.push(
        `${d.file}: bootstrapServers ${servers.join(',')} differ from KAFKA_BROKERS ${brokers.join(',')}`,
      );
    return p;
  });
}

function managerKafka(b: Bundle): string | undefined {
  const svc = knativeServices(b).find((d) => nameOf(d) === 'queue-manager');
  return svc ? containerEnv(b, serviceContainer(svc), { knative: true }).env['KAFKA_BROKERS'] : undefined;
}

/** Each Service runs the deployed function of its own name, whose entrypoint exists. */
export function serviceFunctionProblems(b: Bundle): string[] {
  const p: string[] = [];
  const names = new Set<string>();
  for (const d of knativeServices(b)) {
    const fn = containerEnv(b, serviceContainer(d), { knative: true }).env['STREAMFORGE_FUNCTION'];
    names.add(nameOf(d));
    if (fn !== nameOf(d))
      p.push(`${d.file}: STREAMFORGE_FUNCTION "${String(fn)}" differs from the Service name`);
    if (!exists(`functions/${String(fn)}/main.ts`))
      p.push(`${d.file}: functions/${String(fn)}/main.ts does not exist`);
  }
  for (const [name, fn] of Object.entries(FUNCTIONS))
    if (fn.runsAs === 'service' && !names.has(name)) p.push(`knative/: no Service for ${name}`);
  return p;
}

/** Jobs only in the manager's namespace and with only what k8s-launcher.ts calls; no wildcards. */
export function rbacProblems(b: Bundle, launcherSource?: string): string[] {
  const p: string[] = [];
  const accounts = new Set(ofKind(b, 'ServiceAccount').map(nameOf));
  const roles = new Map(ofKind(b, 'Role').map((d) => [nameOf(d), d]));
  for (const d of knativeServices(b)) {
    const sa = asString(at(d.doc, 'spec.template.spec.serviceAccountName'));
    if (sa !== undefined && !accounts.has(sa))
      p.push(`${d.file}: serviceAccountName "${sa}" is not a ServiceAccount in knative/`);
  }
  for (const d of ofKind(b, 'RoleBinding')) {
    if (at(d.doc, 'roleRef.kind') !== 'Role' || !roles.has(asString(at(d.doc, 'roleRef.name')) ?? ''))
      p.push(`${d.file}: roleRef must name a Role in knative/`);
    for (const s of asArray(d.doc['subjects']))
      if (at(s, 'kind') !== 'ServiceAccount' || !accounts.has(asString(at(s, 'name')) ?? ''))
        p.push(`${d.file}: subject ${JSON.stringify(s)} is not a ServiceAccount in knative/`);
  }
  const granted = new Set<string>();
  for (const d of roles.values())
    for (const r of asArray(d.doc['rules'])) {
      const lists = ['apiGroups', 'resources', 'verbs'].map((k) => asArray(at(r, k)).map(String));
      if (lists.some((l) => l.includes('*'))) p.push(`${d.file}: Role ${nameOf(d)} grants a wildcard`);
      const [groups = [], resources = [], verbs = []] = lists;
      for (const g of groups)
        for (const res of resources) for (const v of verbs) granted.add(`${g}/${res}:${v}`);
    }
  const src = launcherSource ?? readFileSync(path.join(repoRoot, 'shared/jobs/k8s-launcher.ts'), 'utf8');
  const VERB: Record<string, string> = {
    create: 'create',
    read: 'get',
    list: 'list',
    delete: 'delete',
    patch: 'patch',
    replace: 'update',
  };
  for (const m of src.matchAll(/\.(create|read|list|delete|patch|replace)NamespacedJob\b/g)) {
    const verb = VERB[m[1] ?? ''] ?? '';
    if (!granted.has(`batch/jobs:${verb}`))
      p.push(`shared/jobs/k8s-launcher.ts calls ${m[0].slice(1)}, but no Role grants batch jobs "${verb}"`);
  }
  // The launcher watches /apis/batch/v1/namespaces/<ns>/jobs for exits.
  if (/new Watch\(/.test(src) && !granted.has('batch/jobs:watch'))
    p.push('shared/jobs/k8s-launcher.ts watches Jobs, but no Role grants batch jobs "watch"');
  return p;
}

/** `kubectl apply -k knative/` applies every manifest outside jobs/, each once, into JOB_NAMESPACE. */
export function kustomizationProblems(b: Bundle): string[] {
  const k = ofKind(b, 'Kustomization')[0];
  if (!k) return ['knative/kustomization.yaml is missing'];
  const p: string[] = [];
  if (k.doc['apiVersion'] !== 'kustomize.config.k8s.io/v1beta1')
    p.push(`${k.file}: apiVersion must be kustomize.config.k8s.io/v1beta1`);
  const allowed = [
    'apiVersion',
    'kind',
    'namespace',
    'labels',
    'commonAnnotations',
    'resources',
    'images',
    'patches',
    'configMapGenerator',
    'secretGenerator',
    'generatorOptions',
  ];
  for (const key of Object.keys(k.doc)) if (!allowed.includes(key)) p.push(`${k.file}: unknown field ${key}`);
  const listed = asArray(k.doc['resources']).map((r) => `knative/${String(r)}`);
  const seen = new Set<string>();
  for (const r of listed) {
    if (seen.has(r)) p.push(`${k.file}: ${r} is listed twice`);
    seen.add(r);
    if (!exists(r)) p.push(`${k.file}: ${r} does not exist`);
    if (r.startsWith('knative/jobs/'))
      p.push(`${k.file}: ${r} is a Job template (rendered by the manager), not a resource`);
  }
  for (const f of yamlFiles('knative'))
    if (f !== k.file && !f.startsWith('knative/jobs/') && !seen.has(f))
      p.push(`${k.file}: ${f} is not listed in resources`);
  for (const d of b.docs)
    if (d.file.startsWith('knative/') && !d.file.startsWith('knative/jobs/') && d !== k && !nameOf(d))
      p.push(`${d.file}: an applied manifest needs metadata.name`);
  try {
    const ns = managerConfig(b).JOB_NAMESPACE;
    if (k.doc['namespace'] !== ns)
      p.push(`${k.file}: namespace "${String(k.doc['namespace'])}" differs from JOB_NAMESPACE "${ns}"`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
  }
  return p;
}

const PINNED = /^[\w.-]+(:\d+)?(\/[\w.-]+)+(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$/;

/** JOB_IMAGES parses and names runnable Job targets; Services run an allowed, pinned image. */
export function imageProblems(b: Bundle): string[] {
  let images: Record<string, string>;
  try {
    images = managerConfig(b).JOB_IMAGES;
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((m) => `queue-manager config: ${m}`);
    throw err;
  }
  const p: string[] = [];
  const allowed = new Set(Object.values(images));
  for (const [target, image] of Object.entries(images)) {
    if (!JOB_TARGETS.has(target)) p.push(`JOB_IMAGES: ${target} is not a Job target of the manager`);
    if (!exists(`functions/${target}/main.ts`))
      p.push(`JOB_IMAGES: ${target} has no functions/${target}/main.ts`);
    if (!PINNED.test(image) || image.endsWith(':latest'))
      p.push(`JOB_IMAGES: ${image} is not a pinned registry image`);
  }
  const used = [...knativeServices(b), ...jobTemplates(b)].flatMap((d) =>
    asArray(at(d.doc, 'spec.template.spec.containers'))
      .flatMap((c) => asString(at(c, 'image')) ?? [])
      .map((i) => [d.file, i]),
  );
  for (const [file, image] of used)
    if (!allowed.has(image ?? ''))
      p.push(`${file}: image ${image} is not in the manager's allow-list (JOB_IMAGES)`);
  return p;
}
