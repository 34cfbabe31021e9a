/**
 * Where the loader's command comes from: the Job environment (STREAMFORGE_COMMAND) or the first
 * `start` for its queue id on `queue-control`, whichever comes first; and the `stop` that ends it.
 * The subscription reads `queue-control` from the earliest offset with a group of its own, so a
 * stop published while the Job was starting is not missed. A stop belongs to this run when it is
 * of this attempt or later, or was issued after this run's start command.
 */
import { randomUUID } from 'node:crypto';
import type { EventBus, Subscription } from '../../shared/bus/event-bus.ts';
import { Topics } from '../../shared/contracts/events.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { QueueCommand, recoverIds } from './schema.ts';

export type CommandOutcome =
  | { kind: 'command'; command: QueueCommand }
  | { kind: 'invalid'; raw: unknown; problems: string[] }
  | { kind: 'none'; reason: string };

export interface CommandWatch {
  command: Promise<CommandOutcome>;
  /** Aborted when a stop for this run arrives. */
  stopped: AbortSignal;
  close(): Promise<void>;
}

export interface WatchOptions {
  envCommand?: string | undefined;
  queueId?: string | undefined;
  logger: Logger;
  /** How long to wait for a start on queue-control when the environment has none. */
  timeoutMs: number;
  signal: AbortSignal;
}

function validate(raw: unknown): CommandOutcome {
  const parsed = QueueCommand.safeParse(raw);
  if (!parsed.success)
    return {
      kind: 'invalid',
      raw,
      problems: parsed.error.issues.map((i) => `${i.path.join('.') || '(command)'}: ${i.message}`),
    };
  if (parsed.data.command !== 'start')
    return { kind: 'invalid', raw, problems: ['command: a loader starts with a "start" command'] };
  return { kind: 'command', command: parsed.data };
}

export function watchCommands(bus: EventBus, o: WatchOptions): CommandWatch {
  const stop = new AbortController();
  let fromEnv: CommandOutcome | undefined;
  if (o.envCommand !== undefined) {
    let raw: unknown;
    try {
      raw = JSON.parse(o.envCommand);
      fromEnv = validate(raw);
    } catch (err) {
      fromEnv = {
        kind: 'invalid',
        raw: undefined,
        problems: [`STREAMFORGE_COMMAND is not JSON: ${(err as Error).message}`],
      };
    }
  }
  const queueId = fromEnv?.kind === 'command' ? fromEnv.command.queue_id : fromEnv ? undefined : o.queueId;
  if (fromEnv && fromEnv.kind !== 'command')
    return { command: Promise.resolve(fromEnv), stopped: stop.signal, close: async () => {} };
  if (queueId === undefined)
    return {
      command: Promise.resolve({
        kind: 'none',
        reason: 'neither STREAMFORGE_COMMAND nor STREAMFORGE_QUEUE_ID is set',
      }),
      stopped: stop.signal,
      close: async () => {},
    };

  let start: QueueCommand | undefined = fromEnv?.command;
  const stops: QueueCommand[] = [];
  let settle: (c: CommandOutcome) => void = () => {};
  const command = fromEnv
    ? Promise.resolve(fromEnv)
    : new Promise<CommandOutcome>((resolve) => (settle = resolve));

  const checkStops = (): void => {
    if (!start || stop.signal.aborted) return;
    const s = start;
    if (stops.some((x) => x.attempt >= s.attempt || x.timestamp >= s.timestamp))
      stop.abort(new Error('stop command'));
  };

  const sub: Promise<Subscription | undefined> = bus
    .subscribe({
      groupId: `loader-api.${queueId}.${randomUUID().slice(0, 8)}`,
      topics: [Topics.control],
      from: 'earliest',
      handler: async (msg) => {
        const data = msg.event.data;
        const parsed = QueueCommand.safeParse(data);
        if (!parsed.success) {
          if (!start && recoverIds(data)?.queue_id === queueId) settle(validate(data));
          return;
        }
        const c = parsed.data;
        if (c.queue_id !== queueId) return;
        if (c.command === 'start' && !start) {
          start = c;
          settle({ kind: 'command', command: c });
        } else if (c.command === 'stop') stops.push(c);
        checkStops();
        await Promise.resolve();
      },
    })
    .catch((err: unknown) => {
      o.logger.warn(
        { err, queue_id: queueId },
        'cannot subscribe to queue-control; stop arrives by SIGTERM only',
      );
      if (!start) settle({ kind: 'none', reason: 'cannot subscribe to queue-control' });
      return undefined;
    });

  if (!fromEnv) {
    const timer = setTimeout(
      () => settle({ kind: 'none', reason: `no start command for ${queueId} within ${o.timeoutMs} ms` }),
      o.timeoutMs,
    );
    timer.unref();
    o.signal.addEventListener(
      'abort',
      () => settle({ kind: 'none', reason: 'terminated before a start command arrived' }),
      { once: true },
    );
  }

  return {
    command,
    stopped: stop.signal,
    async close() {
      const s = await sub;
      await s?.close();
    },
  };
}
