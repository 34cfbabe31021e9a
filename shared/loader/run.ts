/**
 * A history loader Job (loader-api, loader-bulk): takes its command from its environment (a stop
 * arrives as SIGTERM, the aborted `signal`), pages what the coverage ledger lacks from its page
 * source, publishes one data batch per page, and reports on `queue-events`. Plain logic over ports
 * (bus, store, exchange clients, clock, logger): each loader's main.ts builds them from the
 * environment; the loaders differ only in their {@link LoaderSpec}.
 *
 * Exit codes: 0 loaded or cancelled; 1 failed (the workflow got an `error` event); 2 the command
 * was unusable (it can never succeed, so the Job must not be restarted for it).
 */
import type { Publisher } from '../bus/event-bus.ts';
import { Topics } from '../contracts/events.ts';
import { datasetKind, type Dataset } from '../contracts/records.ts';
import { planFor, type QueueCommand, type WorkflowError } from '../contracts/workflow.ts';
import { ExchangeUnavailableError } from '../exchange/errors.ts';
import { clockOffset, weightLimit } from '../exchange/exchange-info.ts';
import type { ExchangeClients } from '../exchange/paginate.ts';
import { checkRequest } from '../contracts/request-rules.ts';
import { DependencyError, ExchangeError } from '../runtime/errors.ts';
import type { Logger } from '../runtime/logger.ts';
import type { Store } from '../store/store.ts';
import { CHECKPOINTS, recoverIds, type Checkpoint } from './checkpoint.ts';
import { readCommand } from './commands.ts';
import {
  loadRanges,
  newTiming,
  openCheckpoint,
  progressOf,
  type LoadContext,
  type PageSource,
  type Plan,
} from './load.ts';
import { createReporter, type LoaderName, type Reporter } from './reporter.ts';

/** What makes a loader: its name (the command target it runs) and where its pages come from. */
export interface LoaderSpec {
  name: LoaderName;
  pages: PageSource;
}

export interface LoaderDeps {
  bus: Publisher;
  store: Store;
  exchange: ExchangeClients;
  clock: { now(): number };
  logger: Logger;
  /** Pages in flight at once. */
  concurrency: number;
  /** Klines per request; default the cheapest per weight. Benchmarks only (see PaginateOptions.limit). */
  pageLimit?: number;
  /** Minimum time between progress events; default 1000 ms. */
  progressIntervalMs?: number;
  /** Take the weight limit and/or window from exchangeInfo (where the configuration names none). */
  weightFromExchange?: { limit: boolean; window: boolean };
}

export interface LoaderInput {
  /** STREAMFORGE_COMMAND as given. */
  commandJson?: string | undefined;
  /** Aborted on SIGTERM: the loader stops cleanly with a `cancelled` event. */
  signal: AbortSignal;
}

export type ExitCode = 0 | 1 | 2;

export async function runLoader(spec: LoaderSpec, deps: LoaderDeps, input: LoaderInput): Promise<ExitCode> {
  const outcome = readCommand(input.commandJson);
  if (outcome.kind === 'none') {
    deps.logger.error(`no command: ${outcome.reason}`);
    return 2;
  }
  if (outcome.kind === 'invalid') return await reject(spec, deps, outcome.raw, outcome.problems.join('; '));
  const c = outcome.command;
  const plan = planOf(spec, c, deps.clock.now());
  if (typeof plan === 'string') return await reject(spec, deps, c, plan);
  return await run(spec, deps, plan, input.signal);
}

function planOf(spec: LoaderSpec, c: QueueCommand, now: number): Plan | string {
  if (c.target !== spec.name) return `target ${c.target} is not ${spec.name}`;
  const wp = planFor(c.type);
  if (wp.target !== spec.name || wp.dataset === null)
    return `workflow type ${c.type} is not a ${spec.name} history load`;
  const dataset: Dataset = wp.dataset;
  // The API's rules (request-rules.ts), for a command that did not come through it.
  const { issues } = checkRequest(c, { now });
  if (issues.length > 0) return issues.map((i) => i.message).join('; ');
  return { command: c, kind: datasetKind(dataset), series: { market: c.market, symbol: c.symbol, dataset } };
}

/** A command that can never run: an `error` event when its workflow is known, else a log line. */
async function reject(spec: LoaderSpec, deps: LoaderDeps, raw: unknown, problem: string): Promise<ExitCode> {
  const ids = recoverIds(raw);
  deps.logger.error({ queue_id: ids?.queue_id, problem }, 'invalid command');
  if (ids) {
    const reporter = createReporter(
      deps.bus,
      { ...ids, attempt: ids.attempt ?? 1 },
      { firstSeq: 0, intervalMs: 0, now: () => deps.clock.now(), producer: spec.name },
    );
    await reporter
      .error({ code: 'INVALID_COMMAND', message: problem, source: spec.name })
      .catch((err: unknown) =>
        deps.logger.error({ err, queue_id: ids.queue_id }, 'cannot publish the error event'),
      );
  }
  return 2;
}

