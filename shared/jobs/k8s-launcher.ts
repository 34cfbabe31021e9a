/**
 * JobLauncher on Kubernetes (@kubernetes/client-node 1.x, object-parameter API): one batch/v1 Job
 * per workflow attempt, rendered from its target's template (render-job.ts); cancel deletes the workflow's
 * Jobs with background propagation (their pods go too). Finished Jobs are found by watching the
 * Jobs labelled `app.kubernetes.io/part-of=streamforge` (an exit is reported as soon as the Job
 * controller marks it Complete or Failed) and by listing them: once when a listener registers,
 * which also reports Jobs that finished while the manager was down, then every pollIntervalMs in
 * case the watch missed something while it reconnected. Each finished Job is reported once.
 * `list` reports the Jobs that exist, for a manager that starts again. Verbs used: create, list,
 * watch, delete (knative/rbac.yaml; test/cluster checks them).
 */
import { BatchV1Api, KubeConfig, Watch, type V1Job } from '@kubernetes/client-node';
import type { Logger } from '../runtime/logger.ts';
import type { ExistingJob, JobExit, JobHandle, JobLauncher, JobSpec } from './job-launcher.ts';
import { JobLabels, renderJob, type JobManifest } from './render-job.ts';

export interface K8sLauncherOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The Job template of every target without its own in `templates`. */
  template: JobManifest;
  /** Per-target templates (e.g. the trainer's larger requests, deadline and secrets). */
  templates?: Readonly<Record<string, JobManifest | undefined>>;
  logger: Logger;
  /** How often finished Jobs are listed besides the watch; 0 = no periodic list. Default 10 s. */
  pollIntervalMs?: number;
  /** Watch Jobs for exits (default true); false = list only (every pollIntervalMs). */
  watch?: boolean;
  /** Delay before the watch is opened again after it ended or failed. Default 2 s. */
  rewatchDelayMs?: number;
}

/** In a pod: the service account's config; elsewhere: KUBECONFIG or ~/.kube/config. */
export function defaultKubeConfig(inCluster: boolean): KubeConfig {
  const kc = new KubeConfig();
  if (inCluster) kc.loadFromCluster();
  else kc.loadFromDefault();
  return kc;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'number')
    return err.code;
  return undefined;
}

/** A Job's name, workflow and attempt from its labels; undefined for one that is not ours. */
function identityOf(job: V1Job): ExistingJob | undefined {
  const name = job.metadata?.name;
  const labels = job.metadata?.labels ?? {};
  const queueId = labels[JobLabels.queueId];
  const attempt = Number(labels[JobLabels.attempt]);
  if (!name || !queueId) return undefined;
  return { queue_id: queueId, name, ...(attempt > 0 ? { attempt } : {}) };
}

/** 0 for a Complete Job, 1 for a Failed one, undefined while it runs. */
function exitCodeOf(job: V1Job): number | undefined {
  const done = (type: string) => job.status?.conditions?.some((c) => c.type === type && c.status === 'True');
  if (done('Complete')) return 0;
  if (done('Failed')) return 1;
  return undefined;
}

