import { spawn } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createFunctionApp } from '../../shared/runtime/app.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { serve, type Served } from '../../shared/runtime/serve.ts';

const logger = createLogger('test', 'silent');

/** A GET on a fresh connection (no keep-alive pool), so "refused" means the listener is gone. */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

const started: Served[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

describe('serve', () => {
  it('listens on a free port when asked for port 0 and serves the app', async () => {
    const { app } = createFunctionApp({ name: 'test-fn', logger });
    const s = await serve(app, { port: 0, host: '127.0.0.1', logger, handleSignals: false });
    started.push(s);
    expect(s.port).toBeGreaterThan(0);
    expect(s.url).toBe(`http://127.0.0.1:${s.port}`);
    expect(await get(`${s.url}/healthz`)).toEqual({ status: 200, body: '{"status":"ok"}' });
  });

  it('shutdown lets an in-flight request finish, refuses new connections, then runs onShutdown', async () => {
    const fn = createFunctionApp({ name: 'test-fn', logger });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    fn.app.get('/slow', async (c) => {
      entered();
      await gate;
      return c.text('done');
    });
    const order: string[] = [];
    const s = await serve(fn.app, {
      port: 0,
      host: '127.0.0.1',
      logger,
      handleSignals: false,
      graceMs: 30_000,
      onDrain: fn.drain,
      onShutdown: () => {
        order.push('onShutdown');
        return Promise.resolve();
      },
    });

    const slow = get(`${s.url}/slow`);
    await inside;
    expect(s.inFlight()).toBe(1);

    const closing = s.close().then(() => order.push('closed'));
    await expect(get(`${s.url}/healthz`)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    // The app knows it is draining (a keep-alive client asking /readyz would get 503).
    expect((await fn.app.request('/readyz')).status).toBe(503);
    expect(order).toEqual([]);

    release();
    order.push('released');
    expect(await slow).toEqual({ status: 200, body: 'done' });
    await closing;
    expect(order).toEqual(['released', 'onShutdown', 'closed']);
    expect(s.inFlight()).toBe(0);
  });

  it('cuts requests still running when the grace period is over', async () => {
    const { app } = createFunctionApp({ name: 'test-fn', logger });
    app.get('/hang', () => new Promise<Response>(() => {}));
    const s = await serve(app, { port: 0, host: '127.0.0.1', logger, handleSignals: false, graceMs: 50 });
    const hanging = get(`${s.url}/hang`).catch((err: NodeJS.ErrnoException) => err.code);
    await until(() => s.inFlight() === 1);
    await s.close();
    expect(await hanging).toBe('ECONNRESET');
  });

  it('close() is idempotent', async () => {
    let calls = 0;
    const { app } = createFunctionApp({ name: 'test-fn', logger });
    const s = await serve(app, {
      port: 0,
      host: '127.0.0.1',
      logger,
      handleSignals: false,
      onShutdown: () => {
        calls += 1;
        return Promise.resolve();
      },
    });
    await Promise.all([s.close(), s.close()]);
    await s.close();
    expect(calls).toBe(1);
  });
});

describe('serve with signal handling', () => {
  it('SIGTERM drains the in-flight request, runs onShutdown and exits 0', async () => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', path.join(import.meta.dirname, 'fixtures/serve-child.ts')],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    try {
      await until(() => /port=\d+/.test(out) || child.exitCode !== null);
      expect(child.exitCode).toBeNull();
      const port = /port=(\d+)/.exec(out)?.[1];
      const slow = get(`http://127.0.0.1:${port}/slow`);
      await until(() => out.includes('slow-started'));
      child.kill('SIGTERM');

      expect(await slow).toEqual({ status: 200, body: 'done' });
      expect(await exited).toBe(0);
      expect(out).toContain('on-shutdown');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
