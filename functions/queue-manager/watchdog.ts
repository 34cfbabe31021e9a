/**
 * The stall watchdog: every `intervalMs` it fails the non-terminal workflows that have been
 * silent for longer than the stall timeout. Its working set is read from the store on every
 * sweep, so a restarted manager watches every workflow the previous one was watching.
 */
import type { Logger } from '../../shared/runtime/logger.ts';

export interface Watchdog {
  start(): void;
  /** Stops the timer and waits for a sweep in progress. */
  stop(): Promise<void>;
  /** One sweep now (also what the timer runs). */
  sweepNow(): Promise<number>;
}

export function createWatchdog(opts: {
  sweep: () => Promise<number>;
  intervalMs: number;
  logger: Logger;
}): Watchdog {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<number> | undefined;

  function sweepNow(): Promise<number> {
    // Never two sweeps at once: a slow store must not pile them up.
    running ??= opts
      .sweep()
      .catch((err: unknown) => {
        opts.logger.error({ err }, 'watchdog sweep failed');
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  return {
    start() {
      if (timer) return;
      timer = setInterval(() => void sweepNow(), opts.intervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (running) await running;
    },
    sweepNow,
  };
}
