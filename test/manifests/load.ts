/**
 * Loads what the manifest tests check: every YAML document under knative/ and kafka-sources/
 * (topics.yaml holds Strimzi KafkaTopic objects), the topic names, the Dockerfile and .dockerignore.
 * A Bundle is plain JSON, so a test can clone it and break one thing in memory.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot } from './schemas.ts';

export type Json = Record<string, unknown>;

export interface ManifestDoc {
  /** Repository-relative path, e.g. `knative/queue-manager.yaml`. */
  file: string;
  /** Index of the document in its file. */
  index: number;
  doc: Json;
}

export interface Bundle {
  docs: ManifestDoc[];
  /** Topic names defined in kafka-sources/topics.yaml (KafkaTopic spec.topicName or metadata.name). */
  topics: string[];
  dockerfile: string;
  dockerignore: string;
  /** YAML syntax errors and YAML 1.1/1.2 differences, one line each. */
  yamlProblems: string[];
}

export const TOPICS_FILE = 'kafka-sources/topics.yaml';

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const asObject = (v: unknown): Json => (isObject(v) ? v : {});
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? (v as unknown[]) : []);
export const asString = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
/** A value for a message: strings as they are, anything else as JSON. */
export const show = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

/** The value at a dotted path (`spec.template.spec`, `containers.0.name`), or undefined. */
export function at(v: unknown, dotted: string): unknown {
  let cur = v;
  for (const k of dotted.split('.')) cur = isObject(cur) || Array.isArray(cur) ? (cur as Json)[k] : undefined;
  return cur;
}

/** Repository-relative paths of the YAML files under `dir`, sorted. */
export function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(path.join(repoRoot, rel), { withFileTypes: true })) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (/\.ya?ml$/.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * Parses a YAML stream. Besides syntax errors it reports every value that YAML 1.1 (what the API
 * server and kubectl read) parses differently from YAML 1.2 (what these tests read), e.g. an
 * unquoted `on`, `yes` or `0777` (SOURCES.md quirk 8): such a value must be quoted.
 */
export function parseYamlStream(text: string, file: string): { docs: unknown[]; problems: string[] } {
  const problems: string[] = [];
  const v12 = parseAllDocuments(text);
  const v11 = parseAllDocuments(text, { version: '1.1' });
  const list12 = Array.isArray(v12) ? v12 : [v12];
  const list11 = Array.isArray(v11) ? v11 : [v11];
  const docs: unknown[] = [];
  list12.forEach((d, i) => {
    for (const e of d.errors) problems.push(`${file}: ${e.message.split('\n')[0]}`);
    if (d.contents === null) return;
    const js = d.toJS() as unknown;
    const js11 = list11[i]?.toJS() as unknown;
    if (JSON.stringify(js) !== JSON.stringify(js11))
      problems.push(`${file}#${i}: a value reads differently under YAML 1.1 (quote it): ${diff(js, js11)}`);
    docs.push(js);
  });
  return { docs, problems };
}

function diff(a: unknown, b: unknown, where = ''): string {
  if (isObject(a) && isObject(b)) {
    for (const k of Object.keys(a))
      if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return diff(a[k], b[k], `${where}.${k}`);
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < a.length; i++)
      if (JSON.stringify(a[i]) !== JSON.stringify(b[i])) return diff(a[i], b[i], `${where}[${i}]`);
  }
  return `${where || '.'}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`;
}

/** Reads the repository's manifests. */
export function loadBundle(): Bundle {
  const docs: ManifestDoc[] = [];
  const problems: string[] = [];
  let topics: string[] = [];
  for (const file of [...yamlFiles('knative'), ...yamlFiles('kafka-sources')]) {
    const parsed = parseYamlStream(readFileSync(path.join(repoRoot, file), 'utf8'), file);
    problems.push(...parsed.problems);
    if (file === TOPICS_FILE) {
      topics = parsed.docs
        .filter((d) => at(d, 'kind') === 'KafkaTopic')
        .flatMap((d) => asString(at(d, 'spec.topicName')) ?? asString(at(d, 'metadata.name')) ?? []);
    }
    parsed.docs.forEach((doc, index) => docs.push({ file, index, doc: asObject(doc) }));
  }
  const read = (f: string) =>
    existsSync(path.join(repoRoot, f)) ? readFileSync(path.join(repoRoot, f), 'utf8') : '';
  return {
    docs,
    topics,
    dockerfile: read('Dockerfile'),
    dockerignore: read('.dockerignore'),
    yamlProblems: problems,
  };
}

/**
 * A copy of `b` with one document changed by `change` (the tests' broken manifests). `path` keys may
 * contain dots (annotation names), so paths are arrays; `undefined` deletes the field.
 */
export function withDoc(b: Bundle, file: string, index: number, change: (doc: Json) => void): Bundle {
  const copy = structuredClone(b);
  const d = copy.docs.find((x) => x.file === file && x.index === index);
  if (!d) throw new Error(`no document ${file}#${index}`);
  change(d.doc);
  return copy;
}

/** Sets (or with `undefined` deletes) the value at `path`, creating mappings on the way. */
export function setAt(doc: Json, path: (string | number)[], value: unknown): void {
  let cur: Json = doc;
  for (const k of path.slice(0, -1)) {
    const next = (cur as Record<string | number, unknown>)[k];
    if (!isObject(next) && !Array.isArray(next)) (cur as Record<string | number, unknown>)[k] = {};
    cur = (cur as Record<string | number, unknown>)[k] as Json;
  }
  const last = path[path.length - 1] ?? '';
  if (value === undefined) delete (cur as Record<string | number, unknown>)[last];
  else (cur as Record<string | number, unknown>)[last] = value;
}

/** The documents of one kind (and apiVersion group when given). */
export function ofKind(b: Bundle, kind: string, apiGroup?: string): ManifestDoc[] {
  return b.docs.filter(
    (d) =>
      d.doc['kind'] === kind &&
      (apiGroup === undefined || String(d.doc['apiVersion']).startsWith(`${apiGroup}/`)),
  );
}

export const nameOf = (d: ManifestDoc): string => asString(at(d.doc, 'metadata.name')) ?? '';
export const where = (d: ManifestDoc): string =>
  `${d.file}#${d.index} ${String(d.doc['kind'])}/${nameOf(d) || '(template)'}`;

export const knativeServices = (b: Bundle) => ofKind(b, 'Service', 'serving.knative.dev');
export const kafkaSources = (b: Bundle) => ofKind(b, 'KafkaSource');
/** Job templates: batch/v1 Jobs under knative/jobs/ (rendered by the manager, never applied). */
export const jobTemplates = (b: Bundle) => ofKind(b, 'Job').filter((d) => d.file.startsWith('knative/jobs/'));
