/**
 * The local runner: for each KafkaSource of the topology, a consumer group on the bus that
 * delivers every record to the source's sink exactly as the KafkaSource dispatcher would
 * (dispatcher.ts). The cluster and a single machine read the same `kafka-sources/*.yaml`.
 *
 * Ordering (knative.md §3): `ordered` keeps one event in flight per partition — the bus hands a
 * partition's next record over only once the handler returned, and the handler returns after
 * the delivery (or its dead letter) is done; partitions run in parallel. `unordered` sends
 * records concurrently: the handler returns as soon as a delivery started (up to
 * `maxInFlight` per source), so the bus commits before the delivery ends. A graceful stop
 * waits for those deliveries; a crash may lose them, as the KafkaSource's own unordered mode
 * may redeliver — locally we accept that for a mode our topology does not use.
 */
import type { EventBus, IncomingMessage, Subscription } from '../../shared/bus/event-bus.ts';
import type { Logger } from '../../shared/runtime/logger.ts';
import { deliveryPolicy } from '../../shared/topology/delivery.ts';
import type { Destination, KafkaSource } from '../../shared/topology/schema.ts';
import { createAgents } from './http-post.ts';
import {
  DeliveryAborted,
  dispatch,
  type DeadLetterTarget,
  type DirectDelivery,
  type DispatchDeps,
  type DispatchResult,
} from './dispatcher.ts';

export interface LocalRunnerOptions {
  bus: EventBus;
  sources: KafkaSource[];
  /**
   * Base URL of a Service a `ref` names (Knative resolves a ref to the Service's address), e.g.
   * `queue-manager` → `http://127.0.0.1:8080`. Undefined when it does not run here.
   */
  resolveService: (name: string) => string | undefined;
  /**
   * Services running in this process that take their events without HTTP (FunctionApp.deliver),
   * by name. A source whose sink is one of them is delivered to directly, by the same dispatcher
   * (retries, backoff, dead letters); everything else is POSTed.
   */
  direct?: (name: string) => DirectDelivery | undefined;
  /**
   * Local run: publish dead letters to this topic instead of POSTing them to the declared
   * dead-letter sink (which may not run on this machine). Unset: use the declared sink.
   */
  deadLetterTopic?: string;
  /** `Kn-Namespace` when a source has no metadata.namespace; default `default`. */
  namespace?: string;
  /** `Authorization` header of every POST, e.g. `Bearer <intake secret>` (the intakes verify it). */
  authorization?: string;
  /** Per-request timeout; default 600 s, as the dispatcher's. */
  requestTimeoutMs?: number;
  /** Partitions handled concurrently per ordered source; default 64 (at least the partition count). */
  partitionsConcurrency?: number;
  /** How long stop() lets running requests finish before cutting them; default 5000 ms. */
  stopGraceMs?: number;
  /** Deliveries in flight per unordered source; default 64. */
  maxInFlight?: number;
  logger: Logger;
  /** Observes every retry (tests, metrics). */
  onRetry?: (retry: {
    source: string;
    n: number;
    waitMs: number;
    status: number | null;
    url: string;
  }) => void;
  /** Observes every finished record. */
  onResult?: (result: { source: string; topic: string; eventId: string; outcome: DispatchResult }) => void;
}

export interface RunnerStats {
  delivered: number;
  retries: number;
  deadLettered: number;
  dropped: number;
}

export interface LocalRunner {
  /** Subscribes every source (topics must exist or be creatable). */
  start(): Promise<void>;
  /** Stops consuming; an interrupted delivery is left uncommitted and comes again next start. */
  stop(): Promise<void>;
  stats(): RunnerStats;
}

/** Resolves a Knative Destination: a ref's address, with a relative `uri` appended, or an absolute `uri`. */
export function resolveDestination(
  dest: Destination,
  resolveService: (name: string) => string | undefined,
): string | undefined {
  if (dest.ref === undefined) return dest.uri;
  if (dest.ref.kind !== 'Service') return undefined;
  const base = resolveService(dest.ref.name);
  if (base === undefined) return undefined;
  if (dest.uri === undefined) return base;
  return new URL(dest.uri, base.endsWith('/') ? base : `${base}/`).toString();
}

