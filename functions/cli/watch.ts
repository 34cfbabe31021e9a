/**
 * `streamforge watch`: polls GET /workflows/{id} until every watched workflow has ended. On a
 * terminal it draws a live progress bar per workflow (cli-progress); elsewhere it prints a line
 * per change. Exit code (exit-codes.ts): 0 only when all completed, 9 when any ended in error or
 * cancelled; when one could not be watched, the code of that failure (5 unknown id, 4 token,
 * 8 manager unreachable for too long).
 */
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { TERMINAL_STATUSES, type Workflow } from '../../shared/contracts/workflow.ts';
import { ApiError, UnreachableError, type ManagerClient } from './client.ts';
import { describeError, renderFailure, type Failure } from './errors.ts';
import { EXIT, type ExitCode } from './exit-codes.ts';
import { errorText, oneLine, percentOf } from './format.ts';

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

/** Consecutive failed polls (manager restarting, network blip) tolerated before giving up. */
const MAX_POLL_FAILURES = 30;

export interface WatchOptions {
  intervalMs: number;
  json: boolean;
  io: Io;
}

export async function watch(client: ManagerClient, ids: string[], opts: WatchOptions): Promise<ExitCode> {
  const { io } = opts;
  const last = new Map<string, Workflow>();
  const lastLine = new Map<string, string>();
  /** Workflows given up on, with why. */
  const lost = new Map<string, Failure>();
  const failures = new Map<string, number>();
  const tty = io.stdout.isTTY === true && !opts.json;
  const multi = tty
    ? new MultiBar(
        {
          format: '{queue_id} |{bar}| {percentage}% | {status} | {records} records',
          stream: io.stdout,
          hideCursor: true,
          clearOnComplete: false,
          forceRedraw: true,
        },
        Presets.shades_classic,
      )
    : undefined;
  const bars = new Map<string, SingleBar>();

  const open = () =>
    ids.filter((id) => !lost.has(id) && !TERMINAL_STATUSES.has(last.get(id)?.status ?? 'pending'));

  function show(wf: Workflow): void {
    const payload = {
      queue_id: wf.queue_id,
      status: wf.status,
      records: wf.records_written.toLocaleString('en-US'),
    };
    if (multi) {
      const bar = bars.get(wf.queue_id) ?? multi.create(100, 0, payload);
      bars.set(wf.queue_id, bar);
      bar.update(percentOf(wf), payload);
    } else if (!opts.json) {
      const line = oneLine(wf);
      if (lastLine.get(wf.queue_id) !== line) io.stdout.write(`${line}\n`);
      lastLine.set(wf.queue_id, line);
    }
  }

  async function pollOne(id: string): Promise<void> {
    try {
      const wf = await client.get(id);
      failures.delete(id);
      last.set(id, wf);
      show(wf);
    } catch (err) {
      const n = (failures.get(id) ?? 0) + 1;
      failures.set(id, n);
      // A restarting or busy manager (unreachable, 5xx, 429) is waited for; another 4xx (unknown
      // id, bad token) is not.
      const transient =
        err instanceof UnreachableError ||
        (err instanceof ApiError && (err.status >= 500 || err.status === 429));
      if (!transient || n > MAX_POLL_FAILURES) {
        const failure = describeError(err);
        lost.set(id, failure);
        io.stderr.write(renderFailure(failure, ids.length > 1 ? `${id}: ` : ''));
      }
    }
  }

  for (;;) {
    await Promise.all(open().map(pollOne));
    if (open().length === 0) break;
    await new Promise((r) => setTimeout(r, opts.intervalMs));
  }
  multi?.stop();

  const finals = ids
    .map((id) => last.get(id))
    .filter((w): w is Workflow => w !== undefined && !lost.has(w.queue_id));
  if (opts.json) {
    // Nothing to show when no workflow could be watched: stderr says why.
    if (finals.length > 0)
      io.stdout.write(`${JSON.stringify(ids.length === 1 ? (finals[0] ?? null) : finals, null, 2)}\n`);
  } else {
    for (const wf of finals) {
      const tail =
        wf.status === 'completed' ? `${wf.records_written.toLocaleString('en-US')} records` : errorText(wf);
      io.stdout.write(`${wf.status} ${wf.queue_id}${tail ? `: ${tail}` : ''}\n`);
    }
  }
  // The first workflow (in the order given) that could not be watched decides the code.
  const firstLost = ids.map((id) => lost.get(id)).find((f) => f !== undefined);
  if (firstLost) return firstLost.code;
  return finals.every((w) => w.status === 'completed') ? EXIT.ok : EXIT.workflowFailed;
}
