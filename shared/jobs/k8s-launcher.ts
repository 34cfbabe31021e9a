/**
 * JobLauncher on Kubernetes (@kubernetes/client-node 1.x, object-parameter API): one batch/v1 Job
 * per workflow attempt, rendered from the template (render-job.ts); cancel deletes the workflow's
 * Jobs with background propagation (their pods go too). Finished Jobs are found by polling the
 * Jobs labelled `app.kubernetes.io/part-of=streamforge`, which also reports Jobs that finished
 * while the manager was down.
 */
import { BatchV1Api, KubeConfig, type V1Job } from '@kubernetes/client-node';
import type { Logger } from '../runtime/logger.ts';
import type { JobExit, JobHandle, JobLauncher, JobSpec } from './job-launcher.ts';
import { JobLabels, renderJob, type JobManifest } from './render-job.ts';

export interface K8sLauncherOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  template: JobManifest;
  logger: Logger;
  /** How often finished Jobs are looked for; 0 = never (no exit reports). Default 10 s. */
  pollIntervalMs?: number;
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
  const listeners: ((exit: JobExit) => void)[] = [];
  /** Finished Jobs already reported (pruned when the Job is gone). */
  const reported = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let polling: Promise<void> | undefined;

  async function poll(): Promise<void> {
    const list = await batch.listNamespacedJob({
      namespace,
      labelSelector: `${JobLabels.partOf}=streamforge`,
    });
    const seen = new Set<string>();
    for (const job of list.items) {
      const name = job.metadata?.name;
      const labels = job.metadata?.labels ?? {};
      const queueId = labels[JobLabels.queueId];
      const code = exitCodeOf(job);
      if (!name || !queueId || code === undefined) continue;
      seen.add(name);
      if (reported.has(name)) continue;
      reported.add(name);
      const attempt = Number(labels[JobLabels.attempt]);
      const exit: JobExit = {
        queue_id: queueId,
        name,
        code,
        signal: null,
        ...(attempt > 0 ? { attempt } : {}),
      };
      logger.info({ queue_id: queueId, job: name, code }, 'job finished');
      for (const l of listeners) l(exit);
    }
    for (const name of reported) if (!seen.has(name)) reported.delete(name);
  }

  function startPolling(): void {
    const every = opts.pollIntervalMs ?? 10_000;
    if (timer || every <= 0) return;
    timer = setInterval(() => {
      polling ??= poll()
        .catch((err: unknown) => logger.warn({ err }, 'could not list Jobs'))
        .finally(() => {
          polling = undefined;
        });
    }, every);
    timer.unref();
  }

  return {
    async launch(spec: JobSpec): Promise<JobHandle> {
      const body = renderJob(opts.template, spec, namespace);
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
      startPolling();
    },

    async close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await polling;
    },
  };
}
