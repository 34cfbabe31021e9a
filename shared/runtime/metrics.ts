/**
 * prom-client helpers (DESIGN.md "Cross-cutting rules": every function serves /metrics).
 * Metrics are looked up before they are created, so two apps sharing one registry (the embedded
 * platform runs several functions in one process) do not collide on registration.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** A registry with prom-client's default process metrics, labelled with the function name. */
export function createRegistry(fn: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ fn });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** The counter `name` on `registry`, created on first use. */
export function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<L>;
  return new Counter({ name, help, labelNames, registers: [registry] });
}

/** The gauge `name` on `registry`, created on first use. */
export function gauge<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Gauge<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Gauge<L>;
  return new Gauge({ name, help, labelNames, registers: [registry] });
}

/** The histogram `name` on `registry`, created on first use (buckets in seconds by default). */
export function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
  buckets: number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
): Histogram<L> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<L>;
  return new Histogram({ name, help, labelNames, buckets, registers: [registry] });
}

/** The metrics every function app keeps. */
export interface RuntimeMetrics {
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  inFlight: Gauge;
  eventsReceived: Counter<'type'>;
  eventsFailed: Counter<'type' | 'status'>;
}

export function runtimeMetrics(registry: Registry): RuntimeMetrics {
  return {
    httpDuration: histogram(registry, 'http_request_duration_seconds', 'HTTP request duration', [
      'method',
      'route',
      'status',
    ]),
    inFlight: gauge(registry, 'http_requests_in_flight', 'HTTP requests being handled'),
    eventsReceived: counter(registry, 'events_received_total', 'CloudEvents received', ['type']),
    eventsFailed: counter(registry, 'events_failed_total', 'CloudEvents whose handling failed', [
      'type',
      'status',
    ]),
  };
}
