import { Injectable, type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import {
  ExponentialBackoff,
  TaskCancelledError,
  handleWhen,
  retry,
  type IBackoff,
  type IBackoffFactory,
  type IRetryBackoffContext,
} from 'cockatiel';
import { from, lastValueFrom, type Observable } from 'rxjs';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ProviderError } from '../providers/provider.port.js';
import { turnOf, type Turn } from '../generation/turn-context.js';

function retryAfterMsOf(error: unknown): number {
  return error instanceof ProviderError ? (error.details.retryAfterMs ?? 0) : 0;
}

// Exponential backoff with jitter (cockatiel's decorrelated jitter), never shorter than the
// provider's own advice (a 429's RetryInfo).
class ProviderAwareBackoff implements IBackoffFactory<IRetryBackoffContext<unknown>> {
  constructor(private readonly inner: IBackoffFactory<IRetryBackoffContext<unknown>>) {}

  next(context: IRetryBackoffContext<unknown>): IBackoff<IRetryBackoffContext<unknown>> {
    const step = this.inner.next(context);
    const advice = 'error' in context.result ? retryAfterMsOf(context.result.error) : 0;
    return { duration: Math.max(step.duration, advice), next: (ctx) => new ProviderAwareBackoff(step).next(ctx) };
  }
}

/**
 * Retries a generation route's turn: only retryable failures, only while no text has reached the
 * client, never past the turn's deadline. Each retry re-runs the handler, which finds its turn
 * already prepared (the user's message is persisted once) and makes one more attempt. When the
 * turn finally fails, the turn records the failure before the error goes on.
 */
@Injectable()
export class RetryInterceptor implements NestInterceptor {
  constructor(private readonly config: AppConfig) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const request = context.switchToHttp().getRequest<Request>();
    return from(this.run(request, next));
  }

  private async run(request: Request, next: CallHandler): Promise<unknown> {
    const { maxAttempts, baseDelayMs, maxDelayMs } = this.config.resilience.retry;
    const policy = retry(
      handleWhen((error) => shouldRetry(turnOf(request), error)),
      {
        maxAttempts: maxAttempts - 1,
        backoff: new ProviderAwareBackoff(new ExponentialBackoff({ initialDelay: baseDelayMs, maxDelay: maxDelayMs })),
      },
    );
    policy.onRetry((event) => {
      const reason = 'error' in event ? event.error : undefined;
      turnOf(request)?.announceRetry(event.delay, reason);
    });
    try {
      return await policy.execute(
        () => lastValueFrom(next.handle(), { defaultValue: undefined }),
        turnOf(request)?.deadline.signal,
      );
    } catch (error) {
      const turn = turnOf(request);
      // A deadline that fires while waiting to retry ends the turn as out of time.
      const final = error instanceof TaskCancelledError ? new AppError('turn_timeout') : error;
      if (turn) await turn.fail(final);
      throw final;
    }
  }
}

function shouldRetry(turn: Turn | undefined, error: unknown): boolean {
  if (!turn || turn.hasStreamedText || turn.deadline.signal.aborted) return false;
  const retryable = error instanceof ProviderError ? error.retryable : error instanceof AppError && error.retryable;
  if (!retryable || (error instanceof AppError && error.code === 'turn_timeout')) return false;
  // Waiting longer than the turn has left would only end in a timeout.
  return retryAfterMsOf(error) < turn.remainingMs();
}
