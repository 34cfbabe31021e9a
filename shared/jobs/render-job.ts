/**
 * Renders the batch/v1 Job for one workflow attempt from the template kept in
 * `knative/jobs/loader-job.yaml`: the template fixes resources, security context, TTL and retry
 * policy; the render adds the name, labels, image, entrypoint and command environment.
 */
import { createHash } from 'node:crypto';
import { parse } from 'yaml';
import { z } from 'zod';
import type { JobSpec } from './job-launcher.ts';

/** Label keys the manager sets (and selects Jobs by). */
export const JobLabels = {
  partOf: 'app.kubernetes.io/part-of',
  queueId: 'streamforge.io/queue-id',
  target: 'streamforge.io/target',
  attempt: 'streamforge.io/attempt',
} as const;

/** A Job manifest as plain JSON (what goes over the wire). */
export type JobManifest = Record<string, unknown> & {
  apiVersion: 'batch/v1';
  kind: 'Job';
  metadata: { name?: string; namespace?: string; labels?: Record<string, string> } & Record<string, unknown>;
  spec: {
    template: { metadata?: { labels?: Record<string, string> } & Record<string, unknown>; spec: PodSpec };
  } & Record<string, unknown>;
};
type PodSpec = Record<string, unknown> & { containers: Container[] };
type Container = Record<string, unknown> & { name: string; env?: { name: string; value?: string }[] };

/** What the renderer relies on in a template; everything else passes through untouched. */
const Template = z.looseObject({
  apiVersion: z.literal('batch/v1'),
  kind: z.literal('Job'),
  metadata: z.looseObject({ labels: z.record(z.string(), z.string()).optional() }).default({}),
  spec: z.looseObject({
    template: z.looseObject({
      metadata: z.looseObject({ labels: z.record(z.string(), z.string()).optional() }).optional(),
      spec: z.looseObject({
        containers: z
          .array(
            z.looseObject({
              name: z.string().min(1),
              env: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).optional(),
            }),
          )
          .min(1),
      }),
    }),
  }),
});

/** Parses and checks a Job template (YAML text). */
export function parseJobTemplate(yamlText: string): JobManifest {
  const r = Template.safeParse(parse(yamlText));
  if (!r.success) {
    throw new Error(
      `invalid Job template: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  }
  return r.data;
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/**
 * Job name for an attempt: the queue id made DNS-1123 (lower case, `_` → `-`) plus `-a<attempt>`,
 * at most 63 characters (the Job controller copies it into the pods' `job-name` label). Longer
 * ones keep a prefix and a hash of the whole, so names stay unique.
 */
export function jobName(queueId: string, attempt: number): string {
  const suffix = `-a${attempt}`;
  const base = queueId.toLowerCase().replace(/[^a-z0-9-]+/g, '-');
  let name = `${base}${suffix}`;
  if (name.length > 63) {
    const hash = createHash('sha256').update(queueId).digest('hex').slice(0, 8);
    name = `${base.slice(0, 63 - suffix.length - hash.length - 1).replace(/-+$/, '')}-${hash}${suffix}`;
  }
  name = name.replace(/^-+/, '');
  if (!DNS_LABEL.test(name)) throw new Error(`cannot make a Job name from ${queueId}`);
  return name;
}

function labelValue(v: string): string {
  if (v.length > 63 || !LABEL_VALUE.test(v)) throw new Error(`not a valid label value: ${v}`);
  return v;
}

/** The Job for `spec` in `namespace`. The template is not modified. */
export function renderJob(template: JobManifest, spec: JobSpec, namespace: string): JobManifest {
  const cmd = spec.command;
  if (!spec.image) throw new Error(`no image for target ${cmd.target}`);
  const job = structuredClone(template);
  const labels = {
    [JobLabels.partOf]: 'streamforge',
    [JobLabels.queueId]: labelValue(cmd.queue_id),
    [JobLabels.target]: labelValue(cmd.target),
    [JobLabels.attempt]: String(cmd.attempt),
  };
  job.metadata = { ...job.metadata, name: jobName(cmd.queue_id, cmd.attempt), namespace };
  job.metadata.labels = { ...job.metadata.labels, ...labels };
  const pod = job.spec.template;
  pod.metadata = { ...pod.metadata, labels: { ...pod.metadata?.labels, ...labels } };

  const [container, ...sidecars] = pod.spec.containers;
  if (!container) throw new Error('Job template has no container');
  const extra = { ...spec.env, STREAMFORGE_COMMAND: JSON.stringify(cmd) };
  const env = (container.env ?? []).filter((e) => !(e.name in extra));
  for (const [name, value] of Object.entries(extra)) env.push({ name, value });
  pod.spec.containers = [
    { ...container, image: spec.image, args: [`functions/${cmd.target}/main.ts`], env },
    ...sidecars,
  ];
  return job;
}
