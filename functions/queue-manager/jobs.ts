/**
 * Running a workflow's attempt: the `start`/`stop` commands on queue-control and the job behind
 * it (JobLauncher port). A job that dies before its workflow ended fails the workflow, after a
 * grace period that lets the job's own final error event (with the exchange's code) win.
 */
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { Topics } from '../../shared/contracts/events.ts';
import type { Target, Workflow } from '../../shared/contracts/workflow.ts';
import type { JobLauncher } from '../../shared/jobs/job-launcher.ts';
import { InvalidInputError, NotFoundError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { JOB_TARGETS, commandMessage, commandOf } from './commands.ts';
import type { ManagerSettings } from './config.ts';
import { MANAGER, fold, isTerminal, managerEvent } from './fold.ts';
import type { ManagerMetrics } from './metrics.ts';
import type { WorkflowRepo } from './repo.ts';

export interface JobControlDeps {
  repo: WorkflowRepo;
  bus: EventBus;
  launcher: JobLauncher;
  logger: Logger;
  settings: ManagerSettings;
  metrics: ManagerMetrics;
  now: () => number;
}

export interface JobControl {
  /** InvalidInputError when the target needs an image and the allow-list has none. */
  checkImage(target: Target): void;
  /**
   * Publishes `start` and launches the job; a failure ends the workflow in `error`. With
   * `maxRunningJobs` jobs running, the workflow waits in `pending` with `waiting` saying why, and
   * starts when a job ends (first come, first served).
   */
  start(wf: Workflow): Promise<Workflow>;
  /** Queues again the workflows a previous manager left waiting (in the order they were created). */
  resumeWaiting(active: Workflow[]): void;
  /**
   * At start: takes over the jobs a previous manager launched (they count against
   * MAX_RUNNING_JOBS again), and ends in `error` `job_lost`, after the exit grace, the running
   * workflows whose job no longer exists; returns how many were lost.
   */
  adopt(active: Workflow[]): Promise<number>;
  /** Best effort: `stop` on queue-control and cancel the job. */
  stop(wf: Workflow, why: string): Promise<void>;
  /** Logs and counts a status change. */
  transitioned(before: Workflow, after: Workflow): void;
  close(): void;
}

export function createJobControl(d: JobControlDeps): JobControl {
  const { repo, bus, launcher, settings, metrics } = d;
  const log = d.logger;
  /** The job running each workflow's current attempt (exits of older jobs are ignored). */
  const jobs = new Map<string, { name: string; attempt: number }>();
  const exitTimers = new Set<NodeJS.Timeout>();
  const imageFor = (target: Target): string | undefined => settings.jobImages[target];

  async function fail(queueId: string, code: string, message: string, source: string, attempt?: number) {
    const now = d.now();
    const { before, after } = await repo.update(queueId, (wf) =>
      isTerminal(wf.status) || (attempt !== undefined && attempt !== wf.attempt)
        ? wf
        : fold(wf, managerEvent(wf, now, 'error', message, { code, message, source }), now),
    );
    control.transitioned(before, after);
    return after;
  }

  /**
   * Fails the attempt after the exit grace, which lets the job's own final event (in flight, or
   * redelivered after a restart) win; a workflow that ended meanwhile is left as it is.
   */
  function failAfterGrace(queueId: string, code: string, message: string, attempt: number | undefined): void {
    metrics.jobFailures.inc();
    const t = setTimeout(() => {
      exitTimers.delete(t);
      fail(queueId, code, message, 'launcher', attempt).catch((err: unknown) => {
        if (!(err instanceof NotFoundError))
          log.error({ queue_id: queueId, err }, `could not record ${code}`);
      });
    }, settings.jobExitGraceMs);
    exitTimers.add(t);
  }

  launcher.onExit((exit) => {
    const current = jobs.get(exit.queue_id);
    if (current && current.name !== exit.name) return; // an older attempt's job
    if (current) jobs.delete(exit.queue_id);
    admit();
    if (exit.code === 0 && exit.signal === null) {
      log.info({ queue_id: exit.queue_id, job: exit.name }, 'job finished');
      return;
    }
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
    failAfterGrace(exit.queue_id, 'job_exit', `job ${exit.name} ${how}`, exit.attempt ?? current?.attempt);
  });

  /** Attempts whose start is in flight, and those of them a stop arrived for meanwhile. */
  const starting = new Set<string>();
  const stoppedWhileStarting = new Set<string>();
  const attemptKey = (wf: Pick<Workflow, 'queue_id' | 'attempt'>): string => `${wf.queue_id}:${wf.attempt}`;

  /** Attempts waiting for a job slot, first come first served. */
  const waiting: { queue_id: string; attempt: number }[] = [];
  const running = (): number => jobs.size + starting.size;
  let closed = false;

  async function wait(wf: Workflow): Promise<Workflow> {
    waiting.push({ queue_id: wf.queue_id, attempt: wf.attempt });
    const reason =
      `waiting for a job slot: ${running()} of ${settings.maxRunningJobs} jobs running ` +
      `(MAX_RUNNING_JOBS), ${waiting.length} workflow(s) waiting`;
    const now = d.now();
    const { after } = await repo.update(wf.queue_id, (w) =>
      w.attempt !== wf.attempt || w.status !== 'pending'
        ? w
        : { ...w, waiting: reason, updated_at: new Date(now).toISOString() },
    );
    log.info({ queue_id: wf.queue_id, waiting: waiting.length }, 'workflow waits for a job slot');
    return after;
  }

  /** Starts waiting workflows while slots are free; a slot is reserved before the first await. */
  function admit(): void {
    while (!closed && running() < settings.maxRunningJobs && waiting.length > 0) {
      const next = waiting.shift()!;
      starting.add(attemptKey(next));
      void (async () => {
        const now = new Date(d.now()).toISOString();
        const { before, after } = await repo.update(next.queue_id, (w) => {
          if (w.attempt !== next.attempt || w.status !== 'pending' || w.waiting === undefined) return w;
          // The stall clock starts now, not when the workflow began to wait.
          const { waiting: _w, ...rest } = w;
          return { ...rest, updated_at: now, last_event_at: now };
        });
        if (before !== after) await launchNow(after);
      })()
        .catch((err: unknown) => {
          log.error({ queue_id: next.queue_id, err }, 'could not start a waiting workflow');
        })
        .finally(() => {
          starting.delete(attemptKey(next));
          stoppedWhileStarting.delete(attemptKey(next));
          admit();
        });
    }
  }

  async function launchNow(wf: Workflow): Promise<Workflow> {
    const image = imageFor(wf.target);
    const cmd = commandOf(wf, 'start', image, d.now());
    try {
      await bus.publish(Topics.control, [commandMessage(cmd)]);
      // Long-running targets (loader-ws, graph-builder...) act on the command alone.
      if (!JOB_TARGETS.has(wf.target)) return wf;
      starting.add(attemptKey(wf));
      const handle = await launcher
        .launch({ command: cmd, image: image ?? '', env: settings.jobEnv })
        .finally(() => starting.delete(attemptKey(wf)));
      jobs.set(wf.queue_id, { name: handle.name, attempt: wf.attempt });
      // A stop that came while the job was being created found nothing to stop: stop it now.
      if (stoppedWhileStarting.delete(attemptKey(wf))) await launcher.cancel(wf.queue_id);
      metrics.jobsLaunched.inc({ target: wf.target });
      log.info({ queue_id: wf.queue_id, job: handle.name, attempt: wf.attempt }, 'job launched');
      return wf;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log.error({ queue_id: wf.queue_id, err }, 'could not start the workflow');
      return fail(wf.queue_id, 'launch_failed', message, MANAGER, wf.attempt);
    }
  }

  const control: JobControl = {
    checkImage(target) {
      if (settings.requireImage && JOB_TARGETS.has(target) && !imageFor(target)) {
        const message = `no job image is allowed for target ${target} (JOB_IMAGES)`;
        throw new InvalidInputError('invalid request json', [{ code: 'custom', path: ['type'], message }]);
      }
    },

    async start(wf) {
      if (JOB_TARGETS.has(wf.target) && (running() >= settings.maxRunningJobs || waiting.length > 0))
        return wait(wf);
      return launchNow(wf);
    },

    resumeWaiting(active) {
      const left = active
        .filter((wf) => wf.status === 'pending' && wf.waiting !== undefined)
        .sort((a, b) => a.created_at.localeCompare(b.created_at));
      for (const wf of left) {
        if (!waiting.some((w) => w.queue_id === wf.queue_id))
          waiting.push({ queue_id: wf.queue_id, attempt: wf.attempt });
      }
      admit();
    },

    async adopt(active) {
      const existing = await launcher.list();
      let lost = 0;
      for (const wf of active) {
        // Waiting workflows have no job yet (resumeWaiting starts them); live ones need none.
        if (!JOB_TARGETS.has(wf.target) || wf.waiting !== undefined || jobs.has(wf.queue_id)) continue;
        const job = existing.find(
          (j) => j.queue_id === wf.queue_id && (j.attempt === undefined || j.attempt === wf.attempt),
        );
        if (job) {
          jobs.set(wf.queue_id, { name: job.name, attempt: wf.attempt });
          log.info({ queue_id: wf.queue_id, job: job.name, attempt: wf.attempt }, 'job adopted');
          continue;
        }
        lost += 1;
        failAfterGrace(
          wf.queue_id,
          'job_lost',
          `no job runs attempt ${wf.attempt} any more: the manager started again and found none ` +
            `(the platform was restarted, or the Job was deleted); retry the workflow`,
          wf.attempt,
        );
      }
      return lost;
    },

    async stop(wf, why) {
      const queued = waiting.findIndex((w) => w.queue_id === wf.queue_id);
      if (queued >= 0) waiting.splice(queued, 1);
      if (starting.has(attemptKey(wf))) stoppedWhileStarting.add(attemptKey(wf));
      try {
        await bus.publish(Topics.control, [
          commandMessage(commandOf(wf, 'stop', imageFor(wf.target), d.now())),
        ]);
      } catch (err) {
        log.warn({ queue_id: wf.queue_id, err }, `could not publish stop (${why})`);
      }
      if (!JOB_TARGETS.has(wf.target)) return;
      try {
        await launcher.cancel(wf.queue_id);
      } catch (err) {
        log.warn({ queue_id: wf.queue_id, err }, `could not cancel the job (${why})`);
      }
    },

    transitioned(before, after) {
      if (before.status === after.status) return;
      const fields = {
        queue_id: after.queue_id,
        from: before.status,
        to: after.status,
        attempt: after.attempt,
      };
      // The exchange refusing a request (a numeric code: -1121 Invalid symbol...) is the user's to
      // read in the workflow; a stall, a dead job or an undeliverable batch is the operator's.
      if (after.status === 'error' && typeof after.error?.code !== 'number')
        log.warn({ ...fields, error: after.error }, 'workflow failed');
      else if (after.status === 'error') log.info({ ...fields, error: after.error }, 'workflow failed');
      else log.info(fields, 'workflow status');
      if (isTerminal(after.status)) metrics.workflowFinished(after);
    },

    close() {
      closed = true;
      for (const t of exitTimers) clearTimeout(t);
      exitTimers.clear();
    },
  };
  return control;
}
