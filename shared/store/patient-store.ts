/**
 * A store that rides out a short outage: every call that fails with DependencyError (the store's
 * 503: SQLITE_BUSY past busy_timeout, a locked or vanished file, ArangoDB unreachable) is tried
 * again with jittered exponential backoff until `maxWaitMs` has passed since its first failure,
 * then the last error is thrown. Any other error is thrown at once.
 *
 * For a process that has no one to retry for it: a loader Job's checkpoint and coverage reads
 * (a function behind a KafkaSource answers 503 and the dispatcher redelivers). Every Store
 * method is safe to repeat: writes are UPSERTs, `putDoc` checks its revision, and a call that
 * failed with a 503 did not commit (docs/faults.md, "store unavailable").
 */
import { DependencyError } from '../runtime/errors.ts';
import type { Store } from './store.ts';

export interface Patience {
  /** How long one call keeps trying after its first failure. */
  maxWaitMs: number;
  /** First backoff; doubles per try up to `maxDelayMs`, jittered ±25 %. Default 250 ms. */
  firstDelayMs?: number;
  /** Longest single backoff; default 4 s. */
  maxDelayMs?: number;
  /** Aborts the waiting (the process is stopping): the last error is thrown. */
  signal?: AbortSignal;
  /** Told about every wait, e.g. to log it. */
  onWait?: (wait: { method: string; attempt: number; waitMs: number; err: DependencyError }) => void;
}

function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Runs `call` until it succeeds, fails with anything but DependencyError, or patience runs out. */
export async function withPatience<T>(method: string, call: () => Promise<T>, p: Patience): Promise<T> {
  const first = p.firstDelayMs ?? 250;
  const max = p.maxDelayMs ?? 4000;
  let since: number | undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call();
    } catch (err) {
      if (!(err instanceof DependencyError) || p.signal?.aborted) throw err;
      since ??= Date.now();
      const left = p.maxWaitMs - (Date.now() - since);
      if (left <= 0) throw err;
      const base = Math.min(max, first * 2 ** (attempt - 1));
      const waitMs = Math.min(left, Math.round(base * (0.75 + Math.random() * 0.5)));
      p.onWait?.({ method, attempt, waitMs, err });
      await pause(waitMs, p.signal);
    }
  }
}

/** `store` with every method but `close` called through `withPatience`. */
export function patientStore(store: Store, p: Patience): Store {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      const fn = value as (...args: unknown[]) => Promise<unknown>;
      if (prop === 'close') return fn.bind(target);
      return (...args: unknown[]) => withPatience(String(prop), () => fn.apply(target, args), p);
    },
  });
}
