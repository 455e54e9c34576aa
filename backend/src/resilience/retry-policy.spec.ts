import { jest } from '@jest/globals';
import { getEventListeners } from 'node:events';
import { unitConfig } from '../../test/support/turn-fixtures.js';
import { AppError } from '../errors/app-error.js';
import { ProviderError } from '../providers/provider.port.js';
import { RetryPolicy } from './retry-policy.js';
import type { RetrySubject } from './retry-subject.js';

/** The work being retried, as the policy sees it: its signal, its budget, and the retries it is told of. */
class Subject implements RetrySubject {
  readonly controller = new AbortController();
  readonly retries: Array<{ delayMs: number; reason: unknown }> = [];
  allowRetry = true;
  remaining = 30_000;

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  mayRetry(): boolean {
    return this.allowRetry;
  }

  remainingMs(): number {
    return this.remaining;
  }

  retrying(delayMs: number, reason: unknown): void {
    this.retries.push({ delayMs, reason });
  }
}

const policy = (maxAttempts = 3) =>
  new RetryPolicy(
    unitConfig({
      RETRY_MAX_ATTEMPTS: String(maxAttempts),
      RETRY_BASE_DELAY_MS: '100',
      RETRY_MAX_DELAY_MS: '400',
    }),
  );

const unavailable = (retryAfterMs?: number) =>
  new ProviderError('provider_unavailable', 'demo', { retryable: true, retryAfterMs });

/** An attempt that fails with each error in turn, then answers `ok`; counts its calls. */
function scripted(errors: unknown[], before: () => void = () => undefined) {
  const calls: number[] = [];
  const run = async (): Promise<string> => {
    calls.push(calls.length + 1);
    before();
    const error = errors[calls.length - 1];
    if (error !== undefined) throw error;
    return 'ok';
  };
  return { run, calls };
}

type Outcome = { value: string } | { error: unknown };

/** Runs the policy to its end on the fake clock, waits included. */
async function outcomeOf(promise: Promise<string>): Promise<Outcome> {
  const outcome = promise.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await jest.runAllTimersAsync();
  return outcome;
}

