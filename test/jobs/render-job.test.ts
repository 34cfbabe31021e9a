import { beforeAll, describe, expect, it } from 'vitest';
import type { ValidateFunction } from 'ajv';
import { jobName, renderJob } from '../../shared/jobs/render-job.ts';
import { IMAGE, command, jobValidator, template } from './fixtures.ts';

type Container = {
  name: string;
  image?: string;
  args?: string[];
  env?: { name: string; value?: string }[];
} & Record<string, unknown>;

describe('renderJob', () => {
  let validate: ValidateFunction;
  beforeAll(() => {
    validate = jobValidator();
  });

  it('renders a batch/v1 Job that validates against the Kubernetes 1.35 schema', () => {
    const job = renderJob(
      template(),
      { command: command(), image: IMAGE, env: { BINANCE_API_URL: 'http://sim:9000' } },
      'streamforge',
    );
    const ok = validate(job);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    expect(job).toMatchObject({ apiVersion: 'batch/v1', kind: 'Job' });
    expect(job.metadata).toMatchObject({
      name: 'wf-btcusdt-api-candles-5m-20240801-a1b2c3-a1',
      namespace: 'streamforge',
      labels: {
        'app.kubernetes.io/part-of': 'streamforge',
        'streamforge.io/queue-id': 'wf-btcusdt-api_candles_5m-20240801-a1b2c3',
        'streamforge.io/target': 'loader-api',
        'streamforge.io/attempt': '1',
      },
    });
    expect(job.spec.template.metadata?.labels).toMatchObject({
      'streamforge.io/queue-id': 'wf-btcusdt-api_candles_5m-20240801-a1b2c3',
    });
    expect(job.spec).toMatchObject({ backoffLimit: 0, ttlSecondsAfterFinished: 3600 });
    const pod = job.spec.template.spec as {
      securityContext: Record<string, unknown>;
      containers: Container[];
    };
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true });
    const c = pod.containers[0]!;
    expect(c.image).toBe(IMAGE);
    expect(c.args).toEqual(['functions/loader-api/main.ts']);
    expect(c['resources']).toMatchObject({ requests: { cpu: '250m' }, limits: { memory: '512Mi' } });
    expect(c['envFrom']).toEqual(expect.arrayContaining([{ configMapRef: { name: 'streamforge-config' } }]));
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value]));
    expect(JSON.parse(env['STREAMFORGE_COMMAND'] ?? '')).toEqual(command());
    expect(env['BINANCE_API_URL']).toBe('http://sim:9000');
  });

  it('the validator catches a misspelt field (the closed schema works)', () => {
    const job = renderJob(template(), { command: command(), image: IMAGE }, 'streamforge');
    (job.spec.template.spec.containers[0] as Container)['imagePullPolcy'] = 'Always';
    expect(validate(job)).toBe(false);
  });

  it('leaves the template untouched', () => {
    const t = template();
    const before = JSON.stringify(t);
    renderJob(t, { command: command(), image: IMAGE }, 'ns');
    expect(JSON.stringify(t)).toBe(before);
  });

  it('refuses to render without an image', () => {
    expect(() => renderJob(template(), { command: command(), image: '' }, 'ns')).toThrow(/no image/);
  });
});

describe('jobName', () => {
  const DNS = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
  it.each([
    ['wf-btcusdt-api_candles_5m-20240801-a1b2c3', 1],
    ['wf-abcdefghij0123456789-bulk_candles_15m-20240801-a1b2c3', 99_999],
    ['wf-btcusdt-api_candles_1M-20240801-a1b2c3', 2],
    ['wf-' + 'x'.repeat(20) + '-' + 'y_'.repeat(30) + '-20240801-a1b2c3', 3],
  ])('%s attempt %i is a DNS-1123 label of at most 63 characters', (qid, attempt) => {
    const name = jobName(qid, attempt);
    expect(name.length).toBeLessThanOrEqual(63);
    expect(name).toMatch(DNS);
    expect(name.endsWith(`-a${attempt}`)).toBe(true);
  });

  it('differs per attempt and per queue id', () => {
    expect(jobName('wf-btcusdt-api_trades-20240801-a1b2c3', 1)).not.toBe(
      jobName('wf-btcusdt-api_trades-20240801-a1b2c3', 2),
    );
    const long = (h: string) => 'wf-' + 'x'.repeat(20) + '-' + 'y_'.repeat(30) + `-20240801-${h}`;
    expect(jobName(long('000001'), 1)).not.toBe(jobName(long('000002'), 1));
  });
});
