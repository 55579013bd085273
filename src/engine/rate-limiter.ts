/**
 * A token bucket for `--max-rate` (records per second). Shared by every unit of a migration, so the
 * cap holds for the whole job, not per collection. It starts empty, so no window of a run (including
 * the first second after a resume) goes faster than the cap; unused capacity accrues up to one second.
 */
export class RateLimiter {
  private tokens: number;
  private last = performance.now();

  constructor(private readonly perSecond: number) {
    if (!(perSecond > 0)) throw new RangeError('rate must be positive');
    this.tokens = 0;
  }

  /** Waits until `n` records may go. A request larger than the burst is let through at the average rate. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      const now = performance.now();
      this.tokens = Math.min(this.perSecond, this.tokens + ((now - this.last) / 1000) * this.perSecond);
      this.last = now;
      const need = Math.min(n, this.perSecond);
      if (this.tokens >= need) {
        this.tokens -= n; // may go negative: a big batch pays for itself by waiting next time
        return;
      }
      const waitMs = ((need - this.tokens) / this.perSecond) * 1000;
      await sleep(Math.max(1, Math.ceil(waitMs)), signal);
    }
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** A limiter or nothing, from an optional `--max-rate`. */
export function rateLimiterFor(maxRate: number | undefined): RateLimiter | undefined {
  return maxRate ? new RateLimiter(maxRate) : undefined;
}
