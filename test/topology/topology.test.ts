import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { RECORD_KINDS } from '../../shared/contracts/records.ts';
import { Topics } from '../../shared/contracts/events.ts';
import { deliveryPolicy, isRetryableStatus, parseIsoDuration } from '../../shared/topology/delivery.ts';
import { loadTopology, parseTopics, TopologyError } from '../../shared/topology/load.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SOURCES_DIR = path.join(repoRoot, 'kafka-sources');

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A copy of kafka-sources/ with one file rewritten. */
async function brokenCopy(file: string, edit: (text: string) => string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'sf-topology-'));
  dirs.push(dir);
  await cp(SOURCES_DIR, dir, { recursive: true });
  const target = path.join(dir, file);
  const before = await readFile(target, 'utf8').catch(() => '');
  const after = edit(before);
  expect(after).not.toBe(before); // the edit must really break something
  await writeFile(target, after);
  return dir;
}

async function problemsOf(dir: string): Promise<string[]> {
  try {
    await loadTopology(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(TopologyError);
    return (err as TopologyError).problems;
  }
  throw new Error('expected the topology to be rejected');
}

describe('kafka-sources/ as shipped', () => {
  it('has one ordered KafkaSource per consuming function, sinking to its own Service', async () => {
    const t = await loadTopology(SOURCES_DIR);
    const byName = new Map(t.sources.map((s) => [s.source.metadata.name, s.source]));
    expect([...byName.keys()].sort()).toEqual([
      'arango-connector',
      'graph-builder',
      'loader-ws',
      'queue-manager',
    ]);
    for (const [name, s] of byName) {
      expect(s.spec.sink.ref).toMatchObject({ apiVersion: 'serving.knative.dev/v1', kind: 'Service', name });
      expect(s.spec.ordering).toBe('ordered');
      // loader-ws and graph-builder must not replay old start commands on a new group.
      expect(s.spec.initialOffset).toBe(
        ['loader-ws', 'graph-builder'].includes(name) ? 'latest' : 'earliest',
      );
      expect(s.spec.consumerGroup).toBe(name);
      expect(s.spec.delivery?.deadLetterSink?.ref?.kind).toBe('Service');
      expect(s.metadata.annotations?.['autoscaling.eventing.knative.dev/class']).toBe(
        'keda.autoscaling.knative.dev',
      );
      for (const key of ['min-scale', 'max-scale', 'lag-threshold', 'polling-interval', 'cooldown-period']) {
        expect(typeof s.metadata.annotations?.[`autoscaling.eventing.knative.dev/${key}`]).toBe('string');
      }
    }
  });

  it('reads every data topic and queue-events into the connector, queue-events into the manager', async () => {
    const t = await loadTopology(SOURCES_DIR);
    const topicsOf = (n: string) => t.sources.find((s) => s.source.metadata.name === n)?.source.spec.topics;
    expect(topicsOf('arango-connector')?.sort()).toEqual(
      [...RECORD_KINDS.map((k) => Topics.data(k)), Topics.events].sort(),
    );
    expect(topicsOf('queue-manager')).toEqual([Topics.events]);
    expect(topicsOf('loader-ws')).toEqual([Topics.control]);
  });

  it('defines every platform topic with partitions, retention and cleanup policy', async () => {
    const t = await loadTopology(SOURCES_DIR);
    const names = t.topics.map((x) => x.topic);
    for (const topic of [
      Topics.control,
      Topics.events,
      Topics.deadLetter,
      ...RECORD_KINDS.map((k) => Topics.data(k)),
    ]) {
      expect(names).toContain(topic);
    }
    for (const spec of t.topics) {
      expect(spec.partitions).toBeGreaterThan(0);
      expect(spec.config?.['cleanup.policy']).toBe('delete');
      expect(Number(spec.config?.['retention.ms'])).toBeGreaterThan(0);
    }
    expect(t.topics.find((x) => x.topic === Topics.deadLetter)?.config?.['retention.ms']).toBe('2592000000');
  });
});

describe('broken topology files are rejected with a clear message', () => {
  const cases: [string, string, (s: string) => string, RegExp][] = [
    [
      'YAML syntax',
      'queue-manager.yaml',
      (s) => s.replace('  topics:\n    - queue-events', '  topics: [queue-events\n'),
      /queue-manager\.yaml: line \d+, column \d+/,
    ],
    [
      'unquoted annotation number',
      'queue-manager.yaml',
      (s) => s.replace("max-scale: '3'", 'max-scale: 3'),
      /annotations.*quote numbers/,
    ],
    [
      'non-numeric scale',
      'queue-manager.yaml',
      (s) => s.replace("lag-threshold: '50'", "lag-threshold: 'lots'"),
      /lag-threshold: must be a whole number/,
    ],
    [
      'max below min',
      'queue-manager.yaml',
      (s) => s.replace("max-scale: '3'", "max-scale: '0'"),
      /max-scale is below min-scale/,
    ],
    [
      'misspelt spec field',
      'queue-manager.yaml',
      (s) => s.replace('consumerGroup:', 'consumerGroups:'),
      /spec: Unrecognized key: "consumerGroups"/,
    ],
    [
      'unknown initialOffset',
      'queue-manager.yaml',
      (s) => s.replace('initialOffset: earliest', 'initialOffset: oldest'),
      /spec\.initialOffset/,
    ],
    [
      'unknown ordering',
      'queue-manager.yaml',
      (s) => s.replace('ordering: ordered', 'ordering: fifo'),
      /spec\.ordering/,
    ],
    [
      'non-ISO backoffDelay',
      'queue-manager.yaml',
      (s) => s.replace('backoffDelay: PT0.2S', 'backoffDelay: 200ms'),
      /backoffDelay must be an ISO-8601 duration/,
    ],
    [
      'retry as text',
      'queue-manager.yaml',
      (s) => s.replace('retry: 8', "retry: 'eight'"),
      /spec\.delivery\.retry/,
    ],
    [
      'wrong kind',
      'queue-manager.yaml',
      (s) => s.replace('kind: KafkaSource', 'kind: KafkaSink'),
      /kind must be "KafkaSource"/,
    ],
    [
      'sink without ref or uri',
      'queue-manager.yaml',
      (s) => s.replace(/ {2}sink:\n(.|\n)*$/, '  sink: {}\n'),
      /spec\.sink: a destination needs `ref` or `uri`/,
    ],
    [
      'topic not defined',
      'queue-manager.yaml',
      (s) => s.replace('    - queue-events\n  consumerGroup', '    - queue-evnts\n  consumerGroup'),
      /topic "queue-evnts" is not defined in topics\.yaml/,
    ],
    [
      'name not matching the file',
      'queue-manager.yaml',
      (s) => s.replace('name: queue-manager\n  labels', 'name: manager\n  labels'),
      /metadata\.name "manager" must match the file name/,
    ],
    [
      'two documents in one file',
      'queue-manager.yaml',
      (s) => `${s}\n---\n${s}`,
      /expected exactly one YAML document, found 2/,
    ],
    [
      'bad cleanup policy',
      'topics.yaml',
      (s) => s.replace('    cleanup.policy: delete', '    cleanup.policy: remove'),
      /cleanup\.policy: must be "delete", "compact" or both/,
    ],
    [
      'unquoted retention',
      'topics.yaml',
      (s) => s.replace("retention.ms: '604800000'", 'retention.ms: 604800000'),
      /quote numbers/,
    ],
    [
      'duplicate topic',
      'topics.yaml',
      (s) => s.replace('  name: binance-trade\n', '  name: binance-kline\n'),
      /topic "binance-kline" is defined twice/,
    ],
  ];

  it.each(cases)('%s', async (_label, file, edit, expected) => {
    const problems = await problemsOf(await brokenCopy(file, edit));
    expect(problems.join('\n')).toMatch(expected);
    // Every line names its file, so a person knows where to look.
    for (const p of problems) expect(p).toMatch(/^[\w.-]+\.yaml: /);
  });

  it('reports the problems of every file at once', async () => {
    const dir = await brokenCopy('queue-manager.yaml', (s) =>
      s.replace('ordering: ordered', 'ordering: fifo'),
    );
    await writeFile(
      path.join(dir, 'arango-connector.yaml'),
      (await readFile(path.join(dir, 'arango-connector.yaml'), 'utf8')).replace('retry: 8', 'retry: -1'),
    );
    const problems = await problemsOf(dir);
    expect(problems.some((p) => p.startsWith('queue-manager.yaml: spec.ordering'))).toBe(true);
    expect(problems.some((p) => p.startsWith('arango-connector.yaml: spec.delivery.retry'))).toBe(true);
  });
});

describe('topics.yaml (Strimzi KafkaTopic objects)', () => {
  const topic = (name: string, spec: string) =>
    `apiVersion: kafka.strimzi.io/v1\nkind: KafkaTopic\nmetadata:\n  name: ${name}\n  labels:\n    strimzi.io/cluster: c\nspec:\n${spec}`;

  it('reads one topic per document; spec.topicName wins over metadata.name', () => {
    const specs = parseTopics(
      `${topic('a', "  partitions: 4\n  config:\n    retention.ms: '1000'\n")}---\n${topic('b-x', '  topicName: b_x\n  partitions: 1\n  replicas: 3\n')}`,
      'topics.yaml',
    );
    expect(specs).toEqual([
      { topic: 'a', partitions: 4, config: { 'retention.ms': '1000' } },
      { topic: 'b_x', partitions: 1, config: {} },
    ]);
  });

  it('requires partitions and the KafkaTopic kind, naming the document', () => {
    expect(() => parseTopics(topic('a', '  replicas: 1\n'), 'topics.yaml')).toThrow(
      /topics\.yaml: KafkaTopic a \(#0\): spec\.partitions/,
    );
    expect(() =>
      parseTopics(topic('a', '  partitions: 1\n').replace('KafkaTopic', 'KafkaTopics'), 'topics.yaml'),
    ).toThrow(/kind/);
  });
});

describe('delivery policy (knative.md §3)', () => {
  it.each([
    ['PT0.5S', 500],
    ['PT2S', 2000],
    ['PT1M30S', 90_000],
    ['PT1H', 3_600_000],
    ['P1D', 86_400_000],
    ['P1DT0.25S', 86_400_250],
  ])('parses %s as %i ms', (text, ms) => {
    expect(parseIsoDuration(text)).toBe(ms);
  });

  it.each(['500ms', 'P', 'PT', '0.5S', 'PT-1S'])('rejects %s', (text) => {
    expect(() => parseIsoDuration(text)).toThrow(/ISO-8601/);
  });

  it('waits delay×2ⁿ when exponential (the default), delay×n when linear, nothing without a delay', () => {
    const exp = deliveryPolicy({ retry: 3, backoffDelay: 'PT0.1S' });
    expect([1, 2, 3].map((n) => exp.backoffMs(n))).toEqual([200, 400, 800]);
    const lin = deliveryPolicy({ retry: 3, backoffPolicy: 'linear', backoffDelay: 'PT0.1S' });
    expect([1, 2, 3].map((n) => lin.backoffMs(n))).toEqual([100, 200, 300]);
    const none = deliveryPolicy({ retry: 2 });
    expect([none.retries, none.backoffMs(1), none.backoffMs(2)]).toEqual([2, 0, 0]);
    expect(deliveryPolicy(undefined).retries).toBe(0);
  });

  it('retries 5xx, 404, 408, 409 and 429 only', () => {
    const retried = [500, 502, 503, 504, 404, 408, 409, 429];
    const final = [300, 301, 400, 401, 403, 410, 413, 422];
    for (const s of retried) expect(isRetryableStatus(s), String(s)).toBe(true);
    for (const s of final) expect(isRetryableStatus(s), String(s)).toBe(false);
  });
});
