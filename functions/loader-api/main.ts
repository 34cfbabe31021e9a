/**
 * loader-api Job entrypoint: the only file that reads the environment. Parses it and runs the
 * REST history loader (shared/loader/job.ts builds the bus, store and exchange clients); exits with
 * its code (shared/loader/run.ts). SIGTERM (the launcher's stop, or Kubernetes deleting the Job)
 * ends the run cleanly with a `cancelled` event.
 */
import { runLoaderJob } from '../../shared/loader/job.ts';
import type { ExitCode } from '../../shared/loader/run.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { REST_LOADER } from './handler.ts';
import { LoaderConfig } from './schema.ts';

async function main(): Promise<ExitCode> {
  let cfg: LoaderConfig;
  try {
    cfg = loadConfig(LoaderConfig, process.env);
  } catch (err) {
    // A configuration that can never work must not turn into a restart loop.
    createLogger('loader-api').error(
      { problems: err instanceof ConfigError ? err.problems : String(err) },
      'invalid configuration',
    );
    return 2;
  }
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort(new Error(sig)));
  return runLoaderJob(REST_LOADER, cfg, stop.signal);
}

process.exitCode = await main();
// Nothing else may keep the Job alive (keep-alive sockets, timers of adapters).
process.exit();
