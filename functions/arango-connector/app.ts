/**
 * The connector's one intake (kafka-sources/arango-connector.yaml): CloudEvents on POST /, from
 * its KafkaSource in a cluster, from the local runner on one machine (over HTTP, or handed to
 * `functionApp.deliver` in-process: the same handler, errors and classification). No side
 * effects on import.
 */
import type { Registry } from 'prom-client';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { createFunctionApp, type FunctionApp } from '../../shared/runtime/app.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import type { Store } from '../../shared/store/store.ts';
import { createConnectorHandler, type ConnectorHandler } from './handler.ts';
import { FUNCTION_NAME } from './schema.ts';

export interface ConnectorDeps {
  store: Store;
  bus: EventBus;
  logger: Logger;
  registry?: Registry;
  maxInFlight?: number;
  progressIntervalMs?: number;
  /** Checks senders on POST / (shared/runtime/intake-auth.ts); unset = open (tests). */
  intakeAuth?: (authorization: string | undefined) => Promise<void>;
}

export interface Connector {
  app: FunctionApp['app'];
  functionApp: FunctionApp;
  handler: ConnectorHandler;
  /** Recovers completions a crash left claimed but unpublished. */
  start(): Promise<void>;
  /** Sends pending progress events (store and bus stay open). */
  stop(): Promise<void>;
}

/** The HTTP app: the runtime's routes plus POST / into the handler. */
export function createConnectorApp(deps: {
  handler: ConnectorHandler;
  store: Store;
  bus: EventBus;
  logger: Logger;
  registry: Registry;
  intakeAuth?: ((authorization: string | undefined) => Promise<void>) | undefined;
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
    validate: (event) => deps.handler.validateEvent(event),
    ...(deps.intakeAuth ? { authenticate: deps.intakeAuth } : {}),
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
  const functionApp = createConnectorApp({
    handler,
    store,
    bus,
    logger,
    registry,
    intakeAuth: deps.intakeAuth,
  });
  return {
    app: functionApp.app,
    functionApp,
    handler,
    start: () => handler.recover(),
    stop: () => handler.flush(),
  };
}
