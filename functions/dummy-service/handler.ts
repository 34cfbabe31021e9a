/**
 * dummy-service logic over the EventBus port: a connectivity check, a paced load generator and a
 * tally of received CloudEvents. No HTTP and no environment here.
 */
import { randomUUID } from 'node:crypto';
import type { BusEvent, EventBus, Subscription } from '../../shared/bus/event-bus.ts';
import { z } from 'zod';
import { Symbol as SymbolName } from '../../shared/contracts/common.ts';
import { sourceOf } from '../../shared/contracts/events.ts';
import { QueueId, typeFromQueueId, type QueueEventInput } from '../../shared/contracts/workflow.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import type { CheckResult, EventTallySnapshot, LoadBudget, LoadRequest, LoadResult } from './schema.ts';

export const SOURCE = sourceOf('dummy-service');
export const PROBE_TYPE = 'io.streamforge.dummy.probe';
export const LOAD_TYPE = 'io.streamforge.dummy.load';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const ms = (from: number) => Math.round((performance.now() - from) * 100) / 100;
const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * Checks the bus: ping, then a probe event published to `topic` and consumed back by a fresh
 * consumer group within `timeoutMs`. Never throws: a failure is a result with the failing stage.
 */
export async function checkBus(
  bus: EventBus,
  opts: { topic: string; timeoutMs: number },
): Promise<CheckResult> {
  const { topic, timeoutMs } = opts;
  let stage: NonNullable<CheckResult['stage']> = 'ping';
  let sub: Subscription | undefined;
  let timer: NodeJS.Timeout | undefined;
  const started = performance.now();
  try {
    await bus.ping();
    const pingMs = ms(started);
    stage = 'topic';
    // One partition, short retention: a fresh group reads the topic from the start, so keep it small.
    await bus.ensureTopics([{ topic, partitions: 1, config: { 'retention.ms': '3600000' } }]);
    const probeId = randomUUID();
    let seen!: () => void;
    const consumed = new Promise<void>((resolve) => (seen = resolve));
    // A group of its own, from the earliest offset: with 'latest' the probe could be published
    // before the new group has its partitions and be missed.
    sub = await bus.subscribe({
      groupId: `dummy-check-${probeId}`,
      topics: [topic],
      from: 'earliest',
      handler: (msg) => {
        if (msg.event.id === probeId) seen();
        return Promise.resolve();
      },
    });
    stage = 'publish';
    const sentAt = performance.now();
    const probe = makeEvent({
      id: probeId,
      type: PROBE_TYPE,
      source: SOURCE,
      data: { sent_at: new Date().toISOString() },
    });
    await bus.publish(topic, [{ key: 'probe', event: probe }]);
    stage = 'consume';
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`probe not consumed within ${timeoutMs} ms`)), timeoutMs);
    });
    await Promise.race([consumed, timeout]);
    return { ok: true, topic, ping_ms: pingMs, latency_ms: ms(sentAt) };
  } catch (err) {
    return { ok: false, topic, stage, error: message(err) };
  } finally {
    clearTimeout(timer);
    await sub?.close().catch(() => undefined);
  }
}

/** Problems of a load request with the run's budget (empty when it fits). */
export function overBudget(req: LoadRequest, budget: LoadBudget): { path: string[]; message: string }[] {
  const events = Math.floor(req.rate * req.duration_s);
  const issues: { path: string[]; message: string }[] = [];
  if (events > budget.maxEvents) {
    issues.push({
      path: ['rate'],
      message: `rate × duration_s = ${events} events; at most ${budget.maxEvents} per run`,
    });
  }
  if (events * req.record_size > budget.maxBytes) {
    issues.push({
      path: ['record_size'],
      message: `rate × duration_s × record_size = ${events * req.record_size} bytes; at most ${budget.maxBytes} per run`,
    });
  }
  return issues;
}

export interface LoadOptions {
  /** Scheduler tick; default 10 ms. */
  tickMs?: number;
  /** Largest publish call; default 1000 events. */
  maxBatch?: number;
  /** Called after every publish call with the running totals. */
  onProgress?: (sent: number, errors: number) => void;
}

/** `{"seq":N,"payload":"xxx…"}` of exactly `size` bytes when size allows. */
function loadData(seq: number, size: number, pad: string): { seq: number; payload: string } {
  const overhead = '{"seq":,"payload":""}'.length + String(seq).length;
  return { seq, payload: pad.slice(0, Math.max(0, size - overhead)) };
}

/**
 * Publishes `rate` events per second for `duration_s` seconds, on schedule: by time t it has sent
 * floor(rate·t) events, never more (so at most floor(rate·duration) in all). When the bus falls
 * behind it publishes without pausing and the achieved rate shows the shortfall; it stops at the
 * deadline either way.
 */
