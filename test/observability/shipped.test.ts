/**
 * What observability/ ships: the alert rules pass `promtool check rules` and their unit tests
 * (`promtool test rules`, cases that fire and cases that must not); the rendered files equal what
 * scripts/observability.ts renders from their sources; the Kubernetes manifests validate against
 * the upstream schemas like knative/'s do (test/manifests/schemas.ts); the dashboards are Grafana
 * JSON with one query per target; the Fluent Bit parsers read a real pino line.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { ROOT, RULES_FILE, render } from '../../scripts/observability.ts';
import { loadSchemas } from '../manifests/schemas.ts';
import { promtool } from './promtool.ts';

const K8S = 'observability/k8s';
const read = (rel: string) => readFileSync(path.join(ROOT, rel), 'utf8');

describe('alert rules', () => {
  it('pass promtool check rules', () => {
    const r = promtool(['check', 'rules', RULES_FILE], undefined, ROOT);
    expect(r.stdout).toContain('SUCCESS: 8 rules found');
    expect(r.code, r.stderr).toBe(0);
  });

  it('pass their unit tests (promtool test rules)', () => {
    const r = promtool(
      ['test', 'rules', 'streamforge-rules.test.yaml'],
      undefined,
      path.join(ROOT, 'observability/prometheus'),
    );
    expect(r.stdout + r.stderr).toContain('SUCCESS');
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('the unit tests cover every alert', () => {
    const rules = read(RULES_FILE);
    const tests = read('observability/prometheus/streamforge-rules.test.yaml');
    for (const m of rules.matchAll(/- alert: (\w+)/g)) expect(tests).toContain(`alertname: ${m[1]}`);
  });
});

describe('rendered files', () => {
  it('equal what scripts/observability.ts renders (rerun it after editing a source)', async () => {
    for (const [file, text] of await render()) expect(read(file), file).toBe(text);
  });

  it('the PrometheusRule carries exactly the rule file, and passes promtool check rules itself', () => {
    const [rule] = parseAllDocuments(read(`${K8S}/prometheus-rule.yaml`)).map(
      (d) => d.toJS() as { spec: unknown },
    );
    const [source] = parseAllDocuments(read(RULES_FILE)).map((d) => d.toJS() as object);
    expect(rule?.spec).toEqual(source);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'sf-rules-')), 'rule.json');
    writeFileSync(file, JSON.stringify(rule?.spec));
    const r = promtool(['check', 'rules', file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('dashboards: Grafana JSON, unique uids and panel ids, a query in every target', () => {
    const files = readdirSync(path.join(ROOT, 'observability/grafana')).filter((f) => f.endsWith('.json'));
    expect(files.sort()).toEqual([
      'streamforge-connector.json',
      'streamforge-live.json',
      'streamforge-loaders.json',
      'streamforge-overview.json',
    ]);
    const uids = new Set<string>();
    for (const f of files) {
      const d = JSON.parse(read(`observability/grafana/${f}`)) as {
        uid: string;
        schemaVersion: number;
        panels: { id: number; targets: { expr: string; refId: string }[] }[];
      };
      expect(uids.has(d.uid)).toBe(false);
      uids.add(d.uid);
      expect(d.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(new Set(d.panels.map((p) => p.id)).size).toBe(d.panels.length);
      for (const p of d.panels) for (const t of p.targets) expect(t.expr.trim()).not.toBe('');
    }
  });
});

describe('Kubernetes manifests (observability/k8s)', () => {
  const docs = readdirSync(path.join(ROOT, K8S))
    .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
    .flatMap((f) =>
      parseAllDocuments(read(`${K8S}/${f}`)).map((d, i) => [`${f}#${i}`, d.toJS() as object] as const),
    );

  it('the kustomization lists every file', () => {
    const k = parseAllDocuments(read(`${K8S}/kustomization.yaml`))[0]?.toJS() as { resources: string[] };
    const files = readdirSync(path.join(ROOT, K8S)).filter(
      (f) => f.endsWith('.yaml') && f !== 'kustomization.yaml',
    );
    expect([...k.resources].sort()).toEqual(files.sort());
  });

  it('has each kind it should', () => {
    const kinds = docs.map(([, d]) => `${String((d as { kind: string }).kind)}`).sort();
    expect(kinds).toEqual(['ConfigMap', 'ConfigMap', 'NetworkPolicy', 'PodMonitor', 'PrometheusRule']);
  });

  it.each(docs)('%s validates against its upstream schema', (_name, doc) => {
    expect(loadSchemas().validate(doc)).toEqual([]);
  });

  it('a misspelt field fails (the schemas are closed)', () => {
    const pm = docs.find(([n]) => n.startsWith('pod-monitor'))?.[1] as { spec: Record<string, unknown> };
    const broken = structuredClone(pm);
    broken.spec['podMetricEndpoints'] = broken.spec['podMetricsEndpoints'];
    delete broken.spec['podMetricsEndpoints'];
    expect(loadSchemas().validate(broken).join('\n')).toMatch(/podMetricEndpoints/);
  });

  it('the dashboards ConfigMap is labelled for the Grafana sidecar', () => {
    const cm = docs.find(([n]) => n.startsWith('grafana-dashboards'))?.[1] as {
      metadata: { labels: Record<string, string> };
      data: Record<string, string>;
    };
    expect(cm.metadata.labels['grafana_dashboard']).toBe('1');
    expect(Object.keys(cm.data)).toHaveLength(4);
  });
});

describe('Fluent Bit configuration', () => {
  const cm = parseAllDocuments(read(`${K8S}/fluent-bit.yaml`))[0]?.toJS() as { data: Record<string, string> };
  /** `[SECTION]` blocks of a classic-mode Fluent Bit file, each a list of key/value pairs. */
  const sections = (text: string) =>
    text
      .split(/^\s*\[/m)
      .slice(1)
      .map((block) => {
        const [head = '', ...lines] = block.split('\n');
        const pairs = lines
          .map((l) => l.trim())
          .filter((l) => l !== '' && !l.startsWith('#'))
          .map((l) => {
            const m = /^(\S+)\s+(.*)$/.exec(l);
            return [m?.[1] ?? l, m?.[2] ?? ''] as [string, string];
          });
        return {
          name: head.replace(/].*/, '').trim(),
          pairs,
          get: (k: string) => pairs.find(([key]) => key === k)?.[1],
        };
      });
  const parsers = sections(cm.data['parsers.conf'] ?? '').filter((s) => s.name === 'PARSER');
  const config = sections(cm.data['fluent-bit.conf'] ?? '');

  /** A real line: createLogger (shared/runtime/logger.ts) in a child process, as a function logs. */
  const pinoLine = () => {
    const code =
      "const { createLogger } = await import('./shared/runtime/logger.ts');" +
      "createLogger('arango-connector', 'info').child({ queue_id: 'wf-btcusdt-api_candles_1m-20240801-abc123' }).warn({ seq: 3 }, 'records dead-lettered');";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.trim();
  };

  it('cri then pino parse a real pino line into level, time, msg, fn and queue_id', () => {
    const line = pinoLine();
    const cri = parsers.find((p) => p.get('Name') === 'cri');
    const pino = parsers.find((p) => p.get('Name') === 'pino');
    expect(cri?.get('Format')).toBe('regex');
    expect(pino?.get('Format')).toBe('json');
    // Fluent Bit's regex parser is Onigmo; its (?<name>...) groups read the same in JavaScript.
    const m = new RegExp(cri?.get('Regex') ?? '').exec(`2026-08-08T12:00:00.123456789Z stdout F ${line}`);
    expect(m?.groups?.['stream']).toBe('stdout');
    const record = JSON.parse(m?.groups?.['message'] ?? '') as Record<string, unknown>;
    expect(record).toMatchObject({
      level: 40,
      fn: 'arango-connector',
      queue_id: 'wf-btcusdt-api_candles_1m-20240801-abc123',
      msg: 'records dead-lettered',
      seq: 3,
    });
    expect(typeof record['time']).toBe('number');
    // The kubernetes filter merges the `message` with the pino parser, which keeps `time`.
    const k8s = config.find((s) => s.get('Name') === 'kubernetes');
    expect(k8s?.get('Merge_Log')).toBe('On');
    expect(k8s?.get('Merge_Parser')).toBe('pino');
    expect(pino?.get('Time_Keep')).toBe('On');
    // The modify filters name the level as a person reads it.
    const named = config
      .filter((s) => s.get('Name') === 'modify')
      .map((s) => [s.get('Condition'), s.get('Add')])
      .find(([cond]) => cond === `Key_Value_Equals level ${String(record['level'])}`);
    expect(named?.[1]).toBe('level_name warn');
  });

  it('tails only the streamforge namespace, and its Loki labels are bounded', () => {
    const input = config.find((s) => s.name === 'INPUT');
    expect(input?.get('Path')).toBe('/var/log/containers/*_streamforge_*.log');
    expect(input?.get('Parser')).toBe('cri');
    const out = config.find((s) => s.name === 'OUTPUT');
    expect(out?.get('Labels')).not.toMatch(/queue_id|event_id/);
    const levels = config.filter((s) => s.get('Name') === 'modify').map((s) => s.get('Add'));
    expect(levels).toEqual(
      ['trace', 'debug', 'info', 'warn', 'error', 'fatal'].map((l) => `level_name ${l}`),
    );
  });
});
