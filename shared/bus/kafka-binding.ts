/**
 * CloudEvents Kafka protocol binding, binary content mode (DESIGN.md "Contracts": everything on
 * Kafka is a CloudEvent with `ce_` headers, so a KafkaSource forwards it unchanged).
 *
 * Both bus adapters use this one encoding: the in-process bus stores exactly the record Kafka
 * would carry, so an event that could not cross the wire fails in embedded mode too.
 *
 * Written by hand rather than with `Kafka.binary` from the cloudevents SDK because the SDK
 * (10.0) leaves `value` as the data object (not serialised), emits `undefined` headers for
 * unset attributes (kafkajs rejects those), fills in `time` and a random `id` when absent, and
 * on decode rewrites `ce_time` through `Date` (sub-millisecond precision is lost). The
 * Kafka-bus test shows the SDK's `Kafka.toEvent` reads what this writes.
 * Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/kafka-protocol-binding.md
 */
import { z } from 'zod';
import { InvalidInputError } from '../runtime/errors.ts';
import type { BusEvent, OutgoingMessage } from './event-bus.ts';

/** A record as it travels on Kafka: key, string headers and the serialised data. */
export interface WireRecord {
  key: string | null;
  headers: Record<string, string>;
  value: string;
}

/** Header values as kafkajs hands them over (Buffers, possibly repeated). */
export type RawHeaders = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

const DEFAULT_CONTENT_TYPE = 'application/json';
const CORE = ['specversion', 'id', 'source', 'type', 'time', 'subject'] as const;
const RESERVED = new Set<string>([...CORE, 'datacontenttype', 'data', 'data_base64']);
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;

const Attributes = z.object({
  ce_specversion: z.literal('1.0'),
  ce_id: z.string().min(1),
  ce_source: z.string().min(1),
  ce_type: z.string().min(1),
  ce_time: z.string().min(1).optional(),
  ce_subject: z.string().optional(),
  'content-type': z.string().optional(),
});

/** JSON and `+json` media types carry parsed data; anything else travels as text. */
function isJson(contentType: string): boolean {
  const base = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return base === 'application/json' || base.endsWith('+json') || base === 'text/json';
}

/**
 * Event data already serialised as JSON by its producer (a loader passing an exchange page on as
 * it came): encodeEvent uses the text as the record value instead of serialising again. Anything
 * else that serialises it (JSON.stringify) still gets the value, through toJSON.
 */
export class JsonText {
  constructor(readonly text: string) {}
  toJSON(): unknown {
    return JSON.parse(this.text);
  }
}

/** Encodes one message; throws InvalidInputError when the event is not a valid CloudEvent. */
export function encodeEvent(msg: OutgoingMessage): WireRecord {
  const e = msg.event;
  if (e.specversion !== '1.0') throw new InvalidInputError(`event ${e.id}: specversion must be "1.0"`);
  for (const name of ['id', 'source', 'type'] as const) {
    if (typeof e[name] !== 'string' || e[name].length === 0) {
      throw new InvalidInputError(`event: attribute "${name}" must be a non-empty string`);
    }
  }
  const contentType = e.datacontenttype ?? DEFAULT_CONTENT_TYPE;
  const headers: Record<string, string> = { 'content-type': contentType };
  for (const name of CORE) {
    const v = e[name];
    if (v !== undefined) headers[`ce_${name}`] = v;
  }
  for (const [name, v] of Object.entries(e.extensions ?? {})) {
    if (!EXTENSION_NAME.test(name) || RESERVED.has(name)) {
      throw new InvalidInputError(`event ${e.id}: invalid extension attribute name "${name}"`);
    }
    if (typeof v !== 'string')
      throw new InvalidInputError(`event ${e.id}: extension "${name}" must be a string`);
    headers[`ce_${name}`] = v;
  }
  let value: string | undefined;
  if (e.data instanceof JsonText && isJson(contentType)) value = e.data.text;
  else if (!isJson(contentType) && typeof e.data === 'string') value = e.data;
  else value = JSON.stringify(e.data);
  // JSON.stringify(undefined) is undefined: an event without data still needs a value.
  return { key: msg.key, headers, value: value ?? 'null' };
}

function headerText(v: Buffer | string | (Buffer | string)[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  const one = Array.isArray(v) ? v[v.length - 1] : v;
  return one === undefined ? undefined : one.toString();
}

/**
 * Checks an already encoded record (the ingress passes a child's records through without
 * parsing their data): its headers must carry a binary-mode CloudEvent. Like a Kafka broker, it
 * does not parse the value; a consumer that cannot decode it skips it (decodeEvent).
 */
export function assertWireRecord(r: WireRecord): void {
  const parsed = Attributes.safeParse(r.headers);
  if (!parsed.success)
    throw InvalidInputError.fromZod('record is not a binary-mode CloudEvent', parsed.error);
  const core = new Set<string>(CORE);
  for (const header of Object.keys(r.headers)) {
    if (header === 'content-type') continue;
    const name = header.startsWith('ce_') ? header.slice(3) : undefined;
    if (name === undefined || (!core.has(name) && (RESERVED.has(name) || !EXTENSION_NAME.test(name))))
      throw new InvalidInputError(`record ${parsed.data.ce_id}: unexpected header "${header}"`);
  }
}

/**
 * Decodes a binary-mode record. Throws InvalidInputError for a record that is not a CloudEvent
 * (missing `ce_` attributes, unparsable JSON data): such a record can never be handled.
 */
export function decodeEvent(rawHeaders: RawHeaders, value: Buffer | string | null): BusEvent {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(rawHeaders)) {
    const text = headerText(v);
    if (text !== undefined) headers[k.toLowerCase()] = text;
  }
  const parsed = Attributes.safeParse(headers);
  if (!parsed.success)
    throw InvalidInputError.fromZod('record is not a binary-mode CloudEvent', parsed.error);
  const a = parsed.data;
  const contentType = a['content-type'];
  const text = value === null ? '' : value.toString();
  let data: unknown = text;
  if (contentType === undefined || isJson(contentType)) {
    try {
      data = text.length === 0 ? null : JSON.parse(text);
    } catch (err) {
      throw new InvalidInputError(`event ${a.ce_id}: data is not valid JSON (${(err as Error).message})`);
    }
  }
  const event: BusEvent = { specversion: '1.0', id: a.ce_id, source: a.ce_source, type: a.ce_type, data };
  if (a.ce_time !== undefined) event.time = a.ce_time;
  if (a.ce_subject !== undefined) event.subject = a.ce_subject;
  if (contentType !== undefined) event.datacontenttype = contentType;
  const extensions: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (!k.startsWith('ce_')) continue;
    const name = k.slice(3);
    if (!RESERVED.has(name)) extensions[name] = v;
  }
  if (Object.keys(extensions).length > 0) event.extensions = extensions;
  return event;
}

/** Kafka's legal topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Throws InvalidInputError for a name Kafka would refuse, in both adapters alike. */
export function assertTopicName(topic: string): void {
  if (!TOPIC_NAME.test(topic)) throw new InvalidInputError(`invalid topic name "${topic}"`);
}

/** Record size on the wire in bytes (headers + key + value), for metrics and benches. */
export function wireSize(r: WireRecord): number {
  let n = Buffer.byteLength(r.value) + (r.key === null ? 0 : Buffer.byteLength(r.key));
  for (const [k, v] of Object.entries(r.headers)) n += Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}
