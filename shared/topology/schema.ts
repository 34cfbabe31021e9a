/**
 * The topology files as data: KafkaSources (`kafka-sources/<function>.yaml`, knative.md §3–§4)
 * and the topic definitions (`kafka-sources/topics.yaml`). The cluster applies the KafkaSources;
 * the local runner reads the same files, so what runs locally is what is deployed.
 *
 * These schemas check what the local runner relies on and the rules the CRD schema leaves to
 * Knative's webhook (initialOffset and ordering values, annotation values as strings). The full
 * CRD validation against test/fixtures/schemas lives in the manifest tests.
 */
import { z } from 'zod';

/** Kubernetes object reference used by `sink.ref` and `delivery.deadLetterSink.ref`. */
export const KReference = z.strictObject({
  apiVersion: z.string().min(1).optional(),
  kind: z.string().min(1),
  name: z.string().min(1),
  namespace: z.string().min(1).optional(),
  group: z.string().optional(),
  address: z.string().optional(),
});
export type KReference = z.infer<typeof KReference>;

/** Knative Destination: a ref (resolved to its address), a URI, or a ref plus a relative URI. */
export const Destination = z
  .strictObject({
    ref: KReference.optional(),
    uri: z.string().min(1).optional(),
    CACerts: z.string().optional(),
    audience: z.string().optional(),
  })
  .refine((d) => d.ref !== undefined || d.uri !== undefined, {
    message: 'a destination needs `ref` or `uri`',
  });
export type Destination = z.infer<typeof Destination>;

/** ISO-8601 duration as Knative accepts it for `backoffDelay`, e.g. `PT0.5S`, `PT2M`, `P1D`. */
export const ISO_DURATION =
  /^P(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/;

export const DeliverySpec = z.strictObject({
  /** Retries after the first attempt (knative.md §3: 5xx, 404, 408, 409, 429, network errors). */
  retry: z.number().int().nonnegative().optional(),
  backoffPolicy: z.enum(['exponential', 'linear']).optional(),
  backoffDelay: z
    .string()
    .regex(ISO_DURATION, 'backoffDelay must be an ISO-8601 duration such as "PT0.5S"')
    .refine((s) => s !== 'P' && !s.endsWith('T'), 'backoffDelay must name at least one unit')
    .optional(),
  deadLetterSink: Destination.optional(),
  timeout: z.string().regex(ISO_DURATION, 'timeout must be an ISO-8601 duration').optional(),
  retryAfterMax: z.string().regex(ISO_DURATION).optional(),
});
export type DeliverySpec = z.infer<typeof DeliverySpec>;

const AUTOSCALING = 'autoscaling.eventing.knative.dev/';
/** KEDA annotations whose values are whole numbers (knative.md §4); quoted, as annotations are strings. */
const NUMERIC_ANNOTATIONS = [
  'min-scale',
  'max-scale',
  'lag-threshold',
  'polling-interval',
  'cooldown-period',
];

const Annotations = z
  .record(z.string(), z.string({ error: 'annotation values must be strings: quote numbers, e.g. "10"' }))
  .superRefine((a, ctx) => {
    for (const name of NUMERIC_ANNOTATIONS) {
      const v = a[AUTOSCALING + name];
      if (v !== undefined && !/^\d+$/.test(v)) {
        ctx.addIssue({
          code: 'custom',
          path: [AUTOSCALING + name],
          message: `must be a whole number, got "${v}"`,
        });
      }
    }
    const cls = a[`${AUTOSCALING}class`];
    if (cls !== undefined && cls !== 'keda.autoscaling.knative.dev' && cls !== 'disabled') {
      ctx.addIssue({
        code: 'custom',
        path: [`${AUTOSCALING}class`],
        message: 'must be "keda.autoscaling.knative.dev" or "disabled"',
      });
    }
    const min = Number(a[`${AUTOSCALING}min-scale`] ?? 0);
    const max = a[`${AUTOSCALING}max-scale`];
    if (max !== undefined && Number(max) < min) {
      ctx.addIssue({
        code: 'custom',
        path: [`${AUTOSCALING}max-scale`],
        message: 'max-scale is below min-scale',
      });
    }
  });

/** A KafkaSource manifest (`sources.knative.dev/v1`). */
export const KafkaSource = z.strictObject({
  apiVersion: z.literal('sources.knative.dev/v1', { error: 'apiVersion must be "sources.knative.dev/v1"' }),
  kind: z.literal('KafkaSource', { error: 'kind must be "KafkaSource"' }),
  metadata: z.looseObject({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'metadata.name must be a DNS-1123 label'),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: Annotations.optional(),
  }),
  spec: z.strictObject({
    bootstrapServers: z.array(z.string().min(1)).min(1, 'bootstrapServers must list at least one broker'),
    topics: z.array(z.string().min(1)).min(1, 'topics must list at least one topic'),
    consumerGroup: z.string().min(1).optional(),
    consumers: z.number().int().positive().optional(),
    /** Webhook rule, not in the CRD schema: only these two values (SOURCES.md quirk 7). */
    initialOffset: z.enum(['earliest', 'latest']).optional(),
    ordering: z.enum(['ordered', 'unordered']).optional(),
    delivery: DeliverySpec.optional(),
    sink: Destination,
    ceOverrides: z
      .strictObject({
        extensions: z
          .record(
            z.string().regex(/^[a-z0-9]{1,20}$/, 'CloudEvent extension names use a-z and 0-9 (at most 20)'),
            z.string(),
          )
          .optional(),
      })
      .optional(),
    net: z.record(z.string(), z.unknown()).optional(),
  }),
});
export type KafkaSource = z.infer<typeof KafkaSource>;

