/**
 * loader-ws's logic over its ports (bus, store, REST clients, WebSocket URLs): `queue-control`
 * commands start and stop live workflows; one connection pool per market carries every
 * workflow's stream, and events are routed by stream name to the workflows on it (two workflows
 * on one stream share the subscription). The workflows running are kept in the store, so a
 * restarted process resumes them from their checkpoints. No HTTP and no environment here.
 */
import type { Registry } from 'prom-client';
import type { BusEvent, Publisher } from '../../shared/bus/event-bus.ts';
import type { Market } from '../../shared/contracts/common.ts';
import { EventTypes } from '../../shared/contracts/events.ts';
import { QueueCommand } from '../../shared/contracts/workflow.ts';
import { isLiveType } from '../../shared/contracts/request-rules.ts';
import type { ExchangeClient } from '../../shared/exchange/rest-client.ts';
import { InvalidInputError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { Store } from '../../shared/store/store.ts';
import type { Batch } from './batcher.ts';
import { LIVE_CHECKPOINTS, LiveWorkflow } from './live.ts';
import { liveMetrics } from './metrics.ts';
import { Pacer } from './pacer.ts';
import { StreamPool, type PoolStats } from './pool.ts';
import { createSymbolCheck } from './symbols.ts';
import { CONNECT_LIMIT, FUNCTION_NAME, WS_LIMITS, type LiveSettings } from './schema.ts';
import type { SeriesMark } from './series.ts';

/** The workflows this process runs, so a restart resumes them. */
export const LIVE_WORKFLOWS = 'live_workflows';
const ACTIVE_KEY = 'active';

export interface LiveLoaderDeps {
  bus: Publisher;
  store: Store;
  logger: Logger;
  settings: LiveSettings;
  clients: Record<Market, ExchangeClient>;
  /** Base WebSocket URLs: BINANCE_WS_URL, BINANCE_FWS_URL. */
  wsUrls: Record<Market, string>;
  registry?: Registry | undefined;
  now?: () => number;
  random?: () => number;
  /** Called after each batch is published (benchmarks measure latency here). */
  onPublished?: (wf: LiveWorkflow, b: Batch<SeriesMark>, publishedAt: number) => void;
}

export interface LiveLoader {
  /** A `queue-control` CloudEvent; commands for other targets are ignored. */
  handleEvent(event: BusEvent): Promise<void>;
  /** Throws InvalidInputError (400) for an event that cannot be a command. */
  validateEvent(event: BusEvent): void;
  /** Prepares the store and resumes the workflows a previous process left running. */
  start(): Promise<void>;
  /** Shuts down: every workflow publishes what it holds and stays registered for the next start. */
  stop(): Promise<void>;
  workflows(): LiveWorkflow[];
  stats(): { workflows: number; pools: Record<Market, PoolStats> };
  /** Cumulative counters over every workflow this process ran, by record kind. */
  totals(): Map<string, Totals>;
}

export interface Totals {
  received: number;
  duplicates: number;
  gap_fills: number;
  filled_records: number;
  unfilled_gaps: number;
  resyncs: number;
  shed: number;
  malformed: number;
}

const zero = (): Totals => ({
  received: 0,
  duplicates: 0,
  gap_fills: 0,
  filled_records: 0,
  unfilled_gaps: 0,
  resyncs: 0,
  shed: 0,
  malformed: 0,
});

function addInto(t: Totals, wf: LiveWorkflow): void {
  const c = wf.counters;
  t.received += c.received;
  t.duplicates += c.duplicates;
  t.gap_fills += c.gap_fills;
  t.filled_records += c.filled_records;
  t.unfilled_gaps += c.unfilled_gaps;
  t.resyncs += c.resyncs;
  t.shed += wf.batcher.shed;
  t.malformed += c.malformed;
}

export function createLiveLoader(d: LiveLoaderDeps): LiveLoader {
  const log = d.logger;
  const now = d.now ?? Date.now;
  const running = new Map<string, LiveWorkflow>();
  const routes = new Map<string, Set<LiveWorkflow>>();
  const route = (market: Market, stream: string) => `${market}|${stream}`;
  const connectPacers: Record<Market, Pacer> = {
    spot: new Pacer(CONNECT_LIMIT.attempts, CONNECT_LIMIT.windowMs),
    usdm: new Pacer(CONNECT_LIMIT.attempts, CONNECT_LIMIT.windowMs),
  };
  const pools = {} as Record<Market, StreamPool>;
  const malformed = { count: 0 };
  const retired = new Map<string, Totals>();
  for (const market of ['spot', 'usdm'] as const) {
    pools[market] = new StreamPool(
      {
        market,
        baseUrl: d.wsUrls[market].replace(/\/+$/, ''),
        limits: WS_LIMITS[market],
        settings: d.settings,
        connectPacer: connectPacers[market],
        logger: log.child({ component: 'ws', market }),
        ...(d.random ? { random: d.random } : {}),
      },
      {
        message(stream, data, receivedAt) {
          const wfs = routes.get(route(market, stream));
          if (!wfs) return;
          for (const wf of wfs) wf.onEvent(data, receivedAt);
        },
        resumed(streams) {
          for (const s of streams) for (const wf of routes.get(route(market, s)) ?? []) wf.onResumed();
        },
        refused(streams, err) {
          for (const s of streams) for (const wf of routes.get(route(market, s)) ?? []) wf.onRefused(err);
        },
        malformed() {
          malformed.count += 1;
        },
      },
    );
  }

  // The registry of running workflows: one document, written in order.
  let registryWrite: Promise<void> = Promise.resolve();
  const saveRegistry = (): Promise<void> => {
    registryWrite = registryWrite
      .then(async () => {
        const commands = [...running.values()].map((wf) => wf.command);
        const stored = await d.store.getDoc<{ commands: unknown[] }>(LIVE_WORKFLOWS, ACTIVE_KEY);
        await d.store.putDoc(LIVE_WORKFLOWS, ACTIVE_KEY, { commands }, stored?.rev);
      })
      .catch((err: unknown) => log.warn({ err }, 'cannot save the live workflow registry'));
    return registryWrite;
  };

  const deps = {
    checkSymbol: createSymbolCheck(d.clients),
    bus: d.bus,
    store: d.store,
    logger: log,
    settings: d.settings,
    now,
    onPublished: d.onPublished,
    connectionStats: (market: Market) => {
      const s = pools[market].stats();
      return { reconnects: s.reconnects, rotations: s.rotations };
    },
    subscribe(wf: LiveWorkflow) {
      const key = route(wf.market, wf.stream);
      let set = routes.get(key);
      if (!set) routes.set(key, (set = new Set()));
      if (set.has(wf)) return;
      set.add(wf);
      pools[wf.market].add(wf.stream);
    },
    unsubscribe(wf: LiveWorkflow) {
      const key = route(wf.market, wf.stream);
      const set = routes.get(key);
      if (!set?.delete(wf)) return;
      if (set.size === 0) routes.delete(key);
      pools[wf.market].remove(wf.stream);
    },
    done(wf: LiveWorkflow, keep: boolean) {
      if (keep || running.get(wf.command.queue_id) !== wf) return;
      running.delete(wf.command.queue_id);
      let t = retired.get(wf.kind);
      if (!t) retired.set(wf.kind, (t = zero()));
      addInto(t, wf);
      void saveRegistry();
    },
  };

  function launch(cmd: QueueCommand): void {
    const wf = new LiveWorkflow(cmd, { ...deps, client: d.clients[cmd.market] });
    running.set(cmd.queue_id, wf);
    void wf.start();
  }

  const loader: LiveLoader = {
    validateEvent(event) {
      if (event.type !== EventTypes.commandStart && event.type !== EventTypes.commandStop)
        throw new InvalidInputError(`loader-ws takes queue-control commands, not ${event.type}`, []);
      const parsed = QueueCommand.safeParse(event.data);
      if (!parsed.success) throw new InvalidInputError('invalid queue-control command', parsed.error.issues);
    },

    async handleEvent(event) {
      loader.validateEvent(event);
      const cmd = QueueCommand.parse(event.data);
      if (cmd.target !== FUNCTION_NAME) return;
      const current = running.get(cmd.queue_id);
      if (cmd.command === 'stop') {
        if (current && current.command.attempt <= cmd.attempt) await current.cancel();
        return;
      }
      if (!isLiveType(cmd.type)) throw new InvalidInputError(`${cmd.type} is not a live workflow type`, []);
      if (current) {
        if (current.command.attempt >= cmd.attempt) return; // a redelivered start
        await current.shutdown();
        running.delete(cmd.queue_id);
      }
      launch(cmd);
      // Registered before the answer: a crash from here on resumes it.
      await saveRegistry();
    },

    async start() {
      await d.store.ensureCollection(LIVE_CHECKPOINTS, 'documents');
      await d.store.ensureCollection(LIVE_WORKFLOWS, 'documents');
      const stored = await d.store.getDoc<{ commands: unknown[] }>(LIVE_WORKFLOWS, ACTIVE_KEY);
      for (const raw of stored?.doc.commands ?? []) {
        const cmd = QueueCommand.safeParse(raw);
        if (!cmd.success) {
          log.warn({ issues: cmd.error.issues }, 'unreadable registered live workflow skipped');
          continue;
        }
        if (running.has(cmd.data.queue_id)) continue;
        log.info({ queue_id: cmd.data.queue_id }, 'resuming a live workflow after a restart');
        launch(cmd.data);
      }
    },

    async stop() {
      await Promise.all([...running.values()].map((wf) => wf.shutdown()));
      for (const p of Object.values(pools)) p.close();
      await registryWrite;
    },

    workflows: () => [...running.values()],

    stats: () => ({ workflows: running.size, pools: { spot: pools.spot.stats(), usdm: pools.usdm.stats() } }),

    totals() {
      const out = new Map<string, Totals>();
      for (const [k, t] of retired) out.set(k, { ...t });
      for (const wf of running.values()) {
        let t = out.get(wf.kind);
        if (!t) out.set(wf.kind, (t = zero()));
        addInto(t, wf);
      }
      return out;
    },
  };
  if (d.registry) liveMetrics(d.registry, loader, malformed, now);
  return loader;
}
