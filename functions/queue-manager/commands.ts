/**
 * What the manager sends out for a workflow: the `queue-control` command (start/stop) and the
 * job spec. kafka_topic and collection_name default per record kind (cross-function agreement),
 * so repeated or overlapping workflows converge on one deduplicated dataset.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { OutgoingMessage } from '../../shared/bus/event-bus.ts';
import { EventTypes, Topics, canonicalCollection, sourceOf } from '../../shared/contracts/events.ts';
import {
  planFor,
  type QueueCommand,
  type Workflow,
  type WorkflowType,
} from '../../shared/contracts/workflow.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';

export const SOURCE = sourceOf('queue-manager');

/** Targets that run as Jobs; the others are long-running services that act on queue-control alone. */
export const JOB_TARGETS: ReadonlySet<string> = new Set(['loader-api', 'loader-bulk', 'gnn-trainer']);

/** `wf-<symbol lower>-<type>-<yyyymmdd of start>-<6 random hex>`. */
export function newQueueId(symbol: string, type: WorkflowType, start: number): string {
  const day = new Date(start).toISOString().slice(0, 10).replaceAll('-', '');
  return `wf-${symbol.toLowerCase()}-${type}-${day}-${randomBytes(3).toString('hex')}`;
}

/** Default topic and collection of a workflow type (types without a record kind get their own). */
export function defaultNames(type: WorkflowType): { kafka_topic: string; collection_name: string } {
  const { kind, target } = planFor(type);
  if (kind) return { kafka_topic: Topics.data(kind), collection_name: canonicalCollection(kind) };
  return { kafka_topic: `streamforge-${target}`, collection_name: target.replaceAll('-', '_') };
}

export function newTelemetryId(): string {
  return randomUUID();
}

export function commandOf(
  wf: Workflow,
  command: 'start' | 'stop',
  image: string | undefined,
  now: number,
): QueueCommand {
  return {
    command,
    queue_id: wf.queue_id,
    target: wf.target,
    symbol: wf.symbol,
    type: wf.type,
    market: wf.market,
    time_range: wf.time_range,
    start: wf.start,
    end: wf.end,
    kafka_topic: wf.kafka_topic,
    collection_name: wf.collection_name,
    telemetry_id: wf.telemetry_id,
    ...(image ? { image } : {}),
    attempt: wf.attempt,
    timestamp: new Date(now).toISOString(),
    ...(wf.graph ? { graph: wf.graph } : {}),
    ...(wf.gnn ? { gnn: wf.gnn } : {}),
  };
}

/** The command as a CloudEvent keyed by symbol (per-symbol order on `queue-control`). */
export function commandMessage(cmd: QueueCommand): OutgoingMessage {
  return {
    key: cmd.symbol,
    event: makeEvent({
      type: cmd.command === 'start' ? EventTypes.commandStart : EventTypes.commandStop,
      source: SOURCE,
      subject: cmd.queue_id,
      data: cmd,
      extensions: { queueid: cmd.queue_id },
    }),
  };
}
