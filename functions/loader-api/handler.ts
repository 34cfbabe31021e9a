/**
 * loader-api: the REST history Job. The loop (command, checkpoint, publish, report) is the shared
 * loader's (shared/loader/run.ts); loader-api's pages are the exchange's REST pages.
 *
 * Exit codes: 0 loaded or cancelled; 1 failed (the workflow got an `error` event); 2 the command
 * was unusable (it can never succeed, so the Job must not be restarted for it).
 */
import { paginate } from '../../shared/exchange/paginate.ts';
import {
  runLoader as runShared,
  type ExitCode,
  type LoaderDeps,
  type LoaderInput,
  type LoaderSpec,
} from '../../shared/loader/run.ts';

export const REST_LOADER: LoaderSpec = {
  name: 'loader-api',
  pages: (ctx, p, o) =>
    paginate(
      ctx.exchange,
      { market: p.series.market, symbol: p.series.symbol, dataset: p.series.dataset },
      o,
    ),
};

/** Runs one REST history load (main.ts; tests and bench/loader.ts drive it directly). */
export const runLoader = (deps: LoaderDeps, input: LoaderInput): Promise<ExitCode> =>
  runShared(REST_LOADER, deps, input);