export function createK8sLauncher(opts: K8sLauncherOptions): JobLauncher {
  const batch = opts.kubeConfig.makeApiClient(BatchV1Api);
  const { namespace, logger } = opts;
  const selector = `${JobLabels.partOf}=streamforge`;
  const listeners: ((exit: JobExit) => void)[] = [];
  /** Finished Jobs already reported (pruned when the Job is gone). */
  const reported = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let rewatch: NodeJS.Timeout | undefined;
  let watching: AbortController | undefined;
  let polling: Promise<void> | undefined;
  let started = false;
  let closed = false;

  /** Reports `job` if it finished and was not reported yet; returns its name when it counts. */
  function consider(job: V1Job): string | undefined {
    const id = identityOf(job);
    const code = exitCodeOf(job);
    if (!id || code === undefined) return undefined;
    if (reported.has(id.name)) return id.name;
    reported.add(id.name);
    const exit: JobExit = { ...id, code, signal: null };
    logger.info({ queue_id: id.queue_id, job: id.name, code }, 'job finished');
    for (const l of listeners) l(exit);
    return id.name;
  }

  async function poll(): Promise<void> {
    const list = await batch.listNamespacedJob({ namespace, labelSelector: selector });
    const seen = new Set<string>();
    for (const job of list.items) {
      const name = consider(job);
      if (name) seen.add(name);
    }
    for (const name of reported) if (!seen.has(name)) reported.delete(name);
  }

  function pollNow(): void {
    polling ??= poll()
      .catch((err: unknown) => logger.warn({ err }, 'could not list Jobs'))
      .finally(() => {
        polling = undefined;
      });
  }

  function scheduleWatch(): void {
    if (closed || rewatch) return;
    rewatch = setTimeout(() => {
      rewatch = undefined;
      void openWatch();
    }, opts.rewatchDelayMs ?? 2000);
    rewatch.unref();
  }

  async function openWatch(): Promise<void> {
    if (closed) return;
    try {
      const controller = await new Watch(opts.kubeConfig).watch(
        `/apis/batch/v1/namespaces/${encodeURIComponent(namespace)}/jobs`,
        { labelSelector: selector },
        (phase: string, job: V1Job) => {
          if (phase === 'ADDED' || phase === 'MODIFIED') consider(job);
          else if (phase === 'DELETED' && job.metadata?.name) reported.delete(job.metadata.name);
        },
        (err: unknown) => {
          watching = undefined;
          if (closed) return;
          // A watch ends normally after the server's timeout; anything else is worth a line.
          if (err) logger.warn({ err }, 'Job watch ended; watching again');
          // What finished while the watch was down is found by the next list.
          pollNow();
          scheduleWatch();
        },
      );
      if (closed) controller.abort();
      else watching = controller;
    } catch (err) {
      logger.warn({ err }, 'could not watch Jobs');
      scheduleWatch();
    }
  }

  function start(): void {
    if (started) return;
    started = true;
    pollNow();
    if (opts.watch ?? true) void openWatch();
    const every = opts.pollIntervalMs ?? 10_000;
    if (every <= 0) return;
    timer = setInterval(pollNow, every);
    timer.unref();
  }

  return {
    async launch(spec: JobSpec): Promise<JobHandle> {
      const template = opts.templates?.[spec.command.target] ?? opts.template;
      const body = renderJob(template, spec, namespace);
      const name = body.metadata.name ?? '';
      try {
        await batch.createNamespacedJob({ namespace, body });
        logger.info({ queue_id: spec.command.queue_id, job: name, namespace }, 'Job created');
      } catch (err) {
        // The same attempt's Job exists already (a manager restarted mid-launch): it is ours.
        if (statusOf(err) !== 409) throw err;
        logger.warn({ queue_id: spec.command.queue_id, job: name }, 'Job exists already');
      }
      return { name, queue_id: spec.command.queue_id };
    },

    async list(): Promise<ExistingJob[]> {
      const list = await batch.listNamespacedJob({ namespace, labelSelector: selector });
      return list.items.flatMap((job) => identityOf(job) ?? []);
    },

    async cancel(queueId: string): Promise<void> {
      const list = await batch.listNamespacedJob({
        namespace,
        labelSelector: `${JobLabels.queueId}=${queueId}`,
      });
      for (const job of list.items) {
        const name = job.metadata?.name;
        if (!name) continue;
        try {
          await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
          logger.info({ queue_id: queueId, job: name }, 'Job deleted');
        } catch (err) {
          if (statusOf(err) !== 404) throw err;
        }
      }
    },

    onExit(listener) {
      listeners.push(listener);
      start();
    },

    async close() {
      closed = true;
      if (timer) clearInterval(timer);
      if (rewatch) clearTimeout(rewatch);
      timer = undefined;
      rewatch = undefined;
      watching?.abort();
      watching = undefined;
      await polling;
    },
  };
}
