/** Types of scripts/kafka.mjs (a plain ESM script, so CI can run it before npm deps). */
export declare const KAFKA_VERSION: string;
export declare const cacheDir: string;

/** Downloads the broker's jars once into `.cache/kafka/<version>/libs`; returns that directory. */
export declare function fetchKafka(opts?: { quiet?: boolean }): string;

/** A free TCP port on 127.0.0.1. */
export declare function freePort(): Promise<number>;

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
