/** Types of scripts/faults-kafka.mjs. */
export interface RestartableKafka {
  brokers: string;
  port: number;
  dir: string;
  restart(opts?: { hard?: boolean; downMs?: number }): Promise<void>;
  stop(): Promise<void>;
}
export declare function startRestartableKafka(opts?: {
  heapMb?: number;
  readyTimeoutMs?: number;
}): Promise<RestartableKafka>;
