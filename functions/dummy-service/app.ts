import type { Hono } from 'hono';
/**
 * dummy-service (the seed's diagnostic tool) on the function runtime:
 *   GET  /check   bus connectivity: ping plus a publish → consume round trip (200 or 503)
 *   POST /load    paced load generation onto a topic (one run at a time; 429 while one runs)
 *   POST /        CloudEvents of any type: logged and counted (to check a KafkaSource's wiring)
 *   GET  /events  what POST / received
 * plus the runtime's /healthz, /readyz and /metrics. No side effects on import.
 */
import { createRoute } from '@hono/zod-openapi';
import type { Registry } from 'prom-client';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { EventTypes, Topics } from '../../shared/contracts/events.ts';
import { QueueEvent } from '../../shared/contracts/workflow.ts';
import { createFunctionApp, type FunctionApp } from '../../shared/runtime/app.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import { InvalidInputError, OverloadedError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { counter } from '../../shared/runtime/metrics.ts';
import { SOURCE, checkBus, createEventTally, deliveryFailure, generateLoad, overBudget } from './handler.ts';
import {
  CheckResult,
  DEFAULT_LOAD_BUDGET,
  EventTallySnapshot,
  LoadRequest,
  LoadResult,
  type LoadBudget,
} from './schema.ts';

export interface DummyDeps {
  bus: EventBus;
  logger: Logger;
  registry?: Registry;
  /** Topic of the /check probe; default `streamforge-check`. */
  checkTopic?: string;
  /** How long /check waits for its probe; default 10000. */
  checkTimeoutMs?: number;
  /** Budget of one /load run; default DEFAULT_LOAD_BUDGET (main.ts passes a smaller one in embedded mode). */
  loadBudget?: LoadBudget;
  /**
   * The simulated Binance exchange (functions/dummy-service/exchange), mounted at the root so
   * `/api/v3/*` and `/fapi/v1/*` answer on this service's port.
   */
  exchange?: Hono<any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- any Env: mounted as-is
  /** Checks senders on POST / (shared/runtime/intake-auth.ts); unset = open (tests). */
  intakeAuth?: (authorization: string | undefined) => Promise<void>;
}

const json = <T>(schema: T, description: string) => ({
  content: { 'application/json': { schema } },
  description,
});

const checkRoute = createRoute({
  method: 'get',
  path: '/check',
  summary: 'Bus connectivity: ping plus a publish/consume round trip',
  responses: { 200: json(CheckResult, 'bus reachable'), 503: json(CheckResult, 'bus unreachable') },
});

const loadRoute = createRoute({
  method: 'post',
  path: '/load',
  summary: 'Publish CloudEvents at a given rate for a given time',
  request: { body: { content: { 'application/json': { schema: LoadRequest } }, required: true } },
  responses: { 200: json(LoadResult, 'load finished') },
});

const eventsRoute = createRoute({
  method: 'get',
  path: '/events',
  summary: 'CloudEvents received on POST /',
  responses: { 200: json(EventTallySnapshot, 'tally') },
});

export function createDummyApp(deps: DummyDeps): FunctionApp {
  const { bus, logger } = deps;
  const tally = createEventTally();
  const fn = createFunctionApp({
    name: 'dummy-service',
    logger,
    ...(deps.registry ? { registry: deps.registry } : {}),
    ready: () => bus.ping(),
    ...(deps.intakeAuth ? { authenticate: deps.intakeAuth } : {}),
    onEvent: async (event, ctx) => {
      tally.record(event);
      ctx.log.info({ source: event.source, subject: event.subject }, 'event received');
      // As the dead-letter sink (knative.md §3): a letter is kept on the dead-letter topic, and a
      // workflow's batch that could not be delivered fails its workflow now, with the sink's
      // answer, instead of waiting for the stall watchdog.
      if (event.extensions?.['knativeerrorcode'] === undefined) return;
      // The Kafka position extensions are 21 characters, over the CloudEvents limit the bus keeps.
      const { knativekafkapartition: _p, knativekafkaoffset: _o, ...extensions } = event.extensions;
      await bus.publish(Topics.deadLetter, [{ key: event.subject ?? null, event: { ...event, extensions } }]);
      const failure = deliveryFailure(event, new Date());
      if (failure === null) return;
      const data = QueueEvent.parse(failure);
      ctx.log.warn(
        { queue_id: data.queue_id, error: data.error },
        'batch delivery failed: workflow ends in error',
      );
      await bus.publish(Topics.events, [
        {
          key: data.symbol,
          event: makeEvent({
            type: EventTypes.queueEvent,
            source: SOURCE,
            data,
            extensions: { queueid: data.queue_id },
          }),
        },
      ]);
    },
  });
  const loadEvents = counter(fn.registry, 'dummy_load_events_total', 'Events published by POST /load', [
    'result',
  ]);
  const { app } = fn;

  app.openapi(checkRoute, async (c) => {
    const result = await checkBus(bus, {
      topic: deps.checkTopic ?? 'streamforge-check',
      timeoutMs: deps.checkTimeoutMs ?? 10_000,
    });
    if (!result.ok) logger.warn(result, 'bus check failed');
    return result.ok ? c.json(result, 200) : c.json(result, 503);
  });

  let loadRunning = false;
  app.openapi(loadRoute, async (c) => {
    const req = c.req.valid('json');
    const issues = overBudget(req, deps.loadBudget ?? DEFAULT_LOAD_BUDGET);
    if (issues.length > 0) throw new InvalidInputError('load run over budget', issues);
    if (loadRunning) throw new OverloadedError('a load run is in progress; try again when it has finished');
    loadRunning = true;
    try {
      logger.info(req, 'load started');
      let counted = { sent: 0, errors: 0 };
      const result = await generateLoad(bus, req, {
        onProgress: (sent, errors) => {
          loadEvents.inc({ result: 'sent' }, sent - counted.sent);
          loadEvents.inc({ result: 'error' }, errors - counted.errors);
          counted = { sent, errors };
        },
      });
      logger.info(result, 'load finished');
      return c.json(result, 200);
    } finally {
      loadRunning = false;
    }
  });

  app.openapi(eventsRoute, (c) => c.json(tally.snapshot(), 200));

  // The Binance-compatible simulator (functions/dummy-service/exchange/): same port, own paths.
  if (deps.exchange) app.route('/', deps.exchange);

  app.doc('/openapi.json', { openapi: '3.0.0', info: { title: 'dummy-service', version: '0.1.0' } });
  return fn;
}
