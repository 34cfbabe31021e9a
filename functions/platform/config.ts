/**
 * The platform's configuration: the manager's settings (it is the user-facing function) plus what
 * only the one-process platform needs. Parsed once by main.ts.
 */
import { z } from 'zod';
import { env } from '../../shared/runtime/config.ts';
import { ManagerConfig } from '../queue-manager/config.ts';

export const PlatformConfig = ManagerConfig.extend({
  /**
   * Exchange base URLs. Unset: the platform starts the simulated exchange and points every
   * loader at it; set both to use another exchange (for example the real Binance).
   */
  BINANCE_API_URL: z.url().optional(),
  BINANCE_FAPI_URL: z.url().optional(),
  /** The public archive loader-bulk reads; unset: the simulator's archive, like the two above. */
  BINANCE_ARCHIVE_URL: z.url().optional(),
  /** WebSocket market streams loader-ws subscribes; unset: the simulator's, like the REST URLs. */
  BINANCE_WS_URL: z.url().optional(),
  BINANCE_FWS_URL: z.url().optional(),
  /** `npm start` runs a short demo workflow after start; DEMO=false or `--no-demo` skips it. */
  DEMO: env.bool(true),
  /**
   * How the local runner hands events to the functions of this process. `direct` (default): the
   * function's handler is called with the decoded event (FunctionApp.deliver); `http`: a
   * binary-mode POST, as a KafkaSource does in a cluster. Both take the same retries and dead
   * letters; `direct` saves a socket, an encode and a decode per event (bench/e2e.ts shows it).
   */
  RUNNER_DELIVERY: z.enum(['direct', 'http']).default('direct'),
  /** The manager's interface: loopback by default; beyond it the API needs API_TOKEN. */
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Where the KafkaSources and topics.yaml live (relative to the repository root). */
  TOPOLOGY_DIR: z.string().default('kafka-sources'),
  /** `Kn-Namespace` the local runner sends, as the cluster's namespace would be. */
  KN_NAMESPACE: z.string().default('streamforge'),
  /**
   * The platform is something a person watches start: warnings and errors only by default, so
   * its own summary stays readable (LOG_LEVEL=info shows every function's JSON log).
   */
  LOG_LEVEL: env.logLevel().default('warn'),
});
export type PlatformConfig = z.infer<typeof PlatformConfig>;
