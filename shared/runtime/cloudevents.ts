/**
 * CloudEvents over HTTP (knative.md §6): binary, structured and batched content modes, on top of
 * the cloudevents SDK's HTTP binding.
 *
 * The SDK (10.0) is lenient where a sink must not be: on decode it invents an `id` and a `time`
 * when they are missing, replaces an unparseable `time` with "now", skips schema validation in
 * binary and structured mode, and its JSON parser turns a body such as `42` into the string
 * "42". So the required attributes are checked here first (listing every problem), the SDK maps
 * attributes and extensions and runs its JSON-schema check, and data is decoded here.
 * Spec: https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
 */
import { randomUUID } from 'node:crypto';
import { CloudEvent, CONSTANTS, HTTP, ValidationError } from 'cloudevents';
import { z } from 'zod';
import type { BusEvent } from '../bus/event-bus.ts';
import { InvalidInputError } from './errors.ts';

/** One problem with an incoming event, zod-issue shaped so every 400 reads the same. */
export interface EventIssue {
  path: (string | number)[];
  message: string;
}

/** Attributes the runtime maps itself; everything else is an extension. */
const KNOWN = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'data',
  'data_base64',
  'datacontentencoding',
  'schemaurl',
]);

const RFC3339 = z.iso.datetime({ offset: true, local: false });

/** The attributes every event must carry, checked before the SDK fills any gaps. */
const requiredString = (name: string) =>
  z
    .string({
      error: (iss) => (iss.input === undefined ? `${name} is required` : `${name} must be a string`),
    })
    .min(1, `${name} must not be empty`);

const RequiredAttributes = z.object({
  specversion: z.literal('1.0', { error: 'specversion must be "1.0"' }),
  id: requiredString('id'),
  source: requiredString('source'),
  type: requiredString('type'),
  time: RFC3339.optional(),
  subject: z.string().optional(),
  datacontenttype: z.string().min(1).optional(),
});

/** JSON and `+json` media types carry parsed data; anything else stays text. */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return true;
  const base = contentType.split(';')[0]?.trim().toLowerCase() ?? '';
  return base === 'application/json' || base === 'text/json' || base.endsWith('+json');
}

