/** Shared fixtures of the loader tests: the simulator on a loopback port, deps, commands, a batch collector. */
import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { pino } from 'pino';
import {
  createExchange,
  type Exchange,
  type ExchangeOptions,
} from '../../functions/dummy-service/exchange/exchange.ts';
import type { LoaderDeps } from '../../shared/loader/run.ts';
import type { EventBus, IncomingMessage } from '../../shared/bus/event-bus.ts';
import { createMemoryBus } from '../../shared/bus/memory-bus.ts';
import { DataBatch, EventTypes, Topics } from '../../shared/contracts/events.ts';
import { QueueEvent, type QueueCommand } from '../../shared/contracts/workflow.ts';
import { createExchangeClient } from '../../shared/exchange/rest-client.ts';
import { createWeightBudget } from '../../shared/exchange/weight-budget.ts';
import type { Store } from '../../shared/store/store.ts';

export const silent = pino({ level: 'silent' });

/** `/time` requests a loader makes before paging (clock offset from the fastest of three). */
export const TIME_CALLS = 3;

export interface Sim {
  ex: Exchange;
  url: string;
  stats(): Promise<SimStats>;
  close(): Promise<void>;
}

export interface SimStats {
  requests: number;
  rateLimited429: number;
  banned418: number;
  byStatus: Record<string, number>;
  faults: { latency: number; reset: number; http5xx: number; malformed: number };
  windows: {
    spot: { windowStart: number; weight: number; requests: number }[];
    usdm: { windowStart: number; weight: number; requests: number }[];
  };
}

/**
 * The simulated exchange on 127.0.0.1 with the socket bindings (so resets really cut the
 * connection). `onRequest` sees every request's URL as it arrives, before it is answered.
 */
export async function startSim(opts: ExchangeOptions = {}, onRequest?: (url: URL) => void): Promise<Sim> {
  const ex = createExchange({ gaps: { perYear: 0 }, ...opts });
  const handle: typeof ex.app.fetch = (req, ...rest) => {
    onRequest?.(new URL(req.url));
    return ex.app.fetch(req, ...rest);
  };
  const server = createAdaptorServer({ fetch: handle }) as Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ex,
    url,
    stats: async () => (await (await fetch(`${url}/sim/stats`)).json()) as SimStats,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface DepsOptions {
  limit?: number;
  windowMs?: number;
  margin?: number;
  concurrency?: number;
  maxTries?: number;
}

/** Loader deps on fresh budgets (not the process registry, so tests do not share one). */
export function makeDeps(sim: { url: string }, bus: EventBus, store: Store, o: DepsOptions = {}): LoaderDeps {
  const client = () =>
    createExchangeClient({
      baseUrl: sim.url,
      budget: createWeightBudget({
        limit: o.limit ?? 6000,
        windowMs: o.windowMs ?? 60_000,
        margin: o.margin ?? 0.05,
        maxInflightRequests: o.concurrency ?? 4,
      }),
      backoffBaseMs: 5,
      backoffMaxMs: 50,
      maxTries: o.maxTries ?? 6,
      timeoutMs: 5000,
    });
  return {
    bus,
    store,
    exchange: { spot: client(), usdm: client() },
    clock: { now: () => Date.now() },
    logger: silent,
    concurrency: o.concurrency ?? 4,
    progressIntervalMs: 0,
  };
}

const DAY = 86_400_000;

/** A start command for loader-api; `type` decides the dataset. */
export function command(
  c: Partial<QueueCommand> & Pick<QueueCommand, 'type' | 'start' | 'end'>,
): QueueCommand {
  const symbol = c.symbol ?? 'BTCUSDT';
  return {
    command: 'start',
    queue_id: `wf-${symbol.toLowerCase()}-${c.type.toLowerCase()}-20240101-${randomBytes(3).toString('hex')}`,
    target: 'loader-api',
    symbol,
    market: 'spot',
    time_range: `${new Date(c.start).toISOString().slice(0, 10)}:${new Date(c.end - DAY).toISOString().slice(0, 10)}`,
    kafka_topic: 'binance-kline',
    collection_name: 'market_klines',
    telemetry_id: 'test',
    attempt: 1,
    timestamp: new Date().toISOString(),
    ...c,
  };
}

/** Everything a loader publishes: data batches (by topic) and its queue events. */
export interface Published {
  batches: DataBatch[];
  batchIds: string[];
  events: QueueEvent[];
}

export function memoryBus(): EventBus {
  return createMemoryBus({ logger: silent, retryBackoffMs: 5 });
}

/** Collects data batches of `topic` and the queue events (subscribed from the earliest offset). */
export async function collect(bus: EventBus, topic: string): Promise<Published & { close(): Promise<void> }> {
  const out: Published = { batches: [], batchIds: [], events: [] };
  const on = (m: IncomingMessage): Promise<void> => {
    if (m.topic === Topics.events && m.event.type === EventTypes.queueEvent)
      out.events.push(QueueEvent.parse(m.event.data));
    else if (m.topic === topic) {
      out.batches.push(DataBatch.parse(m.event.data));
      out.batchIds.push(m.event.id);
    }
    return Promise.resolve();
  };
  const sub = await bus.subscribe({
    groupId: `test-collect-${randomBytes(4).toString('hex')}`,
    topics: [topic, Topics.events],
    from: 'earliest',
    handler: on,
  });
  return { ...out, close: () => sub.close() };
}

/** Waits until `pred` holds (polling), for delivery through a bus. */
export async function until(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const t0 = Date.now();
  while (!pred()) {
    if (Date.now() - t0 > timeoutMs) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