export function createLocalRunner(opts: LocalRunnerOptions): LocalRunner {
  const log = opts.logger;
  const stats: RunnerStats = { delivered: 0, retries: 0, deadLettered: 0, dropped: 0 };
  const subscriptions: Subscription[] = [];
  const inFlight = new Set<Promise<void>>();
  let abort = new AbortController();
  let abortRequests = new AbortController();
  let agents = createAgents();

  function deadLetterFor(source: KafkaSource): DeadLetterTarget | undefined {
    if (opts.deadLetterTopic !== undefined) {
      return {
        kind: 'topic',
        topic: opts.deadLetterTopic,
        publish: (topic, key, event) => opts.bus.publish(topic, [{ key, event }]),
      };
    }
    const dls = source.spec.delivery?.deadLetterSink;
    if (dls === undefined) return undefined;
    const url = resolveDestination(dls, opts.resolveService);
    if (url === undefined) {
      throw new Error(
        `KafkaSource ${source.metadata.name}: dead-letter sink ${JSON.stringify(dls)} does not resolve here`,
      );
    }
    return { kind: 'sink', url };
  }

  function count(source: string, msg: IncomingMessage, outcome: DispatchResult): void {
    if (outcome === 'delivered') stats.delivered += 1;
    else if (outcome === 'dead-lettered') stats.deadLettered += 1;
    else stats.dropped += 1;
    opts.onResult?.({ source, topic: msg.topic, eventId: msg.event.id, outcome });
  }

  async function subscribeSource(source: KafkaSource): Promise<Subscription> {
    const name = source.metadata.name;
    const sinkRef = source.spec.sink.ref;
    const direct =
      sinkRef !== undefined && source.spec.sink.uri === undefined ? opts.direct?.(sinkRef.name) : undefined;
    // An in-process sink needs no address; the name stands in for it in logs and dead letters.
    const url =
      resolveDestination(source.spec.sink, opts.resolveService) ??
      (direct && sinkRef ? `inproc://${sinkRef.name}` : undefined);
    if (url === undefined)
      throw new Error(`KafkaSource ${name}: sink ${JSON.stringify(source.spec.sink)} does not resolve here`);
    const deps: DispatchDeps = {
      policy: deliveryPolicy(source.spec.delivery),
      namespace: source.metadata.namespace ?? opts.namespace ?? 'default',
      authorization: opts.authorization,
      overrides: source.spec.ceOverrides?.extensions ?? {},
      deadLetter: deadLetterFor(source),
      requestTimeoutMs: opts.requestTimeoutMs ?? 600_000,
      logger: log.child({ source: name }),
      signal: abort.signal,
      requestSignal: abortRequests.signal,
      agents,
      direct,
      onRetry: (r) => {
        stats.retries += 1;
        opts.onRetry?.({ source: name, ...r });
      },
    };
    const ordered = (source.spec.ordering ?? 'ordered') === 'ordered';
    const maxInFlight = opts.maxInFlight ?? 64;
    const mine = new Set<Promise<void>>();

    const handler = async (msg: IncomingMessage): Promise<void> => {
      if (ordered) {
        count(name, msg, await dispatch(url, msg, deps));
        return;
      }
      while (mine.size >= maxInFlight) await Promise.race(mine);
      const p: Promise<void> = dispatch(url, msg, deps).then(
        (outcome) => count(name, msg, outcome),
        (err: unknown) => {
          if (!(err instanceof DeliveryAborted))
            log.error({ err, source: name }, 'unordered delivery failed');
        },
      );
      const done = p.finally(() => {
        mine.delete(done);
        inFlight.delete(done);
      });
      mine.add(done);
      inFlight.add(done);
    };

    const sub = await opts.bus.subscribe({
      // Knative generates `knative-kafka-source-<uuid>`; a stable local name keeps offsets across restarts.
      groupId: source.spec.consumerGroup ?? `knative-kafka-source-${name}`,
      topics: source.spec.topics,
      from: source.spec.initialOffset ?? 'latest',
      handler,
      partitionsConsumedConcurrently: opts.partitionsConcurrency ?? 64,
    });
    log.info(
      { source: name, topics: source.spec.topics, sink: url, ordering: ordered ? 'ordered' : 'unordered' },
      'KafkaSource running locally',
    );
    return sub;
  }

  return {
    async start() {
      abort = new AbortController();
      abortRequests = new AbortController();
      agents = createAgents();
      try {
        for (const source of opts.sources) subscriptions.push(await subscribeSource(source));
      } catch (err) {
        await this.stop();
        throw err;
      }
    },
    async stop() {
      // Abort first: an ordered handler waiting on a backoff throws, so its record stays
      // uncommitted and the subscription can close without waiting out the schedule.
      abort.abort();
      const cut = setTimeout(() => abortRequests.abort(), opts.stopGraceMs ?? 5000);
      try {
        await Promise.allSettled([...inFlight]);
        const subs = subscriptions.splice(0);
        await Promise.allSettled(subs.map((s) => s.close()));
      } finally {
        clearTimeout(cut);
        agents.destroy();
      }
    },
    stats: () => ({ ...stats }),
  };
}
