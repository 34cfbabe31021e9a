/**
 * The Python the analytics benches compare against (bench/graph.ts, bench/gnn.ts): BENCH_PYTHON
 * when set, else a venv in `.cache/bench-venv` created on first use from bench/py/requirements.txt
 * (NumPy, SciPy, PyTorch and PyTorch Geometric from PyPI; about 4 GB and a minute or two here).
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VENV = `${ROOT}.cache/bench-venv`;

export const pyScript = (name: string): string => `${ROOT}bench/py/${name}`;

export function benchPython(): string {
  const given = process.env['BENCH_PYTHON'];
  if (given !== undefined && given !== '') return given;
  const python = `${VENV}/bin/python`;
  if (!existsSync(python)) {
    console.error(`creating ${VENV} (numpy, scipy, torch, torch_geometric from PyPI) …`);
    execFileSync('python3', ['-m', 'venv', VENV], { stdio: 'inherit' });
    execFileSync(python, ['-m', 'pip', 'install', '-q', '-r', pyScript('requirements.txt')], {
      stdio: 'inherit',
    });
  }
  return python;
}

/** Runs `script` with `input` as JSON on stdin; resolves its stdout's last line as JSON. */
export function runPython<T>(script: string, input: unknown, env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(benchPython(), [pyScript(script)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...env },
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${script} exited with ${code}`));
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON result: ${out.slice(-500)}`));
      }
    });
    child.stdin.end(JSON.stringify(input));
  });
}