async function run(spec: LoaderSpec, deps: LoaderDeps, plan: Plan, signal: AbortSignal): Promise<ExitCode> {
  const c = plan.command;
  const log = deps.logger.child({ queue_id: c.queue_id, attempt: c.attempt });
  const client = deps.exchange[c.market];
  let exchangeOffset = 0;
  const ctx: LoadContext = {
    name: spec.name,
    pages: spec.pages,
    bus: deps.bus,
    store: deps.store,
    exchange: deps.exchange,
    logger: log,
    exchangeNow: () => deps.clock.now() + exchangeOffset,
    concurrency: deps.concurrency,
    pageLimit: deps.pageLimit,
    signal,
    timing: newTiming(),
  };
  const timing = (): Record<string, number> => ({
    wait_pages_ms: Math.round(ctx.timing.waitPagesMs),
    publish_ms: Math.round(ctx.timing.publishMs),
    checkpoint_ms: Math.round(ctx.timing.checkpointMs),
  });
  let reporter: Reporter | undefined;
  /** The checkpoint being advanced (loadRanges updates it in place), for the last event's progress. */
  let current: Checkpoint | undefined;
  try {
    await deps.store.ensureCollection(CHECKPOINTS, 'documents');
    await deps.bus
      .ensureTopics([{ topic: c.kafka_topic }, { topic: Topics.events }])
      .catch((err: unknown) => log.warn({ err }, 'ensureTopics failed'));
    const opened = await openCheckpoint(ctx, plan, deps.clock.now());
    // A restart continues its event seq well above what the dead run may have sent after its last checkpoint.
    const firstSeq = opened.resumed ? opened.cp.event_seq + 1000 : 0;
    reporter = createReporter(deps.bus, c, {
      firstSeq,
      intervalMs: deps.progressIntervalMs ?? 1000,
      now: () => deps.clock.now(),
      producer: spec.name,
    });
    current = opened.cp;
    if (opened.cp.done) {
      await finish(reporter, opened.cp);
      return 0;
    }
    if (!opened.resumed) await reporter.started(progressOf(opened.cp));
    else
      log.info({ seq: opened.cp.next_seq, range_index: opened.cp.range_index }, 'resuming from checkpoint');

    if (opened.cp.range_index < opened.cp.missing.length) {
      // The exchange's clock decides which candles have closed and where weight windows start.
      const clock = await clockOffset(client, c.market, signal);
      exchangeOffset = clock.offsetMs;
      client.budget.configure({ clockOffsetMs: clock.offsetMs, clockUncertaintyMs: clock.uncertaintyMs });
      const fromExchange = deps.weightFromExchange;
      if (fromExchange && (fromExchange.limit || fromExchange.window)) {
        const lim = await weightLimit(client, c.market, c.symbol, signal);
        if (lim)
          client.budget.configure({
            ...(fromExchange.limit ? { limit: lim.limit } : {}),
            ...(fromExchange.window ? { windowMs: lim.windowMs } : {}),
          });
      }
    }
    const cp = await loadRanges(ctx, plan, opened, reporter);
    await finish(reporter, cp);
    log.info(
      {
        batches: cp.next_seq,
        records: cp.records,
        gaps: cp.gaps.length,
        unloaded_ms: cp.unloaded_ms,
        budget: client.budget.stats(),
        timing: timing(),
      },
      'loader finished',
    );
    return 0;
  } catch (err) {
    if (signal.aborted) {
      const why = 'stopped by SIGTERM';
      log.info(why);
      await reporter
        ?.cancelled(why, current && progressOf(current))
        .catch((e: unknown) => log.error({ err: e }, 'cannot publish the cancelled event'));
      return 0;
    }
    const error = workflowError(err, spec.name);
    // The exchange's answer to a request it refuses (-1121 Invalid symbol...) goes to the workflow's
    // status, where the user sees it: no stack trace needed. Anything else is a failure of ours.
    if (err instanceof ExchangeError && err.httpStatus < 500)
      log.info({ error, timing: timing() }, 'loader failed: the exchange refused the request');
    else log.error({ err, error, timing: timing() }, 'loader failed');
    const r =
      reporter ??
      createReporter(deps.bus, c, {
        firstSeq: 0,
        intervalMs: 0,
        now: () => deps.clock.now(),
        producer: spec.name,
      });
    await r
      .error(error, current && progressOf(current), current?.notes)
      .catch((e: unknown) => log.error({ err: e }, 'cannot publish the error event'));
    return 1;
  }
}

/**
 * The last progress and the final event. Its message is exactly 'loader finished' (the agreed
 * marker); time not yet closed on the exchange shows as percent < 100 and stays missing in the
 * ledger for a later run.
 */
async function finish(reporter: Reporter, cp: Parameters<typeof progressOf>[0]): Promise<void> {
  await reporter.progress(progressOf(cp), true);
  await reporter.finished(progressOf(cp), cp.next_seq, cp.gaps, 'loader finished', cp.notes);
}

/** The exchange's own code and message where it gave one (e.g. -1121 Invalid symbol.). */
export function workflowError(err: unknown, source: LoaderName = 'loader-api'): WorkflowError {
  if (err instanceof ExchangeError)
    return { code: err.code, message: err.exchangeMessage, source: err.endpoint };
  if (err instanceof ExchangeUnavailableError)
    return { code: err.code, message: err.message, source: err.endpoint };
  // The store or the bus stayed away longer than the loader's patience: retry when it is back.
  if (err instanceof DependencyError) return { code: 'DEPENDENCY_UNAVAILABLE', message: err.message, source };
  return {
    code: 'INTERNAL',
    message: err instanceof Error ? err.message : String(err),
    source,
  };
}