/** Kafka topic configs as strings, as Kafka takes them (`retention.ms: "604800000"`). */
const TopicConfig = z
  .record(
    z.string().regex(/^[a-z]+(\.[a-z]+)*$/, 'topic config names look like "retention.ms"'),
    z.string({ error: 'topic config values must be strings: quote numbers' }),
  )
  .superRefine((c, ctx) => {
    const policy = c['cleanup.policy'];
    if (policy !== undefined && !['delete', 'compact', 'compact,delete', 'delete,compact'].includes(policy)) {
      ctx.addIssue({
        code: 'custom',
        path: ['cleanup.policy'],
        message: 'must be "delete", "compact" or both',
      });
    }
    const retention = c['retention.ms'];
    if (retention !== undefined && !/^(-1|\d+)$/.test(retention)) {
      ctx.addIssue({
        code: 'custom',
        path: ['retention.ms'],
        message: 'must be milliseconds or -1 (forever)',
      });
    }
  });

const TopicName = z.string().regex(/^[a-zA-Z0-9._-]{1,249}$/, 'not a legal Kafka topic name');

/**
 * One Strimzi `KafkaTopic` (kafka.strimzi.io/v1, Strimzi's CRD in test/fixtures/schemas/strimzi):
 * `kafka-sources/topics.yaml` holds one per topic. The cluster applies them (the Topic Operator
 * creates the topics); `npm start`, the local runner and the tests create the same topics from
 * the same file (EventBus.ensureTopics). Stricter than the CRD where the local code relies on it:
 * partitions are required, config values are strings.
 */
export const KafkaTopic = z.strictObject({
  apiVersion: z.literal('kafka.strimzi.io/v1'),
  kind: z.literal('KafkaTopic'),
  metadata: z.looseObject({
    name: z
      .string()
      .regex(/^[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/, 'metadata.name must be a DNS-1123 subdomain')
      .max(253),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.strictObject({
    /** The Kafka topic name when it is not a valid Kubernetes name; default metadata.name. */
    topicName: TopicName.optional(),
    partitions: z.number().int().positive(),
    /** Left to the broker's default.replication.factor when absent. */
    replicas: z.number().int().min(1).max(32767).optional(),
    config: TopicConfig.optional(),
  }),
});
export type KafkaTopic = z.infer<typeof KafkaTopic>;
