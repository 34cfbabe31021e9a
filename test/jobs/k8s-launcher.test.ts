/**
 * The Kubernetes launcher against an HTTP server on 127.0.0.1 that plays the API server's Job
 * endpoints: what it receives must be exactly the rendered Job, and a valid one.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobExit, JobLauncher } from '../../shared/jobs/job-launcher.ts';
import { createK8sLauncher } from '../../shared/jobs/k8s-launcher.ts';
import { renderJob } from '../../shared/jobs/render-job.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { IMAGE, command, jobValidator, template } from './fixtures.ts';

interface Seen {
  method: string;
  url: URL;
  auth: string | undefined;
  body: unknown;
}

type Job = { metadata: { name: string; labels: Record<string, string> }; status?: unknown };

/** Just enough of the API server: create, list (label selector k=v), delete Jobs in one namespace. */
function fakeApiServer() {
  const seen: Seen[] = [];
  const jobs = new Map<string, Job>();
  const base = '/apis/batch/v1/namespaces/streamforge/jobs';
  const read = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let s = '';
      req.on('data', (c: Buffer) => (s += c.toString()));
      req.on('end', () => resolve(s));
    });
  const server: Server = createServer((req, res) => {
    void read(req).then((text) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const body: unknown = text ? JSON.parse(text) : undefined;
      seen.push({ method: req.method ?? '', url, auth: req.headers.authorization, body });
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (req.method === 'POST' && url.pathname === base) {
        const job = body as Job;
        if (jobs.has(job.metadata.name))
          return send(409, { kind: 'Status', code: 409, reason: 'AlreadyExists' });
        jobs.set(job.metadata.name, job);
        return send(201, job);
      }
      if (req.method === 'GET' && url.pathname === base) {
        const [k, v] = (url.searchParams.get('labelSelector') ?? '=').split('=');
        const items = [...jobs.values()].filter((j) => !k || j.metadata.labels[k] === v);
        return send(200, { apiVersion: 'batch/v1', kind: 'JobList', metadata: {}, items });
      }
      if (req.method === 'DELETE' && url.pathname.startsWith(`${base}/`)) {
        const name = url.pathname.slice(base.length + 1);
        if (!jobs.delete(name)) return send(404, { kind: 'Status', code: 404, reason: 'NotFound' });
        return send(200, { kind: 'Status', apiVersion: 'v1', status: 'Success' });
      }
      return send(404, { kind: 'Status', code: 404 });
    });
  });
  return { server, seen, jobs };
}

describe('Kubernetes JobLauncher', () => {
  let api: ReturnType<typeof fakeApiServer>;
  let launcher: JobLauncher;
  const logger = createLogger('test', 'silent');

  beforeEach(async () => {
    api = fakeApiServer();
    await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
    const { port } = api.server.address() as AddressInfo;
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'test', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: 'manager', token: 't0ken' }],
      contexts: [{ name: 'test', cluster: 'test', user: 'manager' }],
      currentContext: 'test',
    });
    launcher = createK8sLauncher({
      kubeConfig,
      namespace: 'streamforge',
      template: template(),
      logger,
      pollIntervalMs: 20,
    });
  });

  afterEach(async () => {
    await launcher.close();
    await new Promise((r) => api.server.close(r));
  });

  it('creates exactly the rendered Job, which validates', async () => {
    const spec = { command: command(), image: IMAGE, env: { BINANCE_API_URL: 'http://sim:9000' } };
    const handle = await launcher.launch(spec);
    expect(handle).toEqual({
      name: 'wf-btcusdt-api-candles-5m-20240801-a1b2c3-a1',
      queue_id: spec.command.queue_id,
    });
    const posts = api.seen.filter((s) => s.method === 'POST');
    expect(posts).toHaveLength(1);
    expect(posts[0]?.url.pathname).toBe('/apis/batch/v1/namespaces/streamforge/jobs');
    expect(posts[0]?.auth).toBe('Bearer t0ken');
    expect(posts[0]?.body).toEqual(renderJob(template(), spec, 'streamforge'));
    const validate = jobValidator();
    expect(validate(posts[0]?.body)).toBe(true);
  });

  it('treats an existing Job of the same attempt as launched', async () => {
    await launcher.launch({ command: command(), image: IMAGE });
    await expect(launcher.launch({ command: command(), image: IMAGE })).resolves.toMatchObject({
      queue_id: command().queue_id,
    });
  });

  it('cancel deletes the workflow’s Jobs with background propagation, and ignores unknown ids', async () => {
    await launcher.launch({ command: command(), image: IMAGE });
    await launcher.launch({
      command: command({ queue_id: 'wf-ethusdt-api_trades-20240801-000000', symbol: 'ETHUSDT' }),
      image: IMAGE,
    });
    await launcher.cancel(command().queue_id);
    const deletes = api.seen.filter((s) => s.method === 'DELETE');
    expect(deletes.map((d) => d.url.pathname)).toEqual([
      '/apis/batch/v1/namespaces/streamforge/jobs/wf-btcusdt-api-candles-5m-20240801-a1b2c3-a1',
    ]);
    expect(deletes[0]?.url.searchParams.get('propagationPolicy')).toBe('Background');
    expect([...api.jobs.keys()]).toEqual(['wf-ethusdt-api-trades-20240801-000000-a1']);
    await expect(launcher.cancel('wf-xrpusdt-api_trades-20240801-000000')).resolves.toBeUndefined();
  });

  it('reports a finished Job once, with its attempt', async () => {
    const exits: JobExit[] = [];
    launcher.onExit((e) => exits.push(e));
    await launcher.launch({ command: command({ attempt: 2 }), image: IMAGE });
    const job = [...api.jobs.values()][0]!;
    await new Promise((r) => setTimeout(r, 60));
    expect(exits).toEqual([]);
    job.status = {
      failed: 1,
      conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }],
    };
    for (let i = 0; i < 100 && exits.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 60)); // more polls: still one report
    expect(exits).toEqual([
      {
        queue_id: command().queue_id,
        name: 'wf-btcusdt-api-candles-5m-20240801-a1b2c3-a2',
        code: 1,
        signal: null,
        attempt: 2,
      },
    ]);
  });
});