/** Percent-encoding of header values: space, `"`, `%` and anything outside printable ASCII. */
export function encodeHeaderValue(v: string): string {
  return v.replace(/[^\x21-\x7e]|["%]/gu, (ch) => encodeURIComponent(ch));
}

export function decodeHeaderValue(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v; // not percent-encoded after all: keep it as sent
  }
}

function zodIssues(
  err: z.ZodError,
  prefix: (string | number)[],
  rename?: (k: string) => string,
): EventIssue[] {
  return err.issues.map((i) => ({
    path: [
      ...prefix,
      ...i.path.map((p) => (typeof p === 'string' && rename ? rename(p) : (p as string | number))),
    ],
    message: i.message,
  }));
}

function sdkIssues(err: unknown, prefix: (string | number)[]): EventIssue[] {
  if (err instanceof ValidationError && Array.isArray(err.errors) && err.errors.length > 0) {
    return err.errors.map((e) =>
      typeof e === 'string'
        ? { path: prefix, message: e }
        : {
            path: [...prefix, ...e.instancePath.split('/').filter((s) => s.length > 0)],
            message: e.message ?? 'invalid',
          },
    );
  }
  return [{ path: prefix, message: err instanceof Error ? err.message.split('\n')[0]! : String(err) }];
}

function decodeData(
  raw: string,
  contentType: string | undefined,
  at: (string | number)[],
  issues: EventIssue[],
): unknown {
  if (raw.length === 0) return null;
  if (!isJsonContentType(contentType)) return raw;
  try {
    return JSON.parse(raw) as unknown;
  } catch (err) {
    // Without a declared content type the body may be plain text; a declared JSON type must parse.
    if (contentType === undefined) return raw;
    issues.push({ path: at, message: `invalid JSON body: ${(err as Error).message}` });
    return undefined;
  }
}

/** Builds the plain BusEvent from a validated SDK event plus the data and time decoded here. */
function toBusEvent(ce: CloudEvent, data: unknown, time: string | undefined): BusEvent {
  const extensions: Record<string, string> = {};
  for (const [k, v] of Object.entries(ce)) {
    if (KNOWN.has(k) || v === undefined || v === null) continue;
    extensions[k] = typeof v === 'string' ? v : JSON.stringify(v);
  }
  return {
    specversion: '1.0',
    id: ce.id,
    source: ce.source,
    type: ce.type,
    ...(time === undefined ? {} : { time }),
    ...(ce.subject === undefined ? {} : { subject: ce.subject }),
    ...(ce.datacontenttype === undefined ? {} : { datacontenttype: ce.datacontenttype }),
    data,
    ...(Object.keys(extensions).length > 0 ? { extensions } : {}),
  };
}

function validateSdk(ce: CloudEvent, at: (string | number)[], issues: EventIssue[]): boolean {
  try {
    ce.validate();
    return true;
  } catch (err) {
    issues.push(...sdkIssues(err, at));
    return false;
  }
}

function parseBinary(headers: Record<string, string>, body: string): BusEvent {
  const issues: EventIssue[] = [];
  const attrs = {
    specversion: headers['ce-specversion'],
    id: headers['ce-id'],
    source: headers['ce-source'],
    type: headers['ce-type'],
    time: headers['ce-time'],
    subject: headers['ce-subject'],
    datacontenttype: headers['content-type'],
  };
  const checked = RequiredAttributes.safeParse(attrs);
  if (!checked.success) {
    issues.push(
      ...zodIssues(checked.error, [], (k) => (k === 'datacontenttype' ? 'content-type' : `ce-${k}`)),
    );
  }
  const data = decodeData(body, attrs.datacontenttype, ['body'], issues);
  if (issues.length > 0) throw new InvalidInputError('invalid CloudEvent (binary mode)', issues);
  // An empty body keeps the SDK away from the data (see the header comment).
  const ce = HTTP.toEvent({ headers, body: '' }) as CloudEvent;
  if (!validateSdk(ce, [], issues)) throw new InvalidInputError('invalid CloudEvent (binary mode)', issues);
  return toBusEvent(ce, data, attrs.time);
}

function parseStructuredObject(
  obj: unknown,
  at: (string | number)[],
  issues: EventIssue[],
): BusEvent | undefined {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
    issues.push({ path: at, message: 'a structured CloudEvent must be a JSON object' });
    return undefined;
  }
  const rec = obj as Record<string, unknown>;
  const checked = RequiredAttributes.safeParse(rec);
  if (!checked.success) {
    issues.push(...zodIssues(checked.error, at));
    return undefined;
  }
  let data: unknown = rec['data'] ?? null;
  if (typeof rec['data_base64'] === 'string') {
    const before = issues.length;
    const text = Buffer.from(rec['data_base64'], 'base64').toString('utf8');
    data = decodeData(text, checked.data.datacontenttype, [...at, 'data_base64'], issues);
    if (issues.length > before) return undefined;
  }
  const { data: _d, data_base64: _b, ...attributes } = rec;
  const ce = HTTP.toEvent({
    headers: { 'content-type': CONSTANTS.DEFAULT_CE_CONTENT_TYPE },
    body: attributes,
  }) as CloudEvent;
  if (!validateSdk(ce, at, issues)) return undefined;
  return toBusEvent(ce, data, checked.data.time);
}

function parseJsonBody(body: string, mode: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch (err) {
    throw new InvalidInputError(`invalid CloudEvent (${mode} mode)`, [
      { path: ['body'], message: `invalid JSON body: ${(err as Error).message}` },
    ]);
  }
}

/**
 * Decodes the CloudEvents of one HTTP request. Mode by `Content-Type`: `application/cloudevents-batch`
 * → batched, `application/cloudevents` → structured, else binary (`ce-*` headers). JSON data is
 * parsed; other content types stay strings. Throws InvalidInputError (400) listing every problem.
 */