describe(RetryPolicy.name, () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  describe('execute', () => {
    it('ends at once with the signal’s reason, starting no other attempt, when the signal aborts during the wait', async () => {
      const subject = new Subject();
      const attempt = scripted([unavailable(1_500), unavailable(1_500)]);
      const cancelled = new AppError('turn_cancelled');
      let settled: Outcome | undefined;
      void policy(3)
        .execute(subject, attempt.run)
        .then(
          (value) => (settled = { value }),
          (error: unknown) => (settled = { error }),
        );
      await jest.advanceTimersByTimeAsync(100); // the first attempt failed: the 1.5 s wait is under way
      expect(subject.retries).toHaveLength(1);

      subject.controller.abort(cancelled);
      await jest.advanceTimersByTimeAsync(1);

      expect(settled).toEqual({ error: cancelled });
      expect(attempt.calls).toHaveLength(1);
    });

    it('ends with the signal’s reason, not another attempt’s failure, when the signal aborts during the wait', async () => {
      const subject = new Subject();
      const attempt = scripted([unavailable(1_500), unavailable(1_500)]);
      const cancelled = new AppError('turn_cancelled');
      const running = policy(3).execute(subject, attempt.run);
      await jest.advanceTimersByTimeAsync(100);
      subject.controller.abort(cancelled);

      const outcome = await outcomeOf(running);

      expect('error' in outcome && outcome.error).toBe(cancelled);
      expect(attempt.calls).toHaveLength(1);
    });

    it('leaves nothing behind on the signal when a wait runs its course', async () => {
      const subject = new Subject();
      const attempt = scripted([unavailable(), unavailable()]);
      expect(await outcomeOf(policy(3).execute(subject, attempt.run))).toEqual({ value: 'ok' });
      expect(attempt.calls).toHaveLength(3);
      expect(getEventListeners(subject.signal, 'abort')).toHaveLength(0);
    });

    it('leaves no timer and no listener behind when the signal aborts during a wait', async () => {
      const subject = new Subject();
      const running = policy(3).execute(subject, scripted([unavailable(1_500)]).run);
      await jest.advanceTimersByTimeAsync(100);
      expect(jest.getTimerCount()).toBe(1);
      subject.controller.abort(new AppError('turn_cancelled'));
      await expect(running).rejects.toMatchObject({ code: 'turn_cancelled' });
      expect(jest.getTimerCount()).toBe(0);
      expect(getEventListeners(subject.signal, 'abort')).toHaveLength(0);
    });

    it('retries a retryable provider failure up to maxAttempts, then fails with the last one', async () => {
      const subject = new Subject();
      const errors = [unavailable(), unavailable(), unavailable()];
      const attempt = scripted(errors);

      const outcome = await outcomeOf(policy(3).execute(subject, attempt.run));

      expect(outcome).toEqual({ error: errors[2] });
      expect('error' in outcome && outcome.error).toBe(errors[2]);
      expect(attempt.calls).toHaveLength(3);
      expect(subject.retries.map((r) => r.reason)).toEqual([errors[0], errors[1]]);
    });

    it('answers the first success when a retry succeeds', async () => {
      const subject = new Subject();
      const attempt = scripted([unavailable(), unavailable()]);

      expect(await outcomeOf(policy(3).execute(subject, attempt.run))).toEqual({ value: 'ok' });
      expect(attempt.calls).toHaveLength(3);
    });

    it('makes one attempt only when maxAttempts is 1', async () => {
      const subject = new Subject();
      const attempt = scripted([unavailable()]);

      await outcomeOf(policy(1).execute(subject, attempt.run));

      expect(attempt.calls).toHaveLength(1);
      expect(subject.retries).toEqual([]);
    });

    it('retries a retryable failure of our own (database_unavailable)', async () => {
      const subject = new Subject();
      const attempt = scripted([new AppError('database_unavailable')]);

      expect(await outcomeOf(policy().execute(subject, attempt.run))).toEqual({ value: 'ok' });
      expect(attempt.calls).toHaveLength(2);
    });

    it.each([
      ['a non-retryable provider failure', new ProviderError('provider_invalid_request', 'demo', { retryable: false })],
      ['a content block', new ProviderError('content_blocked', 'demo', { retryable: false })],
      ['turn_timeout, although it is retryable for the client', new AppError('turn_timeout')],
      ['a non-retryable failure of our own', new AppError('chat_not_found')],
      ['an unexpected error', new Error('bug')],
    ])('never retries %s', async (_case, error) => {
      const subject = new Subject();
      const attempt = scripted([error]);

      const outcome = await outcomeOf(policy().execute(subject, attempt.run));

      expect('error' in outcome && outcome.error).toBe(error);
      expect(attempt.calls).toHaveLength(1);
      expect(subject.retries).toEqual([]);
    });

    it('does not retry when the subject no longer allows it (text was shown)', async () => {
      const subject = new Subject();
      const error = unavailable();
      const attempt = scripted([error], () => (subject.allowRetry = false));

      const outcome = await outcomeOf(policy().execute(subject, attempt.run));

      expect('error' in outcome && outcome.error).toBe(error);
      expect(attempt.calls).toHaveLength(1);
    });

    it('does not retry when the signal aborted during the attempt', async () => {
      const subject = new Subject();
      const attempt = scripted([unavailable()], () => subject.controller.abort(new AppError('turn_cancelled')));

      const outcome = await outcomeOf(policy().execute(subject, attempt.run));

      expect('error' in outcome).toBe(true);
      expect(attempt.calls).toHaveLength(1);
      expect(subject.retries).toEqual([]);
    });

    it('waits the provider’s advice when it is longer than the backoff', async () => {
      const subject = new Subject();
      const attempt = scripted([unavailable(1_500), unavailable(2_500)]);

      const running = policy(3).execute(subject, attempt.run);
      await jest.advanceTimersByTimeAsync(1_499);
      expect(attempt.calls).toHaveLength(1);
      await jest.advanceTimersByTimeAsync(1);
      expect(attempt.calls).toHaveLength(2);

      expect(await outcomeOf(running)).toEqual({ value: 'ok' });
      expect(subject.retries.map((r) => r.delayMs)).toEqual([1_500, 2_500]);
    });

    it('waits the backoff when it is longer than the provider’s advice', async () => {
      // Jitter pinned: the first backoff from 100 ms is then about 90 ms, the second about 110 ms.
      jest.spyOn(Math, 'random').mockReturnValue(0.5);
      const subject = new Subject();
      const attempt = scripted([unavailable(10), unavailable(10)]);

      await outcomeOf(policy(3).execute(subject, attempt.run));

      const delays = subject.retries.map((r) => r.delayMs);
      expect(delays).toHaveLength(2);
      for (const delay of delays) {
        expect(delay).toBeGreaterThan(10);
        expect(delay).toBeLessThanOrEqual(400);
      }
      expect(delays[1]).toBeGreaterThan(delays[0]);
    });

    it('gives up at once when the provider’s advice is not shorter than the time left', async () => {
      const subject = new Subject();
      subject.remaining = 1_000;
      const error = unavailable(1_000);
      const attempt = scripted([error]);

      const outcome = await outcomeOf(policy().execute(subject, attempt.run));

      expect('error' in outcome && outcome.error).toBe(error);
      expect(attempt.calls).toHaveLength(1);
      expect(subject.retries).toEqual([]);
    });

    it('retries when the provider’s advice fits in the time left', async () => {
      const subject = new Subject();
      subject.remaining = 1_000;
      const attempt = scripted([unavailable(999)]);

      expect(await outcomeOf(policy().execute(subject, attempt.run))).toEqual({ value: 'ok' });
      expect(subject.retries.map((r) => r.delayMs)).toEqual([999]);
    });
  });
});
