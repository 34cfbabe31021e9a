/** Picks the Store adapter from configuration (DESIGN.md "Shape": embedded vs cluster). */
import type { BaseConfig } from '../runtime/config.ts';
import type { Logger } from '../runtime/logger.ts';
import { createArangoStore } from './arango-store.ts';
import { createSqliteStore } from './sqlite-store.ts';
import { createSqliteWorkerStore } from './sqlite-worker-store.ts';
import type { Store } from './store.ts';

export type StoreConfig = Pick<
  BaseConfig,
  'ARANGO_URL' | 'ARANGO_DATABASE' | 'ARANGO_USERNAME' | 'ARANGO_PASSWORD' | 'SQLITE_PATH'
> & {
  /**
   * SQLite only: run the connection on a worker thread (sqlite-worker-store.ts), so that SQLite
   * works while this thread parses, validates and serialises. It pays when several batches are in
   * flight (several symbols' partitions) and a core is free; one symbol's backfill hands the
   * connector one batch at a time, and then the direct adapter is faster and smaller (figures in
   * bench/sink.ts and bench/e2e.ts). Default false; `:memory:` always runs on this thread.
   */
  SQLITE_WORKER?: boolean | undefined;
};

/**
 * ArangoDB when `ARANGO_URL` is set, else the SQLite file at `SQLITE_PATH`, on a worker thread
 * when `SQLITE_WORKER` is true and the path is not `:memory:`.
 */
export function createStore(cfg: StoreConfig, logger: Logger): Store {
  if (cfg.ARANGO_URL) {
    logger.info({ url: cfg.ARANGO_URL, database: cfg.ARANGO_DATABASE }, 'store: arangodb');
    return createArangoStore({
      url: cfg.ARANGO_URL,
      database: cfg.ARANGO_DATABASE,
      username: cfg.ARANGO_USERNAME,
      password: cfg.ARANGO_PASSWORD,
      logger,
    });
  }
  const worker = (cfg.SQLITE_WORKER ?? false) && cfg.SQLITE_PATH !== ':memory:';
  logger.info({ path: cfg.SQLITE_PATH, worker }, 'store: sqlite');
  const opts = { path: cfg.SQLITE_PATH, logger };
  return worker ? createSqliteWorkerStore(opts) : createSqliteStore(opts);
}
