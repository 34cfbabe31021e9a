/**
 * The embedded platform's event ingress, shaped like Knative's KafkaSink (DESIGN.md "Shape":
 * process boundaries are publish-only): children POST CloudEvents to `/<namespace>/<sink>`, and
 * each event is appended to the topic of that sink (locally a sink is named after its topic).
 *
 * - Binary mode (`ce-*` headers): the record is made from the headers and the body as it came.
 *   Only the envelope is checked; the data is not parsed here (one decode, at the consumer).
 * - Structured and batched modes: every event is validated first; one bad event rejects the
 *   request (400 with the issues) and nothing of it is appended.
 * - The record key is the CloudEvent `partitionkey` extension (the partitioning extension,
 *   knative.md §6: opt-in key mapping); without one, records are spread round-robin.
 * - 202 once appended (KafkaSink answers 202 Accepted); 400 invalid, 401 without the token,
 *   413 over the size limit; a bus failure answers with its classification (503, retried).
 */
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { decodeHeaderValue, parseHttpEvents } from '../runtime/cloudevents.ts';
import { classify, InvalidInputError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { EventBus } from './event-bus.ts';
import { encodeEvent, type WireRecord } from './kafka-binding.ts';

export interface IngressOptions {
  bus: Pick<EventBus, 'publishWire'>;
  logger: Logger;
  /** Required bearer token; unset = no check (tests on loopback). */
  token?: string | undefined;
  /** Largest request body; default 32 MiB (a 1000-row page is about 150 KB). */
  maxBodyBytes?: number;
}

/** The CloudEvent extension that carries the record key. */
export const PARTITION_KEY = 'partitionkey';

/** A binary-mode request as a wire record: `ce-x` headers → `ce_x`, content type, body unparsed. */
export function wireFromHttp(headers: Headers, body: string): WireRecord {
  const out: Record<string, string> = {};
  headers.forEach((value, name) => {
    if (name.startsWith('ce-')) out[`ce_${name.slice(3)}`] = decodeHeaderValue(value);
  });
  out['content-type'] = headers.get('content-type') ?? 'application/json';
  return { key: out[`ce_${PARTITION_KEY}`] ?? null, headers: out, value: body };
}

export function createIngress(opts: IngressOptions): { app: Hono } {
  const log = opts.logger;
  const app = new Hono();

  app.onError((err, c) => {
    const { status, message, issues } = classify(err);
    if (status >= 500) log.warn({ err, path: c.req.path }, 'ingress: append failed');
    return c.json({ error: message, ...(issues ? { issues } : {}) }, status as 400);
  });

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.post(
    '/:namespace/:sink',
    async (c, next) => {
      if (opts.token !== undefined && c.req.header('authorization') !== `Bearer ${opts.token}`)
        return c.json({ error: 'missing or wrong bearer token' }, 401);
      await next();
      return undefined;
    },
    bodyLimit({
      maxSize: opts.maxBodyBytes ?? 32 * 1024 * 1024,
      onError: (c) =>
        c.json({ error: `body larger than ${opts.maxBodyBytes ?? 32 * 1024 * 1024} bytes` }, 413),
    }),
    async (c) => {
      const topic = c.req.param('sink');
      const headers = c.req.raw.headers;
      const body = await c.req.text();
      const contentType = (headers.get('content-type') ?? '').toLowerCase();
      let records: WireRecord[];
      if (contentType.startsWith('application/cloudevents')) {
        // Structured or batched: decoded and checked whole before anything is appended.
        records = parseHttpEvents(headers, body).map((event) =>
          encodeEvent({ key: event.extensions?.[PARTITION_KEY] ?? null, event }),
        );
      } else {
        if (!headers.has('ce-id') && !headers.has('ce-specversion'))
          throw new InvalidInputError('not a CloudEvent', [
            { path: ['headers'], message: 'expected ce-* headers (binary mode) or a structured CloudEvent' },
          ]);
        records = [wireFromHttp(headers, body)];
      }
      await opts.bus.publishWire(topic, records);
      return c.body(null, 202);
    },
  );

  return { app };
}
