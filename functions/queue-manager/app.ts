/**
 * The queue-manager: the runtime's app (health, metrics, CloudEvent intake on POST /) plus the
 * workflow API, the `/series` read API and the stall watchdog. Queue-events arrive on POST / only
 * (its KafkaSource, or the local runner), its one intake.
 * `createManager` has no side effects until `start()`, so the platform runner can embed it.
 */
import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Registry } from 'prom-client';
import type { BusEvent, EventBus } from '../../shared/bus/event-bus.ts';
import type { JobLauncher } from '../../shared/jobs/job-launcher.ts';
import { createFunctionApp, type FunctionApp } from '../../shared/runtime/app.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import type { Store } from '../../shared/store/store.ts';
import { bearerAuth } from './auth.ts';
import { DEFAULT_SETTINGS, type ManagerSettings } from './config.ts';
import { createWorkflowService, type IngestOutcome, type WorkflowService } from './handler.ts';
import { managerMetrics } from './metrics.ts';
import { createWorkflowRepo } from './repo.ts';
import { createRateLimit } from './rate-limit.ts';
import { registerWorkflowRoutes } from './routes.ts';
import { registerSeriesRoutes } from './series-routes.ts';
import { registerAnalyticsRoutes } from './analytics-routes.ts';
import { createRegistry as createAnalyticsRegistry } from '../../shared/analytics/registry.ts';
import { createWatchdog } from './watchdog.ts';
import { DependencyError } from '../../shared/runtime/errors.ts';
import { createChangeFeed, observedRepo, type ChangeFeed } from './changes.ts';
import { registerChartRoutes } from './chart-routes.ts';
import { registerUiRoutes } from './ui-routes.ts';
import type { Predictor } from './predict.ts';

export const FUNCTION_NAME = 'queue-manager';

/** Largest body the workflow API takes. */
export const API_MAX_BODY_BYTES = 64 * 1024;

export interface ManagerDeps {
  store: Store;
  bus: EventBus;
  launcher: JobLauncher;
  logger: Logger;
  settings?: Partial<ManagerSettings>;
  registry?: Registry;
  /** Clock (tests). */
  now?: () => number;
  /** Checks senders of queue-events on POST / (shared/runtime/intake-auth.ts); unset = open (tests). */
  intakeAuth?: (authorization: string | undefined) => Promise<void>;
  /**
   * The caller connects the queue-event feed after `start()` and then calls
   * `service.feedConnected(at)`; until then /readyz answers 503 (nothing is accepted that no
   * function would read yet: a fresh `latest` group skips what came before it) and no workflow
   * is called stalled or its job lost.
   */
  feedLater?: boolean;
  /** Scores a model on the latest stored data (`POST /models/{id}/predict`); default loads tfjs on first use. */
  predictor?: Predictor;
}

export interface Manager {
  app: OpenAPIHono;
  functionApp: FunctionApp;
  service: WorkflowService;
  /** Every workflow change as it is written (the status page's event stream). */
  feed: ChangeFeed;
  /** The folding path, for a platform runner that delivers queue-events itself. */
  handleEvent(event: BusEvent): Promise<IngestOutcome>;
  /** Creates the collection and resumes the watchdog. */
  start(): Promise<void>;
  /** Stops the watchdog (store, bus and launcher stay open: the caller owns them). */
  stop(): Promise<void>;
}

export function createManager(deps: ManagerDeps): Manager {
  const { store, bus, logger } = deps;
  const settings: ManagerSettings = { ...DEFAULT_SETTINGS, ...deps.settings };
  const registry = deps.registry ?? createRegistry(FUNCTION_NAME);
  const feed = createChangeFeed();
  const repo = observedRepo(createWorkflowRepo(store), feed);
  const analytics = createAnalyticsRegistry(store);
  const service = createWorkflowService({
    analytics,
    repo,
    bus,
    launcher: deps.launcher,
    logger,
    settings,
    metrics: managerMetrics(registry),
    now: deps.now ?? Date.now,
    feedLater: deps.feedLater,
  });
  const watchdog = createWatchdog({
    sweep: () => service.sweep(),
    intervalMs: settings.watchdogIntervalMs,
    logger,
  });

  const functionApp = createFunctionApp({
    name: FUNCTION_NAME,
    logger,
    registry,
    ready: async () => {
      await store.ping();
      await bus.ping();
      if (!service.feedIsConnected())
        throw new DependencyError('the queue-event feed is not connected yet (consumer groups joining)');
    },
    onEvent: async (event) => {
      await service.ingestCloudEvent(event);
    },
    validate: (event) => void service.parseCloudEvent(event),
    // Queue-events are small (a loader's final event with its gaps is the largest).
    maxBodyBytes: 1024 * 1024,
    // A request for 100 symbols is about 2 KB.
    pathBodyLimits: { '/workflows': API_MAX_BODY_BYTES, '/workflows/*': API_MAX_BODY_BYTES },
    ...(deps.intakeAuth ? { authenticate: deps.intakeAuth } : {}),
  });
  const app = functionApp.app;
  const auth = bearerAuth({ token: settings.apiToken, reads: settings.apiTokenReads });
  for (const path of [
    '/workflows',
    '/workflows/*',
    '/series',
    '/series/*',
    '/graphs',
    '/graphs/*',
    '/models',
    '/models/*',
    '/stream/*',
  ])
    app.use(path, auth);
  registerWorkflowRoutes(
    app,
    service,
    {
      createRate: createRateLimit(settings.createRatePerMinute, deps.now ?? Date.now),
    },
    { token: settings.apiToken !== undefined, reads: settings.apiTokenReads },
  );
  registerSeriesRoutes(app, { store });
  registerChartRoutes(app, { store });
  registerAnalyticsRoutes(app, { store, analytics, predictor: deps.predictor, logger });
  registerUiRoutes(app, { feed, heartbeatMs: settings.heartbeatMs });

  return {
    app,
    functionApp,
    service,
    feed,
    handleEvent: (event) => service.ingestCloudEvent(event),
    async start() {
      await repo.ensure();
      await analytics.ensure();
      const active = await repo.active();
      logger.info(
        { active: active.length, stall_timeout_ms: settings.stallTimeoutMs },
        'queue-manager resumed watching workflows',
      );
      await watchdog.sweepNow();
      watchdog.start();
      await service.resume();
    },
    async stop() {
      // Open status pages' streams end now, so the server can close.
      feed.close();
      await watchdog.stop();
      service.close();
    },
  };
}