export function parseHttpEvents(headers: Headers, body: string): BusEvent[] {
  const plain: Record<string, string> = {};
  // Fetch Headers iterate with lower-case names, which is what the SDK expects.
  headers.forEach((value, name) => {
    plain[name] = name.startsWith('ce-') ? decodeHeaderValue(value) : value;
  });
  const contentType = (plain['content-type'] ?? '').toLowerCase();

  if (contentType.startsWith(CONSTANTS.MIME_CE_BATCH)) {
    const arr = parseJsonBody(body, 'batched');
    if (!Array.isArray(arr)) {
      throw new InvalidInputError('invalid CloudEvent (batched mode)', [
        { path: ['body'], message: 'a CloudEvents batch must be a JSON array' },
      ]);
    }
    const issues: EventIssue[] = [];
    const events = arr.map((item, i) => parseStructuredObject(item, [i], issues));
    if (issues.length > 0) throw new InvalidInputError('invalid CloudEvent (batched mode)', issues);
    return events as BusEvent[];
  }
  if (contentType.startsWith(CONSTANTS.MIME_CE)) {
    const issues: EventIssue[] = [];
    const event = parseStructuredObject(parseJsonBody(body, 'structured'), [], issues);
    if (event === undefined) throw new InvalidInputError('invalid CloudEvent (structured mode)', issues);
    return [event];
  }
  if (plain['ce-id'] === undefined && plain['ce-specversion'] === undefined) {
    throw new InvalidInputError('not a CloudEvent', [
      {
        path: ['headers'],
        message:
          'expected ce-* headers (binary mode) or Content-Type application/cloudevents+json (structured mode)',
      },
    ]);
  }
  return [parseBinary(plain, body)];
}

function sdkEvent(event: BusEvent): CloudEvent {
  return new CloudEvent({
    ...event.extensions,
    specversion: event.specversion,
    id: event.id,
    source: event.source,
    type: event.type,
    ...(event.time === undefined ? {} : { time: event.time }),
    ...(event.subject === undefined ? {} : { subject: event.subject }),
    ...(event.datacontenttype === undefined ? {} : { datacontenttype: event.datacontenttype }),
  });
}

/** Binary-mode HTTP message: `ce-*` headers (percent-encoded), data as the body. */
export function toHttpBinary(event: BusEvent): { headers: Record<string, string>; body: string } {
  const sdk = HTTP.binary(sdkEvent(event));
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(sdk.headers)) {
    if (value === undefined) continue;
    const v = Array.isArray(value) ? value.join(',') : String(value);
    headers[name] = name.startsWith('ce-') ? encodeHeaderValue(v) : v;
  }
  // The SDK stamps "now" on an event without time and re-renders time through Date (losing
  // sub-millisecond digits): keep the event's own value.
  if (event.time === undefined) delete headers['ce-time'];
  else headers['ce-time'] = encodeHeaderValue(event.time);
  headers['content-type'] = event.datacontenttype ?? 'application/json';
  return { headers, body: encodeData(event) };
}

function encodeData(event: BusEvent): string {
  if (event.data === undefined || event.data === null) return '';
  if (!isJsonContentType(event.datacontenttype)) {
    return typeof event.data === 'string' ? event.data : JSON.stringify(event.data);
  }
  return JSON.stringify(event.data);
}

/** Structured-mode HTTP message: `application/cloudevents+json` with the whole event as the body. */
export function toHttpStructured(event: BusEvent): { headers: Record<string, string>; body: string } {
  const sdk = HTTP.structured(sdkEvent(event));
  const obj = JSON.parse(String(sdk.body)) as Record<string, unknown>;
  if (event.time === undefined) delete obj['time'];
  else obj['time'] = event.time;
  obj['data'] = event.data ?? null;
  return { headers: { 'content-type': String(sdk.headers['content-type']) }, body: JSON.stringify(obj) };
}

/** Batched-mode HTTP message: a JSON array of structured events. */
export function toHttpBatch(events: BusEvent[]): { headers: Record<string, string>; body: string } {
  const body = `[${events.map((e) => toHttpStructured(e).body).join(',')}]`;
  return { headers: { 'content-type': `${CONSTANTS.MIME_CE_BATCH}; charset=utf-8` }, body };
}

/** A new CloudEvent with `specversion` 1.0, a random uuid `id` (unless given) and `time` now. */
export function makeEvent<T>(a: {
  type: string;
  source: string;
  data: T;
  id?: string;
  subject?: string;
  extensions?: Record<string, string>;
}): BusEvent<T> {
  return {
    specversion: '1.0',
    id: a.id ?? randomUUID(),
    source: a.source,
    type: a.type,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    data: a.data,
    ...(a.subject === undefined ? {} : { subject: a.subject }),
    ...(a.extensions === undefined ? {} : { extensions: a.extensions }),
  };
}
