import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createChildProcessLauncher } from '../../shared/jobs/child-process-launcher.ts';
import type { JobExit, JobLauncher } from '../../shared/jobs/job-launcher.ts';
import { IMAGE, command, repoRoot } from './fixtures.ts';

/** A pino logger whose JSON lines are kept for assertions. */
function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n'))
        if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines };
}

function launcherWith(mode: string, extraEnv: Record<string, string> = {}) {
  const log = capture();
  const launcher = createChildProcessLauncher({
    logger: log.logger,
    cwd: repoRoot,
    entryFor: () => 'test/jobs/fixtures/child-job.ts',
    baseEnv: { ...process.env, CHILD_MODE: mode, ...extraEnv },
    killGraceMs: 150,
  });
  const exits: JobExit[] = [];
  const exited = new Promise<JobExit>((resolve) =>
    launcher.onExit((e) => {
      exits.push(e);
      resolve(e);
    }),
  );
  return { launcher, log, exits, exited };
}

describe('child-process JobLauncher', () => {
  let launcher: JobLauncher | undefined;
  afterEach(async () => {
    await launcher?.close();
  });

  it('runs the entry with the command in its environment, forwards its output, reports its exit code', async () => {
    const t = launcherWith('exit', { CHILD_EXIT: '3' });
    launcher = t.launcher;
    const handle = await t.launcher.launch({
      command: command({ attempt: 2 }),
      image: IMAGE,
      env: { EXTRA: 'from-spec' },
    });
    expect(handle.name).toMatch(/^pid:\d+$/);
    const exit = await t.exited;
    expect(exit).toEqual({
      queue_id: command().queue_id,
      name: handle.name,
      code: 3,
      signal: null,
      attempt: 2,
    });
    const qid = command().queue_id;
    const fromChild = t.log.lines.find((l) => l['msg'] === 'child says hi');
    // The child's own JSON line: its level (40 = warn) and fields, under the parent's queue_id.
    expect(fromChild).toMatchObject({
      level: 40,
      queue_id: qid,
      child: { queue_id: qid, extra: 'from-spec' },
    });
    expect(t.log.lines.find((l) => l['msg'] === 'plain stdout line')).toMatchObject({
      level: 30,
      queue_id: qid,
    });
    expect(t.log.lines.find((l) => l['msg'] === 'plain stderr line')).toMatchObject({
      level: 40,
      queue_id: qid,
      stream: 'stderr',
    });
    // The last output arrives before the exit is reported.
    const order = t.log.lines.map((l) => l['msg']);
    expect(order.indexOf('ready')).toBeLessThan(order.indexOf('job exited'));
  });

  it('cancel sends SIGTERM and the child drains', async () => {
    const t = launcherWith('drain');
    launcher = t.launcher;
    const handle = await t.launcher.launch({ command: command({ attempt: 3 }), image: IMAGE });
    await waitFor(() => t.log.lines.some((l) => l['msg'] === 'ready'));
    // A running child is listed, with its attempt; once it has exited it is not.
    expect(await t.launcher.list()).toEqual([
      { queue_id: command().queue_id, name: handle.name, attempt: 3 },
    ]);
    await t.launcher.cancel(command().queue_id);
    const exit = await t.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(await t.launcher.list()).toEqual([]);
    expect(t.log.lines.some((l) => l['msg'] === 'draining')).toBe(true);
  });

  it('a child that ignores SIGTERM is killed after the grace', async () => {
    const t = launcherWith('stubborn');
    launcher = t.launcher;
    await t.launcher.launch({ command: command(), image: IMAGE });
    await waitFor(() => t.log.lines.some((l) => l['msg'] === 'ready'));
    await t.launcher.cancel(command().queue_id);
    expect(await t.exited).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(t.log.lines.some((l) => l['msg'] === 'ignoring SIGTERM')).toBe(true);
  });

  it('launch rejects when the process cannot be spawned; unknown ids cancel quietly', async () => {
    const log = capture();
    launcher = createChildProcessLauncher({ logger: log.logger, cwd: '/nonexistent-dir-for-test' });
    await expect(launcher.launch({ command: command(), image: IMAGE })).rejects.toThrow(/ENOENT/);
    await expect(launcher.cancel('wf-xrpusdt-api_trades-20240801-000000')).resolves.toBeUndefined();
  });
});

async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
