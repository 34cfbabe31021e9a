/**
 * What each deployed function reads from its environment, for the env cross-reference checks:
 * the zod schemas its main.ts passes to loadConfig (a test checks that main.ts really does), the
 * keys that have a default for the embedded mode but must be set in a cluster, and what its parsed
 * configuration must say there.
 */
import type { z } from 'zod';
import { ConnectorConfig } from '../../functions/arango-connector/schema.ts';
import { SimEnv } from '../../functions/dummy-service/exchange/sim-env.ts';
import { DummyConfig } from '../../functions/dummy-service/schema.ts';
import { LoaderConfig } from '../../functions/loader-api/schema.ts';
import { BulkLoaderConfig } from '../../functions/loader-bulk/schema.ts';
import { LoaderWsConfig } from '../../functions/loader-ws/schema.ts';
import { GraphBuilderConfig } from '../../functions/graph-builder/schema.ts';
import { TrainerConfig } from '../../functions/gnn-trainer/schema.ts';
import { apiExposureProblem, ManagerConfig } from '../../functions/queue-manager/config.ts';
import { verifierFromConfig, type IntakeAuthConfig } from '../../shared/runtime/intake-auth.ts';

/** One schema main.ts parses the environment with. */
export interface EnvSchema {
  /** Its exported name, as main.ts writes `loadConfig(<name>, …)`. */
  name: string;
  schema: z.ZodType;
  /** The object schema whose shape lists the keys (the schema itself, or the input of its transform). */
  keys: z.ZodObject;
}

const own = (name: string, schema: z.ZodObject): EnvSchema => ({ name, schema, keys: schema });

export interface DeployedFunction {
  /** The schemas main.ts parses the environment with; `expect` sees the first one's result. */
  schemas: EnvSchema[];
  /** How it runs in the cluster. */
  runsAs: 'service' | 'job';
  /** Keys whose embedded-mode default is wrong in a cluster (in-process bus, SQLite file…). */
  clusterKeys: string[];
  /** Problems of the parsed configuration in a cluster (empty when it is right). */
  expect?: (cfg: Record<string, unknown>) => string[];
  /** Environment variables main.ts reads outside loadConfig, and who sets them. */
  externalEnv?: string[];
}

/** A function's CloudEvent intake must authenticate its senders in a cluster (intake-auth.ts). */
const intakeAuthenticated = (cfg: Record<string, unknown>): string[] => {
  try {
    verifierFromConfig(cfg as IntakeAuthConfig, () => 'a-service-account-token');
  } catch (err) {
    return [err instanceof Error ? err.message : String(err)];
  }
  return cfg['INTAKE_AUTH_DISABLED'] === true ? ['INTAKE_AUTH_DISABLED must not be true in a cluster'] : [];
};

const is = (cfg: Record<string, unknown>, key: string, want: unknown): string[] =>
  cfg[key] === want
    ? []
    : [`${key} must be ${JSON.stringify(want)} in a cluster, is ${JSON.stringify(cfg[key])}`];

export const FUNCTIONS: Record<string, DeployedFunction> = {
  'queue-manager': {
    schemas: [own('ManagerConfig', ManagerConfig)],
    runsAs: 'service',
    clusterKeys: [
      'KAFKA_BROKERS',
      'ARANGO_URL',
      'JOB_LAUNCHER',
      'JOB_NAMESPACE',
      'JOB_IMAGES',
      'JOB_TEMPLATE',
    ],
    expect: (cfg) => [
      ...is(cfg, 'JOB_LAUNCHER', 'kubernetes'),
      ...intakeAuthenticated(cfg),
      ...(apiExposureProblem(String(cfg['HOST']), cfg as ManagerConfig) ?? []),
    ],
    // Set by Kubernetes in every pod; selects the in-cluster kube config. Node reads NODE_EXTRA_CA_CERTS.
    externalEnv: ['KUBERNETES_SERVICE_HOST', 'NODE_EXTRA_CA_CERTS'],
  },
  'arango-connector': {
    schemas: [own('ConnectorConfig', ConnectorConfig)],
    runsAs: 'service',
    // Its KafkaSource delivers the data topics and queue-events: its one intake.
    clusterKeys: ['KAFKA_BROKERS', 'ARANGO_URL'],
    expect: intakeAuthenticated,
    externalEnv: ['NODE_EXTRA_CA_CERTS'],
  },
  'loader-ws': {
    schemas: [own('LoaderWsConfig', LoaderWsConfig)],
    runsAs: 'service',
    // Its KafkaSource delivers queue-control; it publishes to Kafka and checkpoints in ArangoDB.
    clusterKeys: ['KAFKA_BROKERS', 'ARANGO_URL'],
    expect: intakeAuthenticated,
    externalEnv: ['NODE_EXTRA_CA_CERTS'],
  },
  'graph-builder': {
    schemas: [own('GraphBuilderConfig', GraphBuilderConfig)],
    runsAs: 'service',
    // Its KafkaSource delivers queue-control; it reads klines from and writes graphs to ArangoDB.
    clusterKeys: ['KAFKA_BROKERS', 'ARANGO_URL'],
    expect: intakeAuthenticated,
    externalEnv: ['NODE_EXTRA_CA_CERTS'],
  },
  'gnn-trainer': {
    schemas: [own('TrainerConfig', TrainerConfig)],
    runsAs: 'job',
    clusterKeys: ['KAFKA_BROKERS', 'ARANGO_URL', 'STREAMFORGE_COMMAND'],
    // A Job talks to Kafka directly; the ingress is the embedded mode's.
    expect: (cfg) => is(cfg, 'STREAMFORGE_INGRESS_URL', undefined),
  },
  'dummy-service': {
    // The simulated exchange shares its port and reads its own SIM_* keys (defaults suit a dry run).
    schemas: [own('DummyConfig', DummyConfig), { name: 'SimEnv', schema: SimEnv, keys: SimEnv.in }],
    runsAs: 'service',
    clusterKeys: ['KAFKA_BROKERS'],
    expect: intakeAuthenticated,
    externalEnv: ['NODE_EXTRA_CA_CERTS'],
  },
  'loader-bulk': {
    schemas: [own('BulkLoaderConfig', BulkLoaderConfig)],
    runsAs: 'job',
    clusterKeys: ['KAFKA_BROKERS', 'ARANGO_URL', 'STREAMFORGE_COMMAND'],
    // A Job talks to Kafka directly; the ingress is the embedded mode's.
    expect: (cfg) => is(cfg, 'STREAMFORGE_INGRESS_URL', undefined),
  },
  'loader-api': {
    schemas: [own('LoaderConfig', LoaderConfig)],
    runsAs: 'job',
    clusterKeys: ['KAFKA_BROKERS', 'ARANGO_URL', 'STREAMFORGE_COMMAND'],
    // A Job talks to Kafka directly; the ingress is the embedded mode's.
    expect: (cfg) => is(cfg, 'STREAMFORGE_INGRESS_URL', undefined),
  },
};

/** Keys a schema requires: no default and not optional (parsing `undefined` fails). */
export function requiredKeys(schema: z.ZodObject): string[] {
  return Object.entries(schema.shape)
    .filter(([, s]) => !(s as z.ZodType).safeParse(undefined).success)
    .map(([k]) => k);
}

/** Every key any deployed function reads (what a ConfigMap key may be). */
export function knownKeys(): Set<string> {
  return new Set(
    Object.values(FUNCTIONS).flatMap((f) => f.schemas.flatMap((s) => Object.keys(s.keys.shape))),
  );
}
