/**
 * graph-builder's one intake (kafka-sources/graph-builder.yaml): `queue-control` CloudEvents on
 * POST /, from its KafkaSource in a cluster, from the local runner on one machine. No side
 * effects on import.
 */
import type { Registry } from 'prom-client';
import { createFunctionApp, type FunctionApp } from '../../shared/runtime/app.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { createGraphBuilder, type GraphBuilder, type GraphBuilderDeps } from './handler.ts';
import { FUNCTION_NAME } from './schema.ts';

export interface GraphBuilderAppDeps extends Omit<GraphBuilderDeps, 'registry'> {
  registry?: Registry;
  /** Checks senders on POST / (shared/runtime/intake-auth.ts); unset = open (tests). */
  intakeAuth?: (authorization: string | undefined) => Promise<void>;
}

export interface GraphBuilderApp {
  app: FunctionApp['app'];
  functionApp: FunctionApp;
  builder: GraphBuilder;
}

export function createGraphBuilderApp(deps: GraphBuilderAppDeps): GraphBuilderApp {
  const registry = deps.registry ?? createRegistry(FUNCTION_NAME);
  const builder = createGraphBuilder({ ...deps, registry });
  const functionApp = createFunctionApp({
    name: FUNCTION_NAME,
    logger: deps.logger,
    registry,
    ready: async () => {
      await deps.store.ping();
    },
    onEvent: async (event) => {
      await builder.handleEvent(event);
    },
    validate: (event) => builder.validateEvent(event),
    ...(deps.intakeAuth ? { authenticate: deps.intakeAuth } : {}),
  });
  return { app: functionApp.app, functionApp, builder };
}
