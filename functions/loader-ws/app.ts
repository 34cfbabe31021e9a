/**
 * loader-ws's one intake (kafka-sources/loader-ws.yaml): `queue-control` CloudEvents on POST /,
 * from its KafkaSource in a cluster, from the local runner on one machine. No side effects on
 * import; `start` resumes the workflows a previous process left running.
 */
import type { Registry } from 'prom-client';
import { createFunctionApp, type FunctionApp } from '../../shared/runtime/app.ts';
import { createRegistry } from '../../shared/runtime/metrics.ts';
import { createLiveLoader, type LiveLoader, type LiveLoaderDeps } from './handler.ts';
import { FUNCTION_NAME } from './schema.ts';

export interface LoaderWsDeps extends Omit<LiveLoaderDeps, 'registry'> {
  registry?: Registry;
  /** Checks senders on POST / (shared/runtime/intake-auth.ts); unset = open (tests). */
  intakeAuth?: (authorization: string | undefined) => Promise<void>;
}

export interface LoaderWs {
  app: FunctionApp['app'];
  functionApp: FunctionApp;
  loader: LiveLoader;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createLoaderWs(deps: LoaderWsDeps): LoaderWs {
  const registry = deps.registry ?? createRegistry(FUNCTION_NAME);
  const loader = createLiveLoader({ ...deps, registry });
  const functionApp = createFunctionApp({
    name: FUNCTION_NAME,
    logger: deps.logger,
    registry,
    ready: async () => {
      await deps.store.ping();
    },
    onEvent: async (event) => {
      await loader.handleEvent(event);
    },
    validate: (event) => loader.validateEvent(event),
    ...(deps.intakeAuth ? { authenticate: deps.intakeAuth } : {}),
  });
  return {
    app: functionApp.app,
    functionApp,
    loader,
    start: () => loader.start(),
    stop: () => loader.stop(),
  };
}
