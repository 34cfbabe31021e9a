/**
 * Entrypoint: the only file that reads the environment. Builds the store, the bus, the job
 * launcher and the artifact store, starts the manager and serves it on PORT. Importing this module starts nothing
 * unless it is the process's entry file, so the platform runner can use the factories below.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { createArtifactStore } from '../../shared/artifacts/config.ts';
import { createBus } from '../../shared/bus/create-bus.ts';
import { createChildProcessLauncher, REPO_ROOT } from '../../shared/jobs/child-process-launcher.ts';
import type { JobLauncher } from '../../shared/jobs/job-launcher.ts';
import { createK8sLauncher, defaultKubeConfig } from '../../shared/jobs/k8s-launcher.ts';
import { parseJobTemplate, type JobManifest } from '../../shared/jobs/render-job.ts';
import { loadConfig } from '../../shared/runtime/config.ts';
import { createLogger, type Logger } from '../../shared/runtime/logger.ts';
import { serve } from '../../shared/runtime/serve.ts';
import { createStore } from '../../shared/store/create-store.ts';
import { FUNCTION_NAME, createManager } from './app.ts';
import { createPredictor } from './predict.ts';
import { apiExposureProblem, ManagerConfig, settingsFromConfig } from './config.ts';
import { verifierFromConfig } from '../../shared/runtime/intake-auth.ts';
import { ConfigError } from '../../shared/runtime/config.ts';

export { createManager, type Manager, type ManagerDeps } from './app.ts';
export { ManagerConfig, settingsFromConfig } from './config.ts';

/** Reads and checks the manager's configuration (every problem at once). */
export function loadManagerConfig(env: Record<string, string | undefined> = process.env): ManagerConfig {
  return loadConfig(ManagerConfig, env);
}

/** The launcher JOB_LAUNCHER names: child processes (default) or Kubernetes Jobs. */
export function createLauncher(cfg: ManagerConfig, logger: Logger): JobLauncher {
  if (cfg.JOB_LAUNCHER === 'child')
    return createChildProcessLauncher({ logger, killGraceMs: cfg.SHUTDOWN_GRACE_MS });
  return createK8sLauncher({
    kubeConfig: defaultKubeConfig(process.env['KUBERNETES_SERVICE_HOST'] !== undefined),
    namespace: cfg.JOB_NAMESPACE,
    ...jobTemplates(cfg),
    logger,
    pollIntervalMs: cfg.JOB_POLL_INTERVAL_MS,
  });
}

/** JOB_TEMPLATE and the per-target JOB_TEMPLATES, read and checked (paths from the repository root). */
export function jobTemplates(cfg: Pick<ManagerConfig, 'JOB_TEMPLATE' | 'JOB_TEMPLATES'>): {
  template: JobManifest;
  templates: Record<string, JobManifest>;
} {
  const read = (p: string): JobManifest => parseJobTemplate(readFileSync(path.resolve(REPO_ROOT, p), 'utf8'));
  return {
    template: read(cfg.JOB_TEMPLATE),
    templates: Object.fromEntries(Object.entries(cfg.JOB_TEMPLATES).map(([t, p]) => [t, read(p)])),
  };
}

async function main(): Promise<void> {
  const cfg = loadManagerConfig(process.env);
  const logger = createLogger(FUNCTION_NAME, cfg.LOG_LEVEL);
  const host = cfg.HOST;
  const exposure = apiExposureProblem(host, cfg);
  if (exposure) throw new ConfigError([exposure]);
  const intakeAuth = verifierFromConfig(cfg);
  const store = createStore(cfg, logger);
  const bus = createBus(cfg, logger);
  const launcher = createLauncher(cfg, logger);
  const artifacts = createArtifactStore(cfg);
  const manager = createManager({
    store,
    bus,
    launcher,
    logger,
    predictor: createPredictor({ store, logger, artifacts }),
    settings: settingsFromConfig(cfg),
    intakeAuth,
  });
  await manager.start();
  const server = await serve(manager.app, {
    port: cfg.PORT,
    host,
    logger,
    graceMs: cfg.SHUTDOWN_GRACE_MS,
    onDrain: () => manager.functionApp.drain(),
    onShutdown: async () => {
      await manager.stop();
      await launcher.close();
      await bus.close();
      await store.close();
      artifacts.close();
    },
  });
  logger.info({ url: server.url, launcher: cfg.JOB_LAUNCHER }, 'queue-manager listening');
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(path.resolve(entry)).href) {
  main().catch((err: unknown) => {
    createLogger(FUNCTION_NAME).fatal({ err }, 'queue-manager failed to start');
    process.exit(1);
  });
}
