import { Injectable } from '@nestjs/common';
import {
  ExponentialBackoff,
  TaskCancelledError,
  handleWhen,
  retry,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
} from 'cockatiel';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ProviderError } from '../providers/provider.port.js';
import type { RetrySubject } from './retry-subject.js';

export function retryAfterMsOf(error: unknown): number {
  return error instanceof ProviderError ? (error.details.retryAfterMs ?? 0) : 0;
}

// Exponential backoff with jitter (cockatiel's decorrelated jitter), never shorter than the
// provider's own advice (a 429's RetryInfo).
export class ProviderAwareBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  constructor(private readonly inner: IBackoffFactory<IRetryBackoffContext<unknown>>) {}

  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const step = this.inner.next(context);
    const advice = 'error' in context.result ? retryAfterMsOf(context.result.error) : 0;
    return { duration: Math.max(step.duration, advice), next: (ctx) => new ProviderAwareBackoff(step).next(ctx) };
  }
}

/**
 * Retries an attempt: only retryable failures, only while the subject allows it (a turn that
 * has shown text cannot start over), never past its deadline, waiting at least as long as the
 * provider advised. A deadline that fires during a wait ends the work as `turn_timeout`.
 */
@Injectable()
export class RetryPolicy {
  constructor(private readonly config: AppConfig) {}

  async execute<T>(subject: RetrySubject, attempt: () => Promise<T>): Promise<T> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.config.resilience.retry;
    const policy = retry(
      handleWhen((error) => shouldRetry(subject, error)),
      {
        maxAttempts: maxAttempts - 1,
        backoff: new ProviderAwareBackoff(new ExponentialBackoff({ initialDelay: baseDelayMs, maxDelay: maxDelayMs })),
      },
    );
    const listener = policy.onRetry((event) =>
      subject.retrying(event.delay, 'error' in event ? event.error : undefined),
    );
    try {
      return await policy.execute(() => attempt(), subject.signal);
    } catch (error) {
      throw error instanceof TaskCancelledError ? (subject.signal.reason ?? new AppError('turn_timeout')) : error;
    } finally {
      listener.dispose();
    }
  }
}

export function shouldRetry(subject: RetrySubject, error: unknown): boolean {
  if (!subject.mayRetry() || subject.signal.aborted) return false;
  const retryable = error instanceof ProviderError ? error.retryable : error instanceof AppError && error.retryable;
  if (!retryable || (error instanceof AppError && error.code === 'turn_timeout')) return false;
  // Waiting longer than the work has left would only end in a timeout.
  return retryAfterMsOf(error) < subject.remainingMs();
}
