import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repoRoot = path.resolve(import.meta.dirname, '../..');

/** Waits for `cond`; fails fast (with the output so far) when the child exits first. */
async function until(cond: () => boolean, child: ChildProcess, out: () => string): Promise<void> {
  while (!cond()) {
    if (child.exitCode !== null) throw new Error(`child exited with ${child.exitCode}:\n${out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('dummy-service main.ts', () => {
  it('serves on the embedded bus, logs its URL, and exits 0 on SIGTERM', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
      INTAKE_TOKEN: 'a-test-intake-secret-0123',
    };
    delete env['KAFKA_BROKERS']; // embedded mode even when the test run has a broker
    const child = spawn(process.execPath, ['--import', 'tsx', 'functions/dummy-service/main.ts'], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      await until(
        () => out.includes('"msg":"listening"'),
        child,
        () => out,
      );
      expect(out).toContain('event bus: in-process');
      const line = out.split('\n').find((l) => l.includes('"msg":"listening"'));
      const { url } = JSON.parse(line!) as { url: string };

      const check = await fetch(`${url}/check`);
      expect(check.status).toBe(200);
      expect(await check.json()).toMatchObject({ ok: true });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);

      // Its CloudEvent intake takes events only with the configured secret.
      const event = {
        method: 'POST',
        headers: { 'ce-specversion': '1.0', 'ce-id': 'e1', 'ce-source': 'test', 'ce-type': 'x.test' },
        body: '{}',
      };
      const anonymous = await fetch(`${url}/`, event);
      expect(anonymous.status).toBe(401);
      expect(anonymous.headers.get('www-authenticate')).toBe('Bearer realm="streamforge"');
      const forged = await fetch(`${url}/`, {
        ...event,
        headers: { ...event.headers, authorization: 'Bearer not-the-secret-000000' },
      });
      expect(forged.status).toBe(401);
      const signed = await fetch(`${url}/`, {
        ...event,
        headers: { ...event.headers, authorization: 'Bearer a-test-intake-secret-0123' },
      });
      expect(signed.status).toBe(202);
      expect(await (await fetch(`${url}/events`)).json()).toMatchObject({
        received: 1,
        by_type: { 'x.test': 1 },
      });

      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(out).toContain('"msg":"shut down"');
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('refuses to start with a bad configuration and lists every problem', async () => {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      PORT: 'http',
      CHECK_TIMEOUT_MS: 'soon',
      LOG_LEVEL: 'info',
    };
    const child = spawn(process.execPath, ['--import', 'tsx', 'functions/dummy-service/main.ts'], {
      cwd: repoRoot,
      env,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => (out += chunk));
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(out).toContain('PORT');
    expect(out).toContain('CHECK_TIMEOUT_MS');
  });
});
