/**
 * prom-client helpers (DESIGN.md "Cross-cutting rules": every function serves /metrics).
 * Metrics are looked up before they are created, so two apps sharing one registry (the embedded
 * platform runs several functions in one process) do not collide on registration.
 *
 * Conventions (https://prometheus.io/docs/practices/naming/, checked by `promtool check metrics`
 * in test/observability): a `streamforge_` prefix for the platform's own metrics, base units
 * (`_seconds`, `_bytes`), `_total` on counters, and label values from a bounded set: a label fed
 * from outside input goes through {@link boundedLabel}. docs/observability.md lists them all.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EventTypes, Topics } from '../contracts/events.ts';
import { RECORD_KINDS } from '../contracts/records.ts';

let disabled = false;

/**
 * Turns every metric created from now on into a no-op (and registries into empty ones): only the
 * backfill bench does this (bench/e2e.ts, in the process of its `nometrics` part only), to
 * measure what the metrics cost on the hot path. Never in production: /metrics then serves nothing.
 */
export function disableMetrics(): void {
  disabled = true;
}

/** Whether {@link disableMetrics} was called in this process. */
export function metricsDisabled(): boolean {
  return disabled;
}

const noop = (): void => undefined;
/** A metric that does nothing: what the helpers hand out once metrics are disabled. */
const NOOP_METRIC = {
  inc: noop,
  dec: noop,
  set: noop,
  observe: noop,
  reset: noop,
  remove: noop,
  zero: noop,
  setToCurrentTime: noop,
  startTimer: () => () => 0,
  labels: () => NOOP_METRIC,
  get: () => Promise.resolve({ values: [] }),
};

/** A registry with prom-client's default process metrics, labelled with the function name. */
export function createRegistry(fn: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ fn });
  if (disabled) return registry;
  collectDefaultMetrics({ register: registry });
  // Gauges named like counters break the conventions (promtool: "non-counter metrics should not
  // have _total suffix"); the same figures stay by type in nodejs_active_{handles,requests,resources}.
  for (const name of [
    'nodejs_active_handles_total',
    'nodejs_active_requests_total',
    'nodejs_active_resources_total',
  ])
    registry.removeSingleMetric(name);
  return registry;
}

/** The counter `name` on `registry`, created on first use. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  if (disabled) return NOOP_METRIC as unknown as Counter<L>;
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** The gauge `name` on `registry`, created on first use; `collect` runs before each scrape reads it. */
export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  collect?: (this: Gauge<L>) => void | Promise<void>,
): Gauge<L> {
  if (disabled) return NOOP_METRIC as unknown as Gauge<L>;
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry], ...(collect ? { collect } : {}) });
}

/** The histogram `name` on `registry`, created on first use (buckets in seconds by default). */
export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
): Histogram<L> {
  if (disabled) return NOOP_METRIC as unknown as Histogram<L>;
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/**
 * A label from outside input, bounded: the first `max` distinct values pass, then every new one
 * becomes `other` (a sender inventing CloudEvent types cannot grow the series without end).
 */
export function boundedLabel(max: number, known: Iterable<string> = []): (value: string) => string {
  const seen = new Set(known);
  const limit = seen.size + max;
  return (value) => {
    if (seen.has(value)) return value;
    if (seen.size >= limit) return 'other';
    seen.add(value);
    return value;
  };
}

/** The platform's CloudEvent types: always a label value of their own. */
const KNOWN_TYPES = [
  EventTypes.commandStart,
  EventTypes.commandStop,
  EventTypes.queueEvent,
  EventTypes.deadLetter,
  ...RECORD_KINDS.map((k) => EventTypes.data(k)),
];

/** Topic an event of this type travels on by default (the topology's KafkaSources read these). */
const TOPIC_OF_TYPE = new Map<string, string>([
  [EventTypes.commandStart, Topics.control],
  [EventTypes.commandStop, Topics.control],
  [EventTypes.queueEvent, Topics.events],
  [EventTypes.deadLetter, Topics.deadLetter],
  ...RECORD_KINDS.map((k): [string, string] => [EventTypes.data(k), Topics.data(k)]),
]);

/** `topic` label of an event type: one of the platform's topics, or `other` (bounded). */
export function topicOfType(type: string): string {
  return TOPIC_OF_TYPE.get(type) ?? 'other';
}

/** The metrics every function app keeps. */
export interface RuntimeMetrics {
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  inFlight: Gauge;
  eventsReceived: Counter<'type'>;
  eventsFailed: Counter<'type' | 'status'>;
  /** Age of the last event handled per topic: see {@link RuntimeMetrics.observeEvent}. */
  consumerLag: Gauge<'topic'>;
  /** `type` label of a received CloudEvent (bounded: the platform's types plus 16 others). */
  typeLabel: (type: string) => string;
  /**
   * Counts a received event and records the consumer lag of its topic: now minus the event's
   * CloudEvent `time` (stamped by its producer when published), so the time it waited in Kafka
   * and in delivery. A KafkaSource delivers in offset order per partition, so this grows when
   * the consumer falls behind and returns to ~0 when it catches up.
   */
  observeEvent: (type: string, time: string | undefined, now?: number) => void;
}

export function runtimeMetrics(registry: Registry): RuntimeMetrics {
  const eventsReceived = counter(
    registry,
    'streamforge_cloudevents_received_total',
    'CloudEvents received, by type',
    ['type'],
  );
  const consumerLag = gauge(
    registry,
    'streamforge_consumer_lag_seconds',
    'Age of the last event handled from each topic (handling time minus the CloudEvent time)',
    ['topic'],
  );
  const typeLabel = boundedLabel(16, KNOWN_TYPES);
  return {
    httpDuration: histogram(registry, 'http_request_duration_seconds', 'HTTP request duration', [
      'method',
      'route',
      'status',
    ]),
    inFlight: gauge(registry, 'http_requests_in_flight', 'HTTP requests being handled'),
    eventsReceived,
    eventsFailed: counter(
      registry,
      'streamforge_cloudevents_failed_total',
      'CloudEvents whose handling failed, by type and HTTP status',
      ['type', 'status'],
    ),
    consumerLag,
    typeLabel,
    observeEvent(type, time, now = Date.now()) {
      eventsReceived.inc({ type: typeLabel(type) });
      if (time === undefined) return;
      const at = Date.parse(time);
      if (Number.isFinite(at)) consumerLag.set({ topic: topicOfType(type) }, Math.max(0, (now - at) / 1000));
    },
  };
}
