import { Injectable } from '@nestjs/common';
import { ExponentialBackoff, type IBackoff, type IRetryBackoffContext } from 'cockatiel';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ProviderError } from '../providers/provider.port.js';
import type { RetrySubject } from './retry-subject.js';

/** The wait a failure itself advises: a provider's RetryInfo, or our own retryAfterSeconds. */
export function retryAfterMsOf(error: unknown): number {
  if (error instanceof ProviderError) return error.details.retryAfterMs ?? 0;
  if (error instanceof AppError) return (error.details.retryAfterSeconds ?? 0) * 1000;
  return 0;
}

type Backoff = IBackoff<IRetryBackoffContext<unknown>>;

/**
 * Retries an attempt: only retryable failures, only while the subject allows it (a turn that
 * has shown text cannot start over), never past its deadline, waiting at least as long as the
 * failure advised. The delays are cockatiel's exponential backoff with decorrelated jitter; the
 * loop is ours because cockatiel's retry neither ends a wait when the signal aborts nor starts
 * no further attempt after it (a stop during a 30 s RetryInfo wait must stop now).
 */
@Injectable()
export class RetryPolicy {
  constructor(private readonly config: AppConfig) {}

  async execute<T>(subject: RetrySubject, attempt: () => Promise<T>): Promise<T> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.config.resilience.retry;
    let backoff: Backoff | undefined;
    for (let number = 1; ; number++) {
      if (subject.signal.aborted) throw reasonOf(subject.signal);
      try {
        return await attempt();
      } catch (error) {
        if (number >= maxAttempts || !shouldRetry(subject, error)) throw error;
        const failure = error instanceof Error ? error : new Error(String(error));
        const context: IRetryBackoffContext<unknown> = {
          attempt: number,
          result: { error: failure },
          signal: subject.signal,
        };
        backoff = (backoff ?? new ExponentialBackoff({ initialDelay: baseDelayMs, maxDelay: maxDelayMs })).next(
          context,
        );
        const delay = Math.max(backoff.duration, retryAfterMsOf(error));
        // Waiting longer than the work has left would only end in a timeout.
        if (delay >= subject.remainingMs()) throw error;
        subject.retrying(delay, error);
        await wait(delay, subject.signal);
      }
    }
  }
}

export function shouldRetry(subject: RetrySubject, error: unknown): boolean {
  if (!subject.mayRetry() || subject.signal.aborted) return false;
  const retryable = error instanceof ProviderError ? error.retryable : error instanceof AppError && error.retryable;
  if (!retryable || (error instanceof AppError && error.code === 'turn_timeout')) return false;
  return retryAfterMsOf(error) < subject.remainingMs();
}

function reasonOf(signal: AbortSignal): unknown {
  return signal.reason ?? new AppError('turn_timeout');
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(reasonOf(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
