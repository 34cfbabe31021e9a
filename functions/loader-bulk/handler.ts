/**
 * loader-bulk: years of history from the public archive. The loop (command, checkpoint, publish,
 * report) is the shared loader's (shared/loader/run.ts), so a series filled from the archive and
 * one filled over REST are the same series; loader-bulk's pages come from archive files, and over
 * REST for what the archive does not have (pages.ts).
 */
import type { ArchiveClient } from '../../shared/archive/download.ts';
import {
  runLoader as runShared,
  type ExitCode,
  type LoaderDeps,
  type LoaderInput,
  type LoaderSpec,
} from '../../shared/loader/run.ts';
import { archivePages } from './pages.ts';

export function bulkLoader(
  archive: ArchiveClient,
  opts: { prefetch?: number; batchSize?: number } = {},
): LoaderSpec {
  return { name: 'loader-bulk', pages: archivePages({ archive, ...opts }) };
}

/** Runs one archive load (main.ts; tests and benches drive it directly). */
export const runBulkLoader = (
  archive: ArchiveClient,
  deps: LoaderDeps,
  input: LoaderInput,
  opts: { prefetch?: number; batchSize?: number } = {},
): Promise<ExitCode> => runShared(bulkLoader(archive, opts), deps, input);
