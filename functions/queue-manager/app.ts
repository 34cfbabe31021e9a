/**
 * The queue-manager: the runtime's app (health, metrics, CloudEvent intake on POST /) plus the
 * workflow API, the `/series` read API, the bus intake of queue-events and the stall watchdog.
 * `createManager` has no side effects until `start()`, so the platform runner can embed it.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Registry } from 'prom-client';
import type { BusEvent, EventBus, IncomingMessage, Subscription } from '../../shared/bus/event-bus.ts';
import { EventTypes, Topics } from '../../shared/contracts/events.ts';
import type { JobLauncher } from '../../shared/jobs/job-launcher.ts';
import { createFunctionApp, type FunctionApp } from '../../shared/runtime/app.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import type { Store } from '../../shared/store/store.ts';
import { bearerAuth } from './auth.ts';
import { DEFAULT_SETTINGS, type ManagerSettings } from './config.ts';
import { createWorkflowService, type IngestOutcome, type WorkflowService } from './handler.ts';
import { managerMetrics } from './metrics.ts';
import { createWorkflowRepo } from './repo.ts';
import { registerWorkflowRoutes } from './routes.ts';
import { registerSeriesRoutes } from './series-routes.ts';
import { createWatchdog } from './watchdog.ts';

export const FUNCTION_NAME = 'queue-manager';
/** Consumer group of the bus intake (local modes). */
export const EVENTS_GROUP = 'queue-manager';

export interface ManagerDeps {
  store: Store;
  bus: EventBus;
  launcher: JobLauncher;
  logger: Logger;
  settings?: Partial<ManagerSettings>;
  registry?: Registry;
  /** Clock (tests). */
  now?: () => number;
}

export interface Manager {
  app: OpenAPIHono;
  functionApp: FunctionApp;
  service: WorkflowService;
  /** The folding path, for a platform runner that delivers queue-events itself. */
  handleEvent(event: BusEvent): Promise<IngestOutcome>;
  /** Creates the collection, subscribes to queue-events (if configured), resumes the watchdog. */
  start(): Promise<void>;
  /** Stops the watchdog and the subscription (store, bus and launcher stay open: the caller owns them). */
  stop(): Promise<void>;
}

export function createManager(deps: ManagerDeps): Manager {
  const { store, bus, logger } = deps;
  const settings: ManagerSettings = { ...DEFAULT_SETTINGS, ...deps.settings };
  const registry = deps.registry ?? createRegistry(FUNCTION_NAME);
  const repo = createWorkflowRepo(store);
  const service = createWorkflowService({
    repo,
    bus,
    launcher: deps.launcher,
    logger,
    settings,
    metrics: managerMetrics(registry),
    now: deps.now ?? Date.now,
  });
  const watchdog = createWatchdog({
    sweep: () => service.sweep(),
    intervalMs: settings.watchdogIntervalMs,
    logger,
  });
  let subscription: Subscription | undefined;

  const functionApp = createFunctionApp({
    name: FUNCTION_NAME,
    logger,
    registry,
    ready: async () => {
      await store.ping();
      await bus.ping();
    },
    onEvent: async (event) => {
      await service.ingestCloudEvent(event);
    },
  });
  const app = functionApp.app;
  const auth = bearerAuth({ token: settings.apiToken, reads: settings.apiTokenReads });
  for (const path of ['/workflows', '/workflows/*', '/series', '/series/*']) app.use(path, auth);
  registerWorkflowRoutes(app, service);
  registerSeriesRoutes(app, { store });

  /** Bus intake: an event that can never be folded is logged and skipped, not retried forever. */
  async function onMessage(msg: IncomingMessage): Promise<void> {
    if (msg.event.type !== EventTypes.queueEvent) return;
    try {
      await service.ingestCloudEvent(msg.event);
    } catch (err) {
      if (!(err instanceof InvalidInputError)) throw err; // store trouble: the bus redelivers
      logger.warn({ event_id: msg.event.id, issues: err.issues }, 'invalid queue-event skipped');
    }
  }

  return {
    app,
    functionApp,
    service,
    handleEvent: (event) => service.ingestCloudEvent(event),
    async start() {
      await repo.ensure();
      if (settings.subscribeQueueEvents) {
        await bus.ensureTopics([{ topic: Topics.events }, { topic: Topics.control }]);
        subscription = await bus.subscribe({
          groupId: EVENTS_GROUP,
          topics: [Topics.events],
          handler: onMessage,
        });
      }
      const active = await repo.active();
      logger.info(
        {
          active: active.length,
          stall_timeout_ms: settings.stallTimeoutMs,
          subscribed: settings.subscribeQueueEvents,
        },
        'queue-manager resumed watching workflows',
      );
      await watchdog.sweepNow();
      watchdog.start();
    },
    async stop() {
      await watchdog.stop();
      await subscription?.close();
      subscription = undefined;
      service.close();
    },
  };
}
