/**
 * Fixtures of the loader-ws tests: the simulated exchange with REST and WebSocket on one real
 * loopback server, a live loader on fresh REST budgets, and live start/stop commands.
 */
import { randomBytes } from 'node:crypto';
import type { EventBus } from '../../shared/bus/event-bus.ts';
import { EventTypes, Topics, canonicalCollection } from '../../shared/contracts/events.ts';
import { planFor, type QueueCommand, type WorkflowType } from '../../shared/contracts/workflow.ts';
import { LIVE_OPEN_END } from '../../shared/contracts/request-rules.ts';
import { createExchangeClient } from '../../shared/exchange/rest-client.ts';
import { createWeightBudget } from '../../shared/exchange/weight-budget.ts';
import { makeEvent } from '../../shared/runtime/cloudevents.ts';
import type { Store } from '../../shared/store/store.ts';
import { createLiveLoader, type LiveLoader, type LiveLoaderDeps } from '../../functions/loader-ws/handler.ts';
import { DEFAULT_SETTINGS, type LiveSettings } from '../../functions/loader-ws/schema.ts';
import { silent } from '../loader-api/helpers.ts';

export function liveLoader(
  sim: { url: string; wsUrl: string },
  bus: EventBus,
  store: Store,
  settings: Partial<LiveSettings> = {},
  extra: Partial<LiveLoaderDeps> = {},
): LiveLoader {
  const client = () =>
    createExchangeClient({
      baseUrl: sim.url,
      budget: createWeightBudget({ limit: 6000, windowMs: 60_000, margin: 0.05, maxInflightRequests: 4 }),
      backoffBaseMs: 5,
      backoffMaxMs: 50,
      maxTries: 4,
      timeoutMs: 5000,
    });
  return createLiveLoader({
    bus,
    store,
    logger: silent,
    settings: {
      ...DEFAULT_SETTINGS,
      progressIntervalMs: 200,
      backoffBaseMs: 20,
      backoffMaxMs: 200,
      ...settings,
    },
    clients: { spot: client(), usdm: client() },
    wsUrls: { spot: sim.wsUrl, usdm: `${sim.wsUrl}/usdm` },
    ...extra,
  });
}

/** A live start command (the manager's shape): from now until `end` (default: open). */
export function liveCommand(
  type: WorkflowType,
  o: Partial<QueueCommand> & { symbol?: string } = {},
): QueueCommand {
  const symbol = o.symbol ?? 'BTCUSDT';
  const kind = planFor(type).kind!;
  const start = o.start ?? Date.now();
  return {
    command: 'start',
    queue_id: `wf-${symbol.toLowerCase()}-${type}-20261204-${randomBytes(3).toString('hex')}`,
    target: 'loader-ws',
    symbol,
    type,
    market: 'spot',
    time_range: 'live',
    start,
    end: LIVE_OPEN_END,
    kafka_topic: Topics.data(kind),
    collection_name: canonicalCollection(kind),
    telemetry_id: 'test',
    attempt: 1,
    timestamp: new Date().toISOString(),
    ...o,
  };
}

/** The command as the CloudEvent the KafkaSource delivers. */
export function commandEvent(c: QueueCommand) {
  return makeEvent({
    type: c.command === 'start' ? EventTypes.commandStart : EventTypes.commandStop,
    source: '/streamforge/queue-manager',
    data: c,
  });
}
