/**
 * Environment cross-references: what a container's environment will hold in the cluster (its
 * envFrom ConfigMaps and Secrets, its env, what Knative injects), and whether that satisfies the
 * function's loadConfig: every required key present, every cluster key set, the whole parsing.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { FUNCTIONS, knownKeys, requiredKeys, type DeployedFunction } from './functions.ts';
import {
  type Bundle,
  type ManifestDoc,
  asArray,
  asObject,
  asString,
  at,
  isObject,
  nameOf,
  ofKind,
} from './load.ts';
import { repoRoot } from './schemas.ts';

/** Set by Knative in every revision's container; reserved (knative.md §1). */
export const KNATIVE_ENV = { PORT: '8080', K_SERVICE: 'svc', K_CONFIGURATION: 'cfg', K_REVISION: 'rev' };
/** Annotation on a value-less Secret listing the keys it holds in the cluster. */
export const SECRET_KEYS_ANNOTATION = 'streamforge.io/keys';
const SECRET_PLACEHOLDER = 'placeholder-secret';

export const serviceContainer = (d: ManifestDoc): unknown =>
  asArray(at(d.doc, 'spec.template.spec.containers'))[0];

function byName(b: Bundle, kind: string, name: string | undefined): ManifestDoc | undefined {
  return ofKind(b, kind).find((d) => d.doc['apiVersion'] === 'v1' && nameOf(d) === name);
}

/** Keys (with stand-in values for secrets) a ConfigMap or Secret puts into an environment. */
function keysOf(d: ManifestDoc): Record<string, string> {
  if (d.doc['kind'] === 'ConfigMap')
    return Object.fromEntries(Object.entries(asObject(d.doc['data'])).map(([k, v]) => [k, String(v)]));
  const annotations = asObject(at(d.doc, 'metadata.annotations'));
  const declared = (asString(annotations[SECRET_KEYS_ANNOTATION]) ?? '')
    .split(',')
    .map((k) => k.trim())
    .filter(Boolean);
  const keys = [
    ...Object.keys(asObject(d.doc['data'])),
    ...Object.keys(asObject(d.doc['stringData'])),
    ...declared,
  ];
  return Object.fromEntries(keys.map((k) => [k, SECRET_PLACEHOLDER]));
}

/** The environment a container gets in the cluster, and every reference that does not resolve. */
export function containerEnv(
  b: Bundle,
  container: unknown,
  opts: { knative: boolean },
): { env: Record<string, string>; problems: string[] } {
  const env: Record<string, string> = {};
  const problems: string[] = [];
  for (const from of asArray(at(container, 'envFrom'))) {
    for (const [field, kind] of [
      ['configMapRef', 'ConfigMap'],
      ['secretRef', 'Secret'],
    ] as const) {
      if (!isObject(at(from, field))) continue;
      const name = asString(at(from, `${field}.name`));
      const target = byName(b, kind, name);
      if (!target) {
        problems.push(`envFrom ${field} names ${kind} "${name}", which is not in knative/`);
        continue;
      }
      const prefix = asString(at(from, 'prefix')) ?? '';
      for (const [k, v] of Object.entries(keysOf(target))) env[prefix + k] = v;
    }
  }
  for (const e of asArray(at(container, 'env'))) {
    const name = asString(at(e, 'name')) ?? '';
    const value = at(e, 'value');
    if (typeof value === 'string') env[name] = value;
    for (const [field, kind] of [
      ['configMapKeyRef', 'ConfigMap'],
      ['secretKeyRef', 'Secret'],
    ] as const) {
      const ref = at(e, `valueFrom.${field}`);
      if (!isObject(ref)) continue;
      const target = byName(b, kind, asString(ref['name']));
      const key = asString(ref['key']) ?? '';
      const v = target ? keysOf(target)[key] : undefined;
      if (v === undefined)
        problems.push(
          `env ${name} reads key "${key}" of ${kind} "${String(ref['name'])}", which does not exist`,
        );
      else env[name] = v;
    }
  }
  if (opts.knative) Object.assign(env, KNATIVE_ENV);
  return { env, problems };
}

/** Problems of `fn`'s configuration given the environment its manifest provides. */
export function configProblems(fn: DeployedFunction, env: Record<string, string>): string[] {
  const problems: string[] = [];
  for (const k of fn.schemas.flatMap((s) => requiredKeys(s.keys)))
    if (env[k] === undefined) problems.push(`${k} is required by loadConfig but not provided`);
  for (const k of fn.clusterKeys)
    if (env[k] === undefined) problems.push(`${k} must be set in a cluster but is not provided`);
  fn.schemas.forEach((s, i) => {
    try {
      const cfg: unknown = loadConfig(s.schema, env);
      if (i === 0) problems.push(...(fn.expect?.(cfg as Record<string, unknown>) ?? []));
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      problems.push(...err.problems.map((p) => `loadConfig(${s.name}): ${p}`));
    }
  });
  return problems;
}

/** Env problems of every Knative Service: references resolve and its function's config parses. */
export function serviceEnvProblems(b: Bundle): string[] {
  return ofKind(b, 'Service', 'serving.knative.dev').flatMap((d) => {
    const { env, problems } = containerEnv(b, serviceContainer(d), { knative: true });
    const fnName = env['STREAMFORGE_FUNCTION'] ?? '';
    const fn = FUNCTIONS[fnName];
    if (!fn) problems.push(`STREAMFORGE_FUNCTION "${fnName}" is not a deployed function`);
    else problems.push(...configProblems(fn, env));
    return problems.map((p) => `${d.file} ${nameOf(d)}: ${p}`);
  });
}

/** ConfigMap keys that no function reads (a typo is otherwise silently ignored) or that Knative reserves. */
export function configMapKeyProblems(b: Bundle): string[] {
  const known = knownKeys();
  return ofKind(b, 'ConfigMap').flatMap((d) =>
    Object.keys(asObject(d.doc['data'])).flatMap((k) => {
      if (k in KNATIVE_ENV) return [`${d.file} ${nameOf(d)}: ${k} is set by Knative and reserved`];
      return known.has(k) ? [] : [`${d.file} ${nameOf(d)}: no function reads ${k}`];
    }),
  );
}

/** main.ts parses the environment with the schemas the tests assume, and reads nothing else unknown. */
export function mainTsProblems(name: string, fn: DeployedFunction, source?: string): string[] {
  const text = source ?? readFileSync(path.join(repoRoot, 'functions', name, 'main.ts'), 'utf8');
  const problems: string[] = [];
  for (const s of fn.schemas)
    if (!text.includes(`loadConfig(${s.name},`))
      problems.push(`functions/${name}/main.ts does not call loadConfig(${s.name}, …)`);
  const keys = new Set(fn.schemas.flatMap((s) => Object.keys(s.keys.shape)));
  const read = [...text.matchAll(/process\.env(?:\.(\w+)|\[['"](\w+)['"]\])/g)].map(
    (m) => m[1] ?? m[2] ?? '',
  );
  for (const k of read)
    if (!keys.has(k) && !fn.externalEnv?.includes(k))
      problems.push(`functions/${name}/main.ts reads ${k} outside its config schema`);
  return problems;
}