export async function generateLoad(
  bus: EventBus,
  req: LoadRequest,
  opts: LoadOptions = {},
): Promise<LoadResult> {
  const tickMs = opts.tickMs ?? 10;
  const maxBatch = opts.maxBatch ?? 1000;
  const durationMs = req.duration_s * 1000;
  const total = Math.floor(req.rate * req.duration_s);
  const pad = 'x'.repeat(req.record_size);
  const runId = randomUUID().slice(0, 8);
  let sent = 0;
  let errors = 0;
  let firstError: string | undefined;

  const started = performance.now();
  for (;;) {
    const elapsed = performance.now() - started;
    const done = sent + errors;
    const due = Math.min(total, Math.floor((req.rate * Math.min(elapsed, durationMs)) / 1000));
    const n = Math.min(due - done, maxBatch);
    if (n > 0) {
      const messages = Array.from({ length: n }, (_, i) => ({
        key: req.key ?? null,
        event: makeEvent({
          id: `${runId}-${done + i}`,
          type: LOAD_TYPE,
          source: SOURCE,
          data: loadData(done + i, req.record_size, pad),
        }),
      }));
      try {
        await bus.publish(req.topic, messages);
        sent += n;
      } catch (err) {
        errors += n;
        firstError ??= message(err);
      }
      opts.onProgress?.(sent, errors);
    }
    if (elapsed >= durationMs || sent + errors >= total) break;
    if (due - done <= maxBatch) await sleep(tickMs);
  }
  const durationMsTaken = Math.max(1, Math.round(performance.now() - started));
  return {
    topic: req.topic,
    sent,
    errors,
    achieved_rate: Math.round((sent / (durationMsTaken / 1000)) * 100) / 100,
    duration_ms: durationMsTaken,
    ...(firstError === undefined ? {} : { first_error: firstError }),
  };
}

/** Counts received CloudEvents by type and keeps the last few (handy for checking a KafkaSource). */
export function createEventTally(keep = 20): {
  record(event: BusEvent): void;
  snapshot(): EventTallySnapshot;
} {
  let received = 0;
  const byType = new Map<string, number>();
  const recent: EventTallySnapshot['recent'] = [];
  return {
    record(event) {
      received += 1;
      byType.set(event.type, (byType.get(event.type) ?? 0) + 1);
      const data = event.data as { queue_id?: unknown } | null;
      const queueId =
        typeof data === 'object' && data !== null && typeof data.queue_id === 'string'
          ? data.queue_id
          : undefined;
      recent.push({
        id: event.id,
        type: event.type,
        source: event.source,
        ...(event.subject === undefined ? {} : { subject: event.subject }),
        ...(event.time === undefined ? {} : { time: event.time }),
        ...(queueId === undefined ? {} : { queue_id: queueId }),
      });
      if (recent.length > keep) recent.shift();
    },
    snapshot: () => ({ received, by_type: Object.fromEntries(byType), recent: [...recent].reverse() }),
  };
}

/** A data batch's owner, read loosely from a dead letter's payload. */
const DeadBatch = z.object({
  queue_id: QueueId,
  symbol: SymbolName,
  attempt: z.number().int().positive().optional(),
  seq: z.number().int().nonnegative().optional(),
});

/**
 * The dead-letter sink's report (knative.md §3 "Delivery"): a data batch that a KafkaSource (or
 * the local runner) could not deliver, even after its retries, can never be counted, so its
 * workflow can never complete. The event of a failed delivery carries `knativeerrorcode` (and
 * `knativeerrordata`, the sink's answer); this returns the `error` queue-event for its workflow,
 * or null for anything else (a record dead-lettered by the connector, a probe, a batch of no
 * workflow).
 */
export function deliveryFailure(event: BusEvent, now: Date): QueueEventInput | null {
  const code = event.extensions?.['knativeerrorcode'];
  if (code === undefined || !event.type.startsWith('io.streamforge.data.')) return null;
  const owner = DeadBatch.safeParse(event.data);
  const type = owner.success ? typeFromQueueId(owner.data.queue_id) : undefined;
  if (!owner.success || type === undefined) return null;
  let answer = '';
  try {
    answer = Buffer.from(event.extensions?.['knativeerrordata'] ?? '', 'base64')
      .toString('utf8')
      .slice(0, 300);
  } catch {
    // not base64: left out
  }
  const message =
    `batch ${owner.data.seq ?? '?'} could not be delivered to its sink (HTTP ${code}` +
    `${event.extensions?.['knativeerrordest'] ? ` from ${event.extensions['knativeerrordest']}` : ''})` +
    `${answer ? `: ${answer}` : ''}`;
  return {
    queue_id: owner.data.queue_id,
    producer: 'dummy-service',
    symbol: owner.data.symbol,
    type,
    attempt: owner.data.attempt ?? 1,
    status: 'error',
    finished: true,
    message,
    error: { code: 'DELIVERY_FAILED', message, source: 'dead-letter-sink' },
    timestamp: now.toISOString(),
  };
}
