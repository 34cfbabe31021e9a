/**
 * Loads and validates the topology directory (`kafka-sources/`): one KafkaSource per consuming
 * function (`<function>.yaml`, metadata.name = the function) and `topics.yaml` (Strimzi KafkaTopic
 * objects, the one definition of the topics, applied in a cluster and created locally).
 * `kustomization.yaml` is kustomize's, not a source. Every problem in every file is reported at
 * once, each with its file and path.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import type { TopicSpec } from '../bus/event-bus.ts';
import { KafkaSource, KafkaTopic } from './schema.ts';

/** Name of the topic definitions file inside the topology directory. */
export const TOPICS_FILE = 'topics.yaml';
/** kustomize's file in the topology directory (`kubectl apply -k kafka-sources/`). */
export const KUSTOMIZATION_FILE = 'kustomization.yaml';

/** Invalid topology: `problems` holds one line per problem, `<file>: <path>: <message>`. */
export class TopologyError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid topology:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'TopologyError';
  }
}

export interface LoadedSource {
  /** File the source came from, relative to the topology directory. */
  file: string;
  source: KafkaSource;
}

export interface Topology {
  dir: string;
  sources: LoadedSource[];
  topics: TopicSpec[];
}

function issuesOf(file: string, err: z.ZodError): string[] {
  return err.issues.map(
    (i) => `${file}: ${i.path.length > 0 ? i.path.join('.') : '(document)'}: ${i.message}`,
  );
}

/** Parses a YAML stream into its non-empty documents; syntax errors carry their line and column. */
function parseYamlDocs(text: string, file: string): unknown[] {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const problems: string[] = [];
  for (const doc of list) {
    for (const e of doc.errors) {
      const at = e.linePos?.[0];
      problems.push(
        `${file}: line ${at?.line ?? '?'}, column ${at?.col ?? '?'}: ${e.message.split('\n')[0]}`,
      );
    }
  }
  if (problems.length > 0) throw new TopologyError(problems);
  return list.filter((d) => d.contents !== null).map((d) => d.toJS() as unknown);
}

/** Parses one YAML document; syntax errors carry their line and column. */
function parseYaml(text: string, file: string): unknown {
  const docs = parseYamlDocs(text, file);
  if (docs.length !== 1) {
    throw new TopologyError([`${file}: expected exactly one YAML document, found ${docs.length}`]);
  }
  return docs[0];
}

/** Parses and validates one KafkaSource manifest. */
export function parseKafkaSource(text: string, file: string): KafkaSource {
  const result = KafkaSource.safeParse(parseYaml(text, file));
  if (!result.success) throw new TopologyError(issuesOf(file, result.error));
  return result.data;
}

/**
 * Parses `topics.yaml` (one Strimzi KafkaTopic per YAML document) into bus topic specs: the topic
 * is `spec.topicName` or else `metadata.name`, as the Topic Operator reads it.
 */
export function parseTopics(text: string, file: string): TopicSpec[] {
  const docs = parseYamlDocs(text, file);
  if (docs.length === 0) throw new TopologyError([`${file}: (document): no KafkaTopic defined`]);
  const seen = new Set<string>();
  const problems: string[] = [];
  const specs: TopicSpec[] = [];
  docs.forEach((doc, i) => {
    // Each line says which document: `topics.yaml: KafkaTopic binance-kline (#3): spec.partitions: …`.
    const name = (doc as { metadata?: { name?: unknown } } | null)?.metadata?.name;
    const which = `KafkaTopic ${typeof name === 'string' ? `${name} ` : ''}(#${i})`;
    const result = KafkaTopic.safeParse(doc);
    if (!result.success) {
      problems.push(
        ...issuesOf(file, result.error).map((p) => p.replace(`${file}: `, `${file}: ${which}: `)),
      );
      return;
    }
    const t = result.data;
    const topic = t.spec.topicName ?? t.metadata.name;
    if (seen.has(topic)) problems.push(`${file}: ${which}: topic "${topic}" is defined twice`);
    seen.add(topic);
    specs.push({ topic, partitions: t.spec.partitions, config: { ...t.spec.config } });
  });
  if (problems.length > 0) throw new TopologyError(problems);
  return specs;
}

function collect<T>(problems: string[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (err instanceof TopologyError) {
      problems.push(...err.problems);
      return undefined;
    }
    throw err;
  }
}

/**
 * Reads every `*.yaml` in `dir`. Beyond each file's schema it checks that a source's file is
 * named after it, that names are unique, and that every topic a source reads is defined.
 * Throws TopologyError listing every problem.
 */
export async function loadTopology(dir: string): Promise<Topology> {
  const names = (await readdir(dir))
    .filter((f) => (f.endsWith('.yaml') || f.endsWith('.yml')) && f !== KUSTOMIZATION_FILE)
    .sort();
  const problems: string[] = [];
  if (!names.includes(TOPICS_FILE)) problems.push(`${TOPICS_FILE}: missing from ${dir}`);

  let topics: TopicSpec[] = [];
  const sources: LoadedSource[] = [];
  for (const file of names) {
    const text = await readFile(path.join(dir, file), 'utf8');
    if (file === TOPICS_FILE) {
      topics = collect(problems, () => parseTopics(text, file)) ?? [];
      continue;
    }
    const source = collect(problems, () => parseKafkaSource(text, file));
    if (source !== undefined) sources.push({ file, source });
  }

  const defined = new Set(topics.map((t) => t.topic));
  const byName = new Map<string, string>();
  for (const { file, source } of sources) {
    const name = source.metadata.name;
    if (path.parse(file).name !== name)
      problems.push(`${file}: metadata.name "${name}" must match the file name`);
    const other = byName.get(name);
    if (other !== undefined) problems.push(`${file}: KafkaSource "${name}" is also defined in ${other}`);
    byName.set(name, file);
    if (topics.length > 0) {
      source.spec.topics.forEach((t, i) => {
        if (!defined.has(t))
          problems.push(`${file}: spec.topics.${i}: topic "${t}" is not defined in ${TOPICS_FILE}`);
      });
    }
  }
  if (problems.length > 0) throw new TopologyError(problems);
  return { dir, sources, topics };
}
