/**
 * What loader-api accepts: its environment and the start command (QueueCommand from
 * shared/contracts); its checkpoint is the shared loader's (shared/loader/checkpoint.ts).
 */
import { QueueCommand } from '../../shared/contracts/workflow.ts';
import { HistoryLoaderConfig } from '../../shared/loader/config.ts';

/** loader-api reads exactly the history loaders' environment (shared/loader/config.ts). */
export const LoaderConfig = HistoryLoaderConfig;
export type LoaderConfig = HistoryLoaderConfig;

export { QueueCommand };
