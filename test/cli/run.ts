/**
 * Runs the `streamforge` CLI for tests: as a user does (`node bin/streamforge.mjs ...`, a child
 * process) or in-process through runCli (the same code), with stdout and stderr captured apart.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../../functions/cli/program.ts';

const repoRoot = path.resolve(import.meta.dirname, '../..');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The binary with `env` over the test process's environment; STREAMFORGE_URL and
 * STREAMFORGE_TOKEN are cleared first so the caller's shell never leaks in.
 */
export function runBinary(args: string[], env: Record<string, string>): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(repoRoot, 'bin/streamforge.mjs'), ...args], {
      cwd: repoRoot,
      env: { ...process.env, STREAMFORGE_URL: '', STREAMFORGE_TOKEN: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** runCli with `env` as its whole environment; `tty` makes stdout look like a terminal. */
export async function runInProcess(args: string[], env: Record<string, string>, tty = false): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) =>
    new Writable({ write: (c: Buffer, _e, cb) => (add(c.toString()), cb()) });
  const out = Object.assign(
    sink((x) => (stdout += x)),
    { isTTY: tty, columns: 120 },
  );
  const code = await runCli(args, env, { stdout: out, stderr: sink((x) => (stderr += x)) });
  return { code, stdout, stderr };
}
