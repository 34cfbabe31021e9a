/**
 * graph-builder's logic (issue 14): a `graph_build` command becomes snapshots in the store.
 * It reads the stored klines of the workflow's symbols, aligns them on one time axis (missing
 * candles stay missing), and builds one snapshot per step — vertices with their window features,
 * edges by method with p-values (shared/analytics/graph.ts) — writing them in chunks and
 * reporting progress on queue-events; then the graph's summary goes to the registry (`GET
 * /graphs`) and the workflow completes. The work runs beside the intake, one snapshot per turn of
 * the event loop, so health checks answer and a `stop` command cancels it between snapshots.
 * A redelivered start of a running attempt is ignored; a retried attempt replaces it. Rebuilding
 * writes the same snapshots again (UPSERT by graph and time): nothing doubles.
 */
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { Registry as PromRegistry } from 'prom-client';
import type { BusEvent, Publisher } from '../../shared/bus/event-bus.ts';
import type { GraphParams, GraphSnapshot } from '../../shared/contracts/analytics.ts';
import { intervalMs } from '../../shared/contracts/common.ts';
import { EventTypes } from '../../shared/contracts/events.ts';
import { QueueCommand } from '../../shared/contracts/workflow.ts';
import { alignReturns, buildSnapshot, snapshotEnds } from '../../shared/analytics/graph.ts';
import { readBars } from '../../shared/analytics/klines.ts';
import { createRegistry as createModelRegistry } from '../../shared/analytics/registry.ts';
import { createReporter } from '../../shared/loader/reporter.ts';
import { AppError, InvalidInputError } from '../../shared/runtime/errors.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import type { Store } from '../../shared/store/store.ts';
import { builderMetrics } from './metrics.ts';
import { FUNCTION_NAME, type BuilderSettings } from './schema.ts';

export interface GraphBuilderDeps {
  bus: Publisher;
  store: Store;
  logger: Logger;
  settings: BuilderSettings;
  registry: PromRegistry;
  now?: () => number;
}

export interface GraphBuilder {
  validateEvent(event: BusEvent): void;
  handleEvent(event: BusEvent): Promise<void>;
  /** Resolves when every running build has ended (tests, shutdown). */
  idle(): Promise<void>;
  /** Cancels running builds (their workflows are failed by the watchdog or retried). */
  stop(): Promise<void>;
}

interface Running {
  attempt: number;
  abort: AbortController;
  done: Promise<void>;
}

const iso = (t: number) => new Date(t).toISOString();

export function createGraphBuilder(d: GraphBuilderDeps): GraphBuilder {
  const now = d.now ?? Date.now;
  const metrics = builderMetrics(d.registry);
  const registry = createModelRegistry(d.store);
  const running = new Map<string, Running>();

  async function build(cmd: QueueCommand, signal: AbortSignal): Promise<void> {
    const log = d.logger.child({ queue_id: cmd.queue_id });
    const reporter = createReporter(d.bus, cmd, {
      firstSeq: 1,
      intervalMs: d.settings.progressIntervalMs,
      now,
      producer: FUNCTION_NAME,
    });
    const started = now();
    let stored = 0;
    let edges = 0;
    try {
      const p: GraphParams | undefined = cmd.graph;
      if (!p) throw new InvalidInputError('a graph_build command needs its `graph` parameters');
      await reporter.started({ records: 0, percent: 0 });
      const bars = await readBars(d.store, p);
      const step = intervalMs(p.interval);
      const aligned = alignReturns(p.symbols, bars, { start: p.start, end: p.end, interval_ms: step });
      const ends = snapshotEnds(aligned, p);
      await registry.ensure();
      let chunk: GraphSnapshot[] = [];
      const flush = async () => {
        if (chunk.length === 0) return;
        await d.store.putGraphSnapshots(cmd.queue_id, chunk);
        stored += chunk.length;
        metrics.snapshots.inc(chunk.length);
        chunk = [];
        await reporter.progress({ records: stored, percent: Math.floor((100 * stored) / ends.length) });
      };
      for (const end of ends) {
        if (signal.aborted) {
          await flush();
          await reporter.cancelled('graph build cancelled', { records: stored });
          return;
        }
        const snap = buildSnapshot(aligned, end, p);
        edges += snap.edges.length;
        metrics.edges.inc(snap.edges.length);
        chunk.push(snap);
        if (chunk.length >= d.settings.writeChunk) await flush();
        await yieldTurn();
      }
      await flush();
      await registry.putGraph({
        graph_id: cmd.queue_id,
        queue_id: cmd.queue_id,
        params: { ...p },
        symbols: p.symbols,
        interval: p.interval,
        market: p.market,
        start: p.start,
        end: p.end,
        snapshots: stored,
        edges,
        created_at: iso(now()),
      });
      const seconds = (now() - started) / 1000;
      metrics.seconds.observe(seconds);
      log.info({ snapshots: stored, edges, seconds }, 'graph built');
      await reporter.completed(
        { records: stored, percent: 100 },
        stored,
        `built ${stored} snapshots with ${edges} edges of ${p.symbols.length} symbols (GET /graphs/${cmd.queue_id})`,
      );
    } catch (err) {
      const bad = err instanceof AppError && err.status < 500;
      const message = err instanceof Error ? err.message : String(err);
      metrics.failures.inc({ reason: bad ? 'input' : 'internal' });
      if (bad) log.info({ err: message }, 'graph build refused');
      else log.error({ err }, 'graph build failed');
      await reporter.error(
        { code: bad ? 'invalid_input' : 'internal', message, source: FUNCTION_NAME },
        {
          records: stored,
        },
      );
    }
  }

  const builder: GraphBuilder = {
    validateEvent(event) {
      if (event.type !== EventTypes.commandStart && event.type !== EventTypes.commandStop)
        throw new InvalidInputError(`graph-builder takes queue-control commands, not ${event.type}`, []);
      const parsed = QueueCommand.safeParse(event.data);
      if (!parsed.success) throw InvalidInputError.fromZod('invalid queue-control command', parsed.error);
    },

    async handleEvent(event) {
      builder.validateEvent(event);
      const cmd = QueueCommand.parse(event.data);
      if (cmd.target !== FUNCTION_NAME) return;
      const current = running.get(cmd.queue_id);
      if (cmd.command === 'stop') {
        if (current && current.attempt <= cmd.attempt) current.abort.abort();
        return;
      }
      if (current) {
        if (current.attempt >= cmd.attempt) return; // a redelivered start
        current.abort.abort();
        await current.done;
      }
      const abort = new AbortController();
      const entry: Running = {
        attempt: cmd.attempt,
        abort,
        done: build(cmd, abort.signal)
          .catch((err: unknown) =>
            d.logger.error({ err, queue_id: cmd.queue_id }, 'graph build report failed'),
          )
          .finally(() => {
            if (running.get(cmd.queue_id) === entry) running.delete(cmd.queue_id);
          }),
      };
      running.set(cmd.queue_id, entry);
    },

    async idle() {
      while (running.size > 0) await Promise.all([...running.values()].map((r) => r.done));
    },

    async stop() {
      for (const r of running.values()) r.abort.abort();
      await builder.idle();
    },
  };
  return builder;
}
