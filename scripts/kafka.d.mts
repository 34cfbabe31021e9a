/** Types of scripts/kafka.mjs (a plain ESM script, so CI can run it before npm deps). */
export declare const KAFKA_VERSION: string;
export declare const cacheDir: string;

/** Downloads the broker's jars once into `.cache/kafka/<version>/libs`; returns that directory. */
export declare function fetchKafka(opts?: { quiet?: boolean }): string;

/** A free TCP port on 127.0.0.1. */
export declare function freePort(): Promise<number>;

/** A Kafka cluster id: 16 random bytes, URL-safe base64, no leading '-'. */
export declare function clusterId(): string;

/** server.properties of the single-node KRaft broker the tests run. */
export declare function serverProperties(o: {
  port: number;
  controllerPort: number;
  dataDir: string;
}): string;

export interface RunningKafka {
  /** `127.0.0.1:<port>`, the value for KAFKA_BROKERS. */
  brokers: string;
  port: number;
  /** The broker's temp dir (config, data, logs); deleted by `stop()` unless `keepDir`. */
  dir: string;
  logFile: string;
  /** Controlled shutdown, then the temp dir is deleted. */
  stop(): Promise<void>;
}

/** Starts a fresh single-node KRaft broker on 127.0.0.1. */
export declare function startKafka(opts?: {
  port?: number;
  heapMb?: number;
  readyTimeoutMs?: number;
  keepDir?: boolean;
}): Promise<RunningKafka>;
