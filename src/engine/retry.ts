/**
 * Retries for transient backend errors: exponential backoff with jitter (cockatiel's decorrelated
 * jitter), only for errors `isTransient` recognises. A permanent error is thrown at once so the
 * engine can bisect the batch.
 */
import { ExponentialBackoff, handleWhen, retry, type IRetryContext } from 'cockatiel';
import { isTransient } from '../core/errors.js';

export interface RetryOptions {
  /** Attempts after the first; default 8 (about 40 s in all with the default delays). */
  maxRetries?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  /** Called before each retry with the attempt number and the error. */
  onRetry?: (attempt: number, error: unknown) => void;
}

export type Retrier = <T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal) => Promise<T>;

export function createRetrier(options: RetryOptions = {}): Retrier {
  const policy = retry(handleWhen((err) => isTransient(err)), {
    maxAttempts: options.maxRetries ?? 8,
    backoff: new ExponentialBackoff({
      initialDelay: options.initialDelayMs ?? 200,
      maxDelay: options.maxDelayMs ?? 10_000,
    }),
  });
  if (options.onRetry) {
    const onRetry = options.onRetry;
    policy.onRetry((event) => {
      onRetry(event.attempt, 'error' in event ? event.error : undefined);
    });
  }
  return <T>(fn: (signal: AbortSignal) => Promise<T>, signal?: AbortSignal) =>
    policy.execute((ctx: IRetryContext) => fn(ctx.signal), signal);
}
