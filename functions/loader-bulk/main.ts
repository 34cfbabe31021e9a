/**
 * loader-bulk Job entrypoint: the only file that reads the environment. Parses it and runs the
 * archive loader (shared/loader/job.ts builds the bus, store and exchange clients for the REST
 * part); exits with its code (shared/loader/run.ts). SIGTERM ends the run with `cancelled`.
 */
import { createArchiveClient } from '../../shared/archive/download.ts';
import { runLoaderJob } from '../../shared/loader/job.ts';
import type { ExitCode } from '../../shared/loader/run.ts';
import { ConfigError, loadConfig } from '../../shared/runtime/config.ts';
import { createLogger } from '../../shared/runtime/logger.ts';
import { bulkLoader } from './handler.ts';
import { BulkLoaderConfig } from './schema.ts';

async function main(): Promise<ExitCode> {
  let cfg: BulkLoaderConfig;
  try {
    cfg = loadConfig(BulkLoaderConfig, process.env);
  } catch (err) {
    // A configuration that can never work must not turn into a restart loop.
    createLogger('loader-bulk').error(
      { problems: err instanceof ConfigError ? err.problems : String(err) },
      'invalid configuration',
    );
    return 2;
  }
  const stop = new AbortController();
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => stop.abort(new Error(sig)));
  const archive = createArchiveClient({
    baseUrl: cfg.BINANCE_ARCHIVE_URL,
    ...(cfg.ARCHIVE_TMP_DIR === undefined ? {} : { dir: cfg.ARCHIVE_TMP_DIR }),
    logger: createLogger('loader-bulk', cfg.LOG_LEVEL).child({ component: 'archive' }),
  });
  try {
    return await runLoaderJob(bulkLoader(archive, { prefetch: cfg.ARCHIVE_PREFETCH }), cfg, stop.signal);
  } finally {
    archive.close();
  }
}

process.exitCode = await main();
// Nothing else may keep the Job alive (keep-alive sockets, timers of adapters).
process.exit();
