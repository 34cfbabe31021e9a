/** Picks the Store adapter from configuration (DESIGN.md "Shape": embedded vs cluster). */
import type { BaseConfig } from '../runtime/config.ts';
import type { Logger } from '../runtime/logger.ts';
import { createArangoStore } from './arango-store.ts';
import { createSqliteStore } from './sqlite-store.ts';
import type { Store } from './store.ts';

export type StoreConfig = Pick<
  BaseConfig,
  'ARANGO_URL' | 'ARANGO_DATABASE' | 'ARANGO_USERNAME' | 'ARANGO_PASSWORD' | 'SQLITE_PATH'
>;

/** ArangoDB when `ARANGO_URL` is set, else the SQLite file at `SQLITE_PATH`. */
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
  logger.info({ path: cfg.SQLITE_PATH }, 'store: sqlite');
  return createSqliteStore({ path: cfg.SQLITE_PATH, logger });
}
