/**
 * Picks the EventBus adapter from configuration (DESIGN.md "Shape"): Apache Kafka when
 * `KAFKA_BROKERS` is set, otherwise the in-process bus of the embedded mode; and, for a process on
 * the far side of a boundary (a loader Job), the Publisher: Kafka, or the parent's ingress when
 * `STREAMFORGE_INGRESS_URL` is set (a child of the embedded platform).
 */
import type { Logger } from '../runtime/logger.ts';
import type { EventBus, Publisher } from './event-bus.ts';
import { createHttpPublisher } from './http-publisher.ts';
import { createKafkaBus } from './kafka-bus.ts';
import { createMemoryBus } from './memory-bus.ts';

export interface BusConfig {
  KAFKA_BROKERS: string[];
  KAFKA_CLIENT_ID: string;
}

/** Kafka when `cfg.KAFKA_BROKERS` lists a broker; else in-process. */
export function createBus(cfg: BusConfig, logger: Logger): EventBus {
  if (cfg.KAFKA_BROKERS.length > 0) {
    logger.info({ brokers: cfg.KAFKA_BROKERS }, 'event bus: Apache Kafka');
    return createKafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: cfg.KAFKA_CLIENT_ID, logger });
  }
  logger.info('event bus: in-process (embedded mode)');
  // Every consumer group of the embedded mode is one of the runner's, wired at start, so records
  // all groups have committed can go: a year-long backfill does not accumulate in memory.
  return createMemoryBus({ logger: logger.child({ component: 'memory-bus' }), retention: 'consumed' });
}

/**
 * Kafka when `cfg.KAFKA_BROKERS` lists a broker; else the parent's ingress at
 * `cfg.STREAMFORGE_INGRESS_URL`; else (a loader run in-process, tests) an in-process bus.
 */
export function createPublisher(
  cfg: BusConfig & { STREAMFORGE_INGRESS_URL?: string | undefined },
  logger: Logger,
): Publisher {
  if (cfg.KAFKA_BROKERS.length === 0 && cfg.STREAMFORGE_INGRESS_URL) {
    // The URL may carry the ingress token as its password: log the address only.
    const at = new URL(cfg.STREAMFORGE_INGRESS_URL);
    logger.info({ ingress: `${at.protocol}//${at.host}${at.pathname}` }, "publisher: the parent's ingress");
    return createHttpPublisher({
      url: cfg.STREAMFORGE_INGRESS_URL,
      logger: logger.child({ component: 'publisher' }),
    });
  }
  return createBus(cfg, logger);
}
