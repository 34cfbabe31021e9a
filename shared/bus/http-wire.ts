/**
 * JSON bodies of the HTTP bus bridge (http-bridge.ts serves them, http-bus.ts sends them). A
 * child process of the embedded platform reaches the parent's in-process bus through these.
 */
import { z } from 'zod';

/** A CloudEvent as BusEvent, on the wire. Full CloudEvent checks happen in the bus's binding. */
export const WireEvent = z.object({
  specversion: z.literal('1.0'),
  id: z.string().min(1),
  source: z.string().min(1),
  type: z.string().min(1),
  time: z.string().optional(),
  subject: z.string().optional(),
  datacontenttype: z.string().optional(),
  data: z.unknown(),
  extensions: z.record(z.string(), z.string()).optional(),
});

export const PublishBody = z.object({
  topic: z.string().min(1),
  messages: z.array(z.object({ key: z.string().nullable(), event: WireEvent })),
});

/**
 * The same publish with every message already in its Kafka wire form (kafka-binding.ts
 * `encodeEvent`): the bridge appends the records without parsing their data, as a broker does.
 */
export const PublishWireBody = z.object({
  topic: z.string().min(1),
  records: z.array(
    z.object({
      key: z.string().nullable(),
      headers: z.record(z.string(), z.string()),
      value: z.string(),
    }),
  ),
});

export const TopicsBody = z.object({
  topics: z.array(
    z.object({
      topic: z.string().min(1),
      partitions: z.number().int().positive().optional(),
      config: z.record(z.string(), z.string()).optional(),
    }),
  ),
});

export const SubscribeBody = z.object({
  groupId: z.string().min(1),
  topics: z.array(z.string().min(1)).min(1),
  from: z.enum(['earliest', 'latest']).optional(),
  partitionsConsumedConcurrently: z.number().int().positive().optional(),
});

export const SubscribeReply = z.object({ id: z.string().min(1) });

export const WireIncoming = z.object({
  topic: z.string(),
  partition: z.number().int().nonnegative(),
  offset: z.string(),
  key: z.string().nullable(),
  event: WireEvent,
  redeliveries: z.number().int().nonnegative(),
});

/** One message handed to the child; it answers with an ack naming `delivery`. */
export const PollReply = z.object({
  deliveries: z.array(z.object({ delivery: z.string().min(1), message: WireIncoming })),
});
export type PollReply = z.infer<typeof PollReply>;

export const AckBody = z.object({
  delivery: z.string().min(1),
  ok: z.boolean(),
  /** Why the child's handler failed (logged by the parent). */
  error: z.string().optional(),
});

/** Error body of every non-2xx bridge answer. */
export const BridgeError = z.object({ error: z.string(), issues: z.array(z.unknown()).optional() });

/** Parsed JSON, or the text itself when it is not JSON (error bodies of proxies, say). */
export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
