/**
 * Running a workflow's attempt: the `start`/`stop` commands on queue-control and the job behind
 * it (JobLauncher port). A job that dies before its workflow ended fails the workflow, after a
 * grace period that lets the job's own final error event (with the exchange's code) win.
 */
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { Topics } from '../../shared/contracts/events.ts';
import type { Target, Workflow } from '../../shared/contracts/workflow.ts';
import type { JobExit, JobLauncher } from '../../shared/jobs/job-launcher.ts';
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
  /** Publishes `start` and launches the job; a failure ends the workflow in `error`. */
  start(wf: Workflow): Promise<Workflow>;
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

  async function applyExit(exit: JobExit, attempt: number | undefined): Promise<void> {
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${String(exit.code)}`;
    try {
      await fail(exit.queue_id, 'job_exit', `job ${exit.name} ${how}`, 'launcher', attempt);
    } catch (err) {
      if (!(err instanceof NotFoundError))
        log.error({ queue_id: exit.queue_id, err }, 'could not record job exit');
    }
  }

  launcher.onExit((exit) => {
    const current = jobs.get(exit.queue_id);
    if (current && current.name !== exit.name) return; // an older attempt's job
    if (current) jobs.delete(exit.queue_id);
    if (exit.code === 0 && exit.signal === null) {
      log.info({ queue_id: exit.queue_id, job: exit.name }, 'job finished');
      return;
    }
    metrics.jobFailures.inc();
    const t = setTimeout(() => {
      exitTimers.delete(t);
      void applyExit(exit, exit.attempt ?? current?.attempt);
    }, settings.jobExitGraceMs);
    exitTimers.add(t);
  });

  /** Attempts whose start is in flight, and those of them a stop arrived for meanwhile. */
  const starting = new Set<string>();
  const stoppedWhileStarting = new Set<string>();
  const attemptKey = (wf: Workflow): string => `${wf.queue_id}:${wf.attempt}`;

  const control: JobControl = {
    checkImage(target) {
      if (settings.requireImage && JOB_TARGETS.has(target) && !imageFor(target)) {
        const message = `no job image is allowed for target ${target} (JOB_IMAGES)`;
        throw new InvalidInputError('invalid request json', [{ code: 'custom', path: ['type'], message }]);
      }
    },

    async start(wf) {
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
    },

    async stop(wf, why) {
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
      if (after.status === 'error') log.warn({ ...fields, error: after.error }, 'workflow failed');
      else log.info(fields, 'workflow status');
      if (isTerminal(after.status)) metrics.finished.inc({ status: after.status });
    },

    close() {
      for (const t of exitTimers) clearTimeout(t);
      exitTimers.clear();
    },
  };
  return control;
}
