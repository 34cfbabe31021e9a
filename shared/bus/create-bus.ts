/**
 * Picks the EventBus adapter from configuration (DESIGN.md "Shape"): Apache Kafka when
 * `KAFKA_BROKERS` is set; else the parent's HTTP bridge when `STREAMFORGE_BUS_URL` is set (a
 * child process of the embedded platform, brief "Jobs / embedded mode"); otherwise the
 * in-process bus of the embedded mode.
 */
import type { Logger } from '../runtime/logger.ts';
import type { EventBus } from './event-bus.ts';
import { createHttpBus } from './http-bus.ts';
import { createKafkaBus } from './kafka-bus.ts';
import { createMemoryBus } from './memory-bus.ts';

/** Kafka when `cfg.KAFKA_BROKERS` lists a broker; else the HTTP bridge at `cfg.STREAMFORGE_BUS_URL`; else in-process. */
export function createBus(
  cfg: { KAFKA_BROKERS: string[]; KAFKA_CLIENT_ID: string; STREAMFORGE_BUS_URL?: string | undefined },
  logger: Logger,
): EventBus {
  if (cfg.KAFKA_BROKERS.length > 0) {
    logger.info({ brokers: cfg.KAFKA_BROKERS }, 'event bus: Apache Kafka');
    return createKafkaBus({ brokers: cfg.KAFKA_BROKERS, clientId: cfg.KAFKA_CLIENT_ID, logger });
  }
  if (cfg.STREAMFORGE_BUS_URL !== undefined && cfg.STREAMFORGE_BUS_URL !== '') {
    // The URL may carry the bridge's token as its password: log the address only.
    const at = new URL(cfg.STREAMFORGE_BUS_URL);
    logger.info(
      { bridge: `${at.protocol}//${at.host}${at.pathname}` },
      "event bus: the parent's in-process bus over HTTP",
    );
    return createHttpBus({ url: cfg.STREAMFORGE_BUS_URL, logger: logger.child({ component: 'http-bus' }) });
  }
  logger.info('event bus: in-process (embedded mode)');
  // Embedded mode wires every consumer group at start, so records all groups have committed
  // can go: a year-long backfill then does not accumulate in memory.
  return createMemoryBus({ logger: logger.child({ component: 'memory-bus' }), retention: 'consumed' });
}
