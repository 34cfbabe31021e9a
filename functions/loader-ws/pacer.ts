/**
 * At most `limit` actions in any `windowMs`: actions queue in order and run as soon as the window
 * allows, never dropped. One per connection keeps SUBSCRIBE/UNSUBSCRIBE under the exchange's
 * incoming-message limit (5/s spot, 10/s USD-M: docs/binance.md §4, §6); one per market and
 * process keeps connection attempts under 300 per 5 minutes.
 */
export class Pacer {
  private readonly sent: number[] = [];
  private readonly queue: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  /** Most actions seen in one window (tests check it never exceeds the limit). */
  maxInWindow = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Runs `action` now or as soon as the window allows. */
  run(action: () => void): void {
    this.queue.push(action);
    this.drain();
  }

  /** Resolves when an action may run now (the slot is taken). */
  take(signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const onAbort = () => reject(signal?.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.run(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Drops what is queued (the connection it paces is gone). */
  clear(): void {
    this.queue.length = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private drain(): void {
    if (this.timer) return;
    while (this.queue.length > 0) {
      const t = this.now();
      while (this.sent.length > 0 && this.sent[0]! <= t - this.windowMs) this.sent.shift();
      if (this.sent.length >= this.limit) {
        this.timer = setTimeout(
          () => {
            this.timer = undefined;
            this.drain();
          },
          Math.max(1, this.sent[0]! + this.windowMs - t + 1),
        );
        this.timer.unref();
        return;
      }
      this.sent.push(t);
      this.maxInWindow = Math.max(this.maxInWindow, this.sent.length);
      this.queue.shift()!();
    }
  }
}
