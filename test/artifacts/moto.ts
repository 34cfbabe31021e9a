/**
 * A real S3-compatible server for the artifact-store tests: moto's server mode (PyPI `moto[server]`,
 * pinned in .ci/requirements.txt), started as `python3 -m moto.server -H 127.0.0.1 -p <free port>`
 * and stopped after the suite. moto keeps objects in memory; it speaks the S3 REST protocol over
 * HTTP with path-style addressing, the same requests the adapter sends to SeaweedFS or AWS.
 * When moto is not installed the suites skip saying so, except under CI, where they fail.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

export const PYTHON = process.env['PYTHON'] ?? 'python3';
export const CREDENTIALS = { accessKeyId: 'streamforge-test', secretAccessKey: 'streamforge-test-secret' };
export const REGION = 'us-east-1';

/** Why moto cannot run here, or null when it can. */
export function motoMissing(): string | null {
  const r = spawnSync(PYTHON, ['-c', 'import moto.server, flask, flask_cors'], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const why = `moto's server mode is not installed (pip install -r .ci/requirements.txt): ${(r.stderr || String(r.error)).trim().split('\n').at(-1)}`;
  if (process.env['CI']) throw new Error(why);
  return why;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

export interface Moto {
  endpoint: string;
  port: number;
  /** Creates a bucket (path-style, as the adapter addresses it). */
  createBucket(name: string): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 3 s); idempotent. */
  stop(): Promise<void>;
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn(PYTHON, ['-m', 'moto.server', '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, PYTHONUNBUFFERED: '1' },
  });
  let stderr = '';
  proc.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`moto.server exited with ${proc.exitCode}: ${stderr}`);
    try {
      await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      break;
    } catch {
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`moto.server did not answer on ${endpoint} within 30 s: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  const client = new S3Client({ endpoint, region: REGION, credentials: CREDENTIALS, forcePathStyle: true });
  let stopped = false;
  return {
    endpoint,
    port,
    async createBucket(name) {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      client.destroy();
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGTERM');
        const t = setTimeout(() => proc.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(t);
      }
    },
  };
}
