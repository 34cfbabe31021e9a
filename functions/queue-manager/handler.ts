/**
 * The manager's logic over its ports (store, bus, job launcher): create, cancel and retry
 * workflows, fold queue-events into them, fail workflows whose job died or that went silent.
 * No HTTP and no environment here (style.md "A function folder reads top to bottom").
 */
import type { BusEvent } from '../../shared/bus/event-bus.ts';
import { EventTypes } from '../../shared/contracts/events.ts';
import { QueueEvent, planFor, type Workflow } from '../../shared/contracts/workflow.ts';
import type { Market } from '../../shared/contracts/common.ts';
import {
  asGiven,
  checkLive,
  checkRequest,
  isLiveType,
  notBuiltReason,
} from '../../shared/contracts/request-rules.ts';
import {
  ConflictError,
  DependencyError,
  InvalidInputError,
  NotFoundError,
} from '../../shared/runtime/errors.ts';
import { defaultNames, newQueueId, newTelemetryId } from './commands.ts';
import { CANCELLABLE, MANAGER, RETRYABLE, fold, managerEvent, retry, stall } from './fold.ts';
import { createJobControl, type JobControlDeps } from './jobs.ts';
import type { ListFilter } from './repo.ts';
import { resolveRange, type CreateWorkflowBody } from './schema.ts';
import { graphIssues, graphParamsOf } from '../../shared/contracts/analytics.ts';
import type { Registry as AnalyticsRegistry } from '../../shared/analytics/registry.ts';

export type ServiceDeps = JobControlDeps & {
  /** Graphs and models (gnn_train looks its graph up; a trainer's final event registers its model). */
  analytics: AnalyticsRegistry;
  /**
   * The queue-event feed connects after start (the platform's local runner): no verdict on
   * silence or lost jobs until `feedConnected` is called.
   */
  feedLater?: boolean | undefined;
};

export type IngestOutcome = 'applied' | 'unchanged' | 'unknown';

export interface WorkflowService {
  create(body: CreateWorkflowBody): Promise<Workflow[]>;
  get(queueId: string): Promise<Workflow>;
  list(f: ListFilter): Promise<{ items: Workflow[]; total: number }>;
  cancel(queueId: string): Promise<Workflow>;
  retry(queueId: string): Promise<Workflow>;
  /** Folds one queue-event (both intake paths end here). */
  ingest(ev: QueueEvent): Promise<IngestOutcome>;
  /** Checks type and data of a CloudEvent; InvalidInputError (400) when it cannot be a queue-event. */
  parseCloudEvent(event: BusEvent): QueueEvent;
  /** {@link parseCloudEvent}, then folds it. */
  ingestCloudEvent(event: BusEvent): Promise<IngestOutcome>;
  /** Fails every stalled workflow; returns how many. */
  sweep(): Promise<number>;
  /** Starts the workflows a previous manager left waiting for a job slot. */
  resume(): Promise<void>;
  /**
   * Queue-events can reach the manager from `at` on (with `feedLater`): until then the watchdog
   * calls no one silent and no job lost; silence counts from `at`. The platform calls it once its
   * local runner has joined the consumer groups, which after a crash waits for the dead
   * members' sessions to end (30 s).
   */
  feedConnected(at: number): void;
  /** False from start until `feedConnected` when the feed connects later; true otherwise. */
  feedIsConnected(): boolean;
  /** Cancels pending job-exit timers. */
  close(): void;
}

const invalid = (path: string, message: string) =>
  new InvalidInputError('invalid request json', [{ code: 'custom', path: [path], message }]);

