/**
 * The connector's two intake paths around one handler: HTTP (a KafkaSource POSTs binary-mode
 * CloudEvents with `Prefer: reply`, knative.md §3) and, in the local modes, the bus itself.
 * No side effects on import.
 */
import type { Registry } from 'prom-client';
import type { BusEvent, EventBus, IncomingMessage, Subscription } from '../../shared/bus/event-bus.ts';
import { RECORD_KINDS } from '../../shared/contracts/records.ts';
import { EventTypes, Topics } from '../../shared/contracts/events.ts';
import { createFunctionApp, errorResponse, type FunctionApp } from '../../shared/runtime/app.ts';
import { toHttpBinary } from '../../shared/runtime/cloudevents.ts';
import { DependencyError, InvalidInputError, OverloadedError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnectorHandler, type ConnectorHandler } from './handler.ts';
import { DATA_GROUP, EVENTS_GROUP, FUNCTION_NAME } from './schema.ts';

/** Redeliveries of an event failing with an unexpected error before the bus path gives up on it. */
const MAX_UNEXPECTED_FAILURES = 5;

export interface ConnectorDeps {
  store: Store;
  bus: EventBus;
  logger: Logger;
  registry?: Registry;
  maxInFlight?: number;
  progressIntervalMs?: number;
  /** Consume the data topics and queue-events through the bus (local modes). Default false. */
  subscribe?: boolean;
  /** Data topics to consume; default every kind's canonical topic. */
  topics?: string[];
  /** Partitions handled concurrently on the bus path; default 4. */
  concurrency?: number;
  /** Consumer groups (defaults DATA_GROUP and EVENTS_GROUP); tests and benches use their own. */
  groups?: { data: string; events: string };
}

export interface Connector {
  app: FunctionApp['app'];
  functionApp: FunctionApp;
  handler: ConnectorHandler;
  /** The shared handler, for a platform runner that delivers events itself. */
  handleEvent: (event: BusEvent) => Promise<void>;
  /** Recovers unpublished completions; subscribes when configured. */
  start(): Promise<void>;
  /** Closes the subscriptions and sends pending progress events (store and bus stay open). */
  stop(): Promise<void>;
}

/** The HTTP app: the runtime's routes plus POST / into the handler. */
export function createConnectorApp(deps: {
  handler: ConnectorHandler;
  store: Store;
  bus: EventBus;
  logger: Logger;
  registry: Registry;
}): FunctionApp {
  return createFunctionApp({
    name: FUNCTION_NAME,
    logger: deps.logger,
    registry: deps.registry,
    ready: async () => {
      await deps.store.ping();
      await deps.bus.ping();
    },
    onEvent: async (event, ctx) => {
      await deps.handler.handleEvent(event, ctx.log);
    },
  });
}

export function createConnector(deps: ConnectorDeps): Connector {
  const { store, bus, logger } = deps;
  const registry = deps.registry ?? createRegistry(FUNCTION_NAME);
  const handler = createConnectorHandler({
    store,
    bus,
    logger,
    registry,
    ...(deps.maxInFlight === undefined ? {} : { maxInFlight: deps.maxInFlight }),
    ...(deps.progressIntervalMs === undefined ? {} : { progressIntervalMs: deps.progressIntervalMs }),
  });
  const functionApp = createConnectorApp({ handler, store, bus, logger, registry });
  const subscriptions: Subscription[] = [];

  /**
   * What a KafkaSource does with a final failure (knative.md §3): the original event goes to the
   * dead-letter topic with `knativeerror*` extensions, and the offset moves on.
   */
  async function deadLetterEvent(msg: IncomingMessage, err: unknown): Promise<void> {
    const { status, body } = errorResponse(err);
    const raw = toHttpBinary(msg.event).body;
    const event: BusEvent = {
      ...msg.event,
      extensions: {
        ...msg.event.extensions,
        knativeerrordest: `bus://${msg.topic}`,
        knativeerrorcode: String(status),
        knativeerrordata: Buffer.from(JSON.stringify(body) + '\n' + raw)
          .subarray(0, 1024)
          .toString('base64'),
      },
    };
    await bus.publish(Topics.deadLetter, [{ key: msg.key, event }]);
  }

  /** Bus path: transient errors are thrown (the bus redelivers); hopeless events are dead-lettered. */
  async function onMessage(msg: IncomingMessage): Promise<void> {
    const log = logger.child({
      event_id: msg.event.id,
      type: msg.event.type,
      topic: msg.topic,
      offset: msg.offset,
    });
    try {
      await handler.handleEvent(msg.event, log);
    } catch (err) {
      const transient = err instanceof DependencyError || err instanceof OverloadedError;
      if (transient || (!(err instanceof InvalidInputError) && msg.redeliveries < MAX_UNEXPECTED_FAILURES)) {
        log.warn({ err, redeliveries: msg.redeliveries }, 'event failed; the bus redelivers it');
        throw err;
      }
      log.warn({ err }, 'event rejected; sent to the dead-letter topic');
      await deadLetterEvent(msg, err);
    }
  }

  return {
    app: functionApp.app,
    functionApp,
    handler,
    handleEvent: (event) => handler.handleEvent(event),
    async start() {
      await handler.recover();
      if (!deps.subscribe) return;
      const topics = deps.topics ?? RECORD_KINDS.map((k) => Topics.data(k));
      await bus.ensureTopics([...topics, Topics.events, Topics.deadLetter].map((topic) => ({ topic })));
      subscriptions.push(
        await bus.subscribe({
          groupId: deps.groups?.data ?? DATA_GROUP,
          topics,
          handler: onMessage,
          partitionsConsumedConcurrently: deps.concurrency ?? 4,
        }),
        await bus.subscribe({
          groupId: deps.groups?.events ?? EVENTS_GROUP,
          topics: [Topics.events],
          // Only loaders' final events matter; everything else on queue-events is skipped.
          handler: async (msg) => (msg.event.type === EventTypes.queueEvent ? onMessage(msg) : undefined),
        }),
      );
      logger.info({ topics }, 'subscribed to data topics and queue-events');
    },
    async stop() {
      await Promise.all(subscriptions.splice(0).map((s) => s.close()));
      await handler.flush();
    },
  };
}
