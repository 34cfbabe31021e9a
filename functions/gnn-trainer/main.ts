/**
 * gnn-trainer Job entrypoint: the only file that reads the environment. Builds the publisher, the
 * store and the artifact store, trains on the command's graph and exits with the run's code. SIGTERM (the launcher's
 * stop, or Kubernetes deleting the Job) stops training between epochs with a `cancelled` event.
 */
import { createArtifactStore, type ArtifactStoreHandle } from '../../shared/artifacts/config.ts';
import { createPublisher } from '../../shared/bus/create-bus.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { createStore } from '../../shared/store/create-store.ts';
import { runTraining, type ExitCode } from './handler.ts';
import { FUNCTION_NAME, TrainerConfig } from './schema.ts';

async function main(): Promise<ExitCode> {
  let cfg: TrainerConfig;
  let artifacts: ArtifactStoreHandle;
  try {
    cfg = loadConfig(TrainerConfig, process.env);
    artifacts = createArtifactStore(cfg);
  } catch (err) {
    createLogger(FUNCTION_NAME).error(
      { problems: err instanceof ConfigError ? err.problems : String(err) },
      'invalid configuration',
    );
    return 2;
  }
  const logger = createLogger(FUNCTION_NAME, cfg.LOG_LEVEL);
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort(new Error(sig)));
  const bus = createPublisher(cfg, logger);
  const store = createStore(cfg, logger);
  try {
    return await runTraining(
      cfg.STREAMFORGE_COMMAND,
      {
        bus,
        store,
        logger,
        artifacts,
        backend: cfg.TFJS_BACKEND,
        progressIntervalMs: cfg.TRAIN_PROGRESS_MS,
      },
      stop.signal,
    );
  } finally {
    artifacts.close();
    await bus.close().catch((err: unknown) => logger.warn({ err }, 'closing the bus failed'));
    await store.close().catch((err: unknown) => logger.warn({ err }, 'closing the store failed'));
  }
}

process.exitCode = await main();
// Nothing else may keep the Job alive (keep-alive sockets, timers of adapters, the wasm runtime).
process.exit();