export function createWorkflowService(d: ServiceDeps): WorkflowService {
  const { repo, settings, metrics } = d;
  const log = d.logger;
  const jobs = createJobControl(d);
  /**
   * Silence is counted from here at the earliest (see `isStalled`): the start, moved to the last
   * time the manager could not record a queue-event because its store was away, or found the
   * broker away. Events sent meanwhile are being redelivered, so the workflows' silence is the
   * manager's, not theirs (docs/faults.md, "store unavailable", "broker restart").
   */
  let watchingSince = d.now();
  /** False until the feed connects (`feedLater`): no verdicts meanwhile. */
  let hearing = d.feedLater !== true;
  /** The active workflows at start, while `adopt` waits for the feed. */
  let unadopted: Workflow[] | undefined;
  async function adopt(active: Workflow[]): Promise<void> {
    try {
      const lost = await jobs.adopt(active);
      if (lost > 0) log.warn({ lost }, 'workflows whose job is gone end in error (job_lost)');
    } catch (err) {
      // Without the list the stall watchdog still ends them, later.
      log.warn({ err }, 'could not list the jobs that exist');
    }
  }
  const silenceFrom = (at: number): void => {
    watchingSince = Math.max(watchingSince, at);
  };
  const blind = (err: unknown): void => {
    if (err instanceof DependencyError) silenceFrom(d.now());
  };

  /** A new workflow document; a queue id clash (1 in 16M per day and type) gets a fresh id. */
  async function store(make: () => Workflow): Promise<Workflow> {
    for (let i = 0; ; i++) {
      const wf = make();
      try {
        await repo.create(wf);
        return wf;
      } catch (err) {
        if (!(err instanceof ConflictError) || i >= 2) throw err;
      }
    }
  }

  /** The request's range and the rules' verdict: a history range, or [now, end) for a live type. */
  function admit(body: CreateWorkflowBody, market: Market) {
    if (isLiveType(body.type)) {
      const live = checkLive({ ...body, market }, { now: d.now() });
      if (live.issues.length > 0) throw new InvalidInputError('invalid request json', live.issues);
      return { range: live, checked: { end: live.end, notes: [] as string[] } };
    }
    const range = resolveRange(body);
    if (!range) throw invalid('time_range', 'a time range is required');
    const checked = checkRequest(
      { type: body.type, market, start: range.start, end: range.end },
      { now: d.now(), limits: settings.rangeLimits },
    );
    if (checked.issues.length > 0)
      throw new InvalidInputError(
        'invalid request json',
        asGiven(checked.issues, body.time_range !== undefined),
      );
    return { range, checked };
  }

  const service: WorkflowService = {
    async create(body) {
      const unbuilt = notBuiltReason(body.type);
      if (unbuilt) throw invalid('type', unbuilt);
      const { target } = planFor(body.type);
      jobs.checkImage(target);
      const names = defaultNames(body.type);
      /** Stored before anything runs (nothing runs without a record), then started. */
      const open = async (
        symbol: string,
        fields: Pick<Workflow, 'market' | 'time_range' | 'start' | 'end'> & Partial<Workflow>,
        notes: string[],
      ): Promise<Workflow> => {
        const at = new Date(d.now()).toISOString();
        const wf = await store(() => ({
          queue_id: newQueueId(symbol, body.type, fields.start),
          symbol,
          type: body.type,
          target,
          status: 'pending',
          kafka_topic: body.kafka_topic ?? names.kafka_topic,
          collection_name: body.collection_name ?? names.collection_name,
          telemetry_id: newTelemetryId(),
          records_written: 0,
          attempt: 1,
          created_at: at,
          updated_at: at,
          last_event_at: at,
          ...fields,
          ...(notes.length > 0 ? { notes } : {}),
          timeline: [{ at, producer: MANAGER, status: 'pending', message: 'workflow created', attempt: 1 }],
        }));
        metrics.created.inc({ type: wf.type });
        log.info(
          { queue_id: wf.queue_id, type: wf.type, symbol, time_range: wf.time_range },
          'workflow created',
        );
        return jobs.start(wf);
      };

      if (body.type === 'gnn_train') {
        // The schema requires `gnn`; the graph gives symbols, market and range.
        const gnn = body.gnn!;
        const graph = await d.analytics.getGraph(gnn.graph_id);
        if (!graph)
          throw new InvalidInputError('invalid request json', [
            {
              code: 'custom',
              path: ['gnn', 'graph_id'],
              message: `no graph ${gnn.graph_id}: build one with a graph_build workflow (GET /graphs lists them)`,
            },
          ]);
        const wf = await open(
          graph.symbols[0]!,
          {
            market: graph.market,
            time_range: `graph ${graph.graph_id}`,
            start: graph.start,
            end: graph.end,
            gnn,
          },
          [],
        );
        return [wf];
      }

      const market = body.market ?? 'spot';
      const { range, checked } = admit(body, market);
      const symbols = body.symbols ?? (body.symbol ? [body.symbol] : []);
      if (body.type === 'graph_build') {
        const graph = graphParamsOf(body.graph, { symbols, market, start: range.start, end: checked.end });
        const issues = graphIssues(graph);
        if (issues.length > 0)
          throw new InvalidInputError(
            'invalid request json',
            issues.map((i) => ({ code: 'custom', ...i })),
          );
        const fields = { market, time_range: range.time_range, start: range.start, end: checked.end, graph };
        return [await open(symbols[0]!, fields, checked.notes)];
      }
      const out: Workflow[] = [];
      for (const symbol of symbols)
        out.push(
          await open(
            symbol,
            { market, time_range: range.time_range, start: range.start, end: checked.end },
            checked.notes,
          ),
        );
      return out;
    },

    async get(queueId) {
      const wf = await repo.get(queueId);
      if (!wf) throw new NotFoundError(`no workflow ${queueId}`);
      return wf;
    },

    list: (f) => repo.list(f),

    async cancel(queueId) {
      const now = d.now();
      const { before, after } = await repo.update(queueId, (wf) => {
        if (!CANCELLABLE.has(wf.status))
          throw new ConflictError(`workflow ${queueId} is ${wf.status}: cannot cancel`);
        return fold(wf, managerEvent(wf, now, 'cancelled', 'cancelled by request'), now);
      });
      jobs.transitioned(before, after);
      await jobs.stop(after, 'cancel');
      return after;
    },

    async retry(queueId) {
      const now = d.now();
      const { after } = await repo.update(queueId, (wf) => {
        if (!RETRYABLE.has(wf.status))
          throw new ConflictError(`workflow ${queueId} is ${wf.status}: cannot retry`);
        jobs.checkImage(wf.target);
        return retry(wf, now);
      });
      log.info({ queue_id: queueId, attempt: after.attempt }, 'workflow retried');
      return jobs.start(after);
    },

    async ingest(ev) {
      if (ev.model && ev.status === 'completed') {
        // Registered before the workflow completes: a completed gnn_train always has its model.
        const stored = await d.analytics.putModel(ev.model);
        if (stored === 'stored')
          log.info({ queue_id: ev.queue_id, model_id: ev.model.model_id }, 'model registered');
      }
      try {
        const { before, after } = await repo.update(ev.queue_id, (wf) => fold(wf, ev, d.now()));
        const outcome = before === after ? 'unchanged' : 'applied';
        metrics.events.inc({ outcome });
        jobs.transitioned(before, after);
        return outcome;
      } catch (err) {
        blind(err);
        if (!(err instanceof NotFoundError)) throw err;
        metrics.events.inc({ outcome: 'unknown' });
        log.warn(
          { queue_id: ev.queue_id, producer: ev.producer },
          'queue-event for an unknown workflow ignored',
        );
        return 'unknown';
      }
    },

    parseCloudEvent(event) {
      if (event.type !== EventTypes.queueEvent) {
        metrics.events.inc({ outcome: 'invalid' });
        throw new InvalidInputError(`expected a ${EventTypes.queueEvent} event, got ${event.type}`);
      }
      const parsed = QueueEvent.safeParse(event.data);
      if (!parsed.success) {
        metrics.events.inc({ outcome: 'invalid' });
        throw InvalidInputError.fromZod('invalid queue-event', parsed.error);
      }
      return parsed.data;
    },

    async ingestCloudEvent(event) {
      return service.ingest(service.parseCloudEvent(event));
    },

    async sweep() {
      const now = d.now();
      let stalled = 0;
      // The gauges show what is active whether or not the manager may judge it now.
      const active = await repo.active();
      metrics.observeActive(active, now);
      if (!hearing) return 0;
      // A broker that is away delays every queue-event: nobody can be called silent meanwhile.
      try {
        await d.bus.ping();
      } catch (err) {
        silenceFrom(now);
        log.warn({ err }, 'watchdog: the bus is unavailable; silence counts from when it is back');
        return 0;
      }
      for (const wf of active) {
        // Waiting for a job slot is not silence: nothing was asked of anyone yet.
        if (wf.waiting !== undefined) continue;
        const { before, after } = await repo
          .update(wf.queue_id, (w) => stall(w, now, settings.stallTimeoutMs, watchingSince))
          .catch((err: unknown) => {
            blind(err);
            throw err;
          });
        if (before === after) continue;
        stalled += 1;
        metrics.stalled.inc();
        jobs.transitioned(before, after);
        await jobs.stop(after, 'stalled');
      }
      return stalled;
    },

    feedConnected(at) {
      silenceFrom(at);
      hearing = true;
      const left = unadopted;
      unadopted = undefined;
      if (left) void adopt(left);
    },

    feedIsConnected: () => hearing,

    async resume() {
      const active = await repo.active();
      // A final event sent just before a crash must be read before its job is called lost.
      if (hearing) await adopt(active);
      else unadopted = active;
      jobs.resumeWaiting(active);
    },

    close() {
      jobs.close();
    },
  };
  return service;
}
