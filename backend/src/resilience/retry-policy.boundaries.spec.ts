import { jest } from '@jest/globals';
import { unitConfig } from '../../test/support/turn-fixtures.js';
import { AppError } from '../errors/app-error.js';
import { ProviderError } from '../providers/provider.port.js';
import { RetryPolicy, retryAfterMsOf, shouldRetry } from './retry-policy.js';
import type { RetrySubject } from './retry-subject.js';

// The retry policy's edges (beside retry-policy.spec.ts): the advice equal to the time left, the
// budget read twice (before deciding, before waiting), our own retryAfterSeconds, and the codes.

/** A subject whose time left is scripted per reading (the turn's clock moves between them). */
class Subject implements RetrySubject {
  readonly controller = new AbortController();
  readonly retries: number[] = [];
  allowRetry = true;
  constructor(private readonly remaining: number[]) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }
  mayRetry(): boolean {
    return this.allowRetry;
  }
  remainingMs(): number {
    return this.remaining.length > 1 ? (this.remaining.shift() as number) : this.remaining[0];
  }
  retrying(delayMs: number): void {
    this.retries.push(delayMs);
  }
}

const policy = () =>
  new RetryPolicy(unitConfig({ RETRY_MAX_ATTEMPTS: '3', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '400' }));
const unavailable = (retryAfterMs?: number) =>
  new ProviderError('provider_unavailable', 'demo', { retryable: true, retryAfterMs });

/** Runs the policy to its end on the fake clock; the attempt fails with `errors` in turn, then answers ok. */
async function run(subject: Subject, errors: unknown[]): Promise<{ calls: number; outcome: unknown }> {
  let calls = 0;
  const running = policy()
    .execute(subject, async () => {
      const error = errors[calls++];
      if (error !== undefined) throw error;
      return 'ok';
    })
    .then(
      (value) => value,
      (error: unknown) => ({ error }),
    );
  await jest.runAllTimersAsync();
  return { calls, outcome: await running };
}

describe(`${RetryPolicy.name} (boundaries)`, () => {
  beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] }));
  afterEach(() => {
    jest.useRealTimers();
    jest.restoreAllMocks();
  });

  it('gives up without waiting when the wait would use exactly the time left', async () => {
    // Deciding, 1,000 ms are left and the advice (500 ms) fits; by the wait, only 500 ms are.
    const error = unavailable(500);
    const subject = new Subject([1_000, 500]);
    expect(await run(subject, [error])).toEqual({ calls: 1, outcome: { error } });
    expect(subject.retries).toEqual([]);
  });

  it('waits when the wait leaves a millisecond', async () => {
    const subject = new Subject([1_000, 501]);
    expect(await run(subject, [unavailable(500)])).toEqual({ calls: 2, outcome: 'ok' });
    expect(subject.retries).toEqual([500]);
  });

  it('decides not to retry when the advice equals the time left, even if more time shows up by the wait', async () => {
    const error = unavailable(1_000);
    const subject = new Subject([1_000, 60_000]);
    expect(await run(subject, [error])).toEqual({ calls: 1, outcome: { error } });
  });

  it('starts no attempt at all when the signal has already aborted', async () => {
    const subject = new Subject([60_000]);
    const reason = new Error('stopped before it began');
    subject.controller.abort(reason);
    expect(await run(subject, [])).toEqual({ calls: 0, outcome: { error: reason } });
  });

  it('caps the backoff at the configured maximum delay, from the configured initial delay', async () => {
    // Jitter pinned high: from 100 ms the waits grow to the 400 ms cap and stay there
    // (cockatiel's defaults, 128 ms and 30 s, would grow past 1 s by the fifth).
    jest.spyOn(Math, 'random').mockReturnValue(0.999);
    const subject = new Subject([600_000]);
    let calls = 0;
    const running = new RetryPolicy(
      unitConfig({ RETRY_MAX_ATTEMPTS: '7', RETRY_BASE_DELAY_MS: '100', RETRY_MAX_DELAY_MS: '400' }),
    ).execute(subject, async () => {
      calls++;
      throw unavailable();
    });
    const settled = running.catch((error: unknown) => error);
    await jest.runAllTimersAsync();
    await settled;
    expect(calls).toBe(7);
    expect(subject.retries).toHaveLength(6);
    expect(subject.retries[0]).toBeLessThan(150);
    expect(subject.retries.slice(3)).toEqual([400, 400, 400]);
  });

  it('waits our own retryAfterSeconds, in milliseconds', async () => {
    const subject = new Subject([60_000]);
    const error = new AppError('database_unavailable', { retryAfterSeconds: 2 });
    expect(await run(subject, [error])).toEqual({ calls: 2, outcome: 'ok' });
    expect(subject.retries).toEqual([2_000]);
  });
});

describe(retryAfterMsOf.name, () => {
  it('reads a provider’s advice, our own seconds, and nothing from anything else', () => {
    expect(retryAfterMsOf(unavailable(1_234))).toBe(1_234);
    expect(retryAfterMsOf(unavailable())).toBe(0);
    expect(retryAfterMsOf(new AppError('database_unavailable', { retryAfterSeconds: 3 }))).toBe(3_000);
    expect(retryAfterMsOf(new AppError('database_unavailable'))).toBe(0);
    expect(retryAfterMsOf(Object.assign(new Error('x'), { details: { retryAfterMs: 9 } }))).toBe(0);
    expect(retryAfterMsOf('boom')).toBe(0);
  });
});

describe(shouldRetry.name, () => {
  const subject = (remaining: number) => new Subject([remaining]);

  it('retries a retryable failure whose advice is shorter than the time left, by a millisecond', () => {
    expect(shouldRetry(subject(1_001), unavailable(1_000))).toBe(true);
    expect(shouldRetry(subject(1_000), unavailable(1_000))).toBe(false);
    expect(shouldRetry(subject(1), new AppError('database_unavailable'))).toBe(true);
  });

  it('does not retry what is not retryable, a timeout of the turn, or plain errors', () => {
    expect(shouldRetry(subject(60_000), new ProviderError('provider_unavailable', 'demo', { retryable: false }))).toBe(
      false,
    );
    expect(shouldRetry(subject(60_000), new AppError('turn_timeout'))).toBe(false);
    expect(shouldRetry(subject(60_000), new AppError('chat_not_found'))).toBe(false);
    expect(shouldRetry(subject(60_000), new Error('boom'))).toBe(false);
  });

  it('does not retry when the subject forbids it or its signal has aborted', () => {
    const forbidden = subject(60_000);
    forbidden.allowRetry = false;
    expect(shouldRetry(forbidden, unavailable())).toBe(false);
    const aborted = subject(60_000);
    aborted.controller.abort();
    expect(shouldRetry(aborted, unavailable())).toBe(false);
  });
});
