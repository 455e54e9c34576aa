import { jest } from '@jest/globals';
import { CircuitState, circuitBreaker, handleWhen } from 'cockatiel';
import { AppError } from '../errors/app-error.js';
import { ProviderError } from '../providers/provider.port.js';
import { countsAgainstBreaker, markForced } from './breaker-errors.js';
import { failureRateBreaker } from './failure-rate-breaker.js';

const WINDOW_MS = 10_000;

// A provider's breaker as the registry builds it: rate 0.5 over 10 s, at least 10 calls.
function providerBreaker() {
  return circuitBreaker(handleWhen(countsAgainstBreaker), {
    halfOpenAfter: 30_000,
    breaker: failureRateBreaker({ failureRate: 0.5, windowMs: WINDOW_MS, minCalls: 10 }),
  });
}

const unavailable = () => new ProviderError('provider_unavailable', 'gemini', { retryable: true });

describe(failureRateBreaker.name, () => {
  // The clock the breaker reads (Date.now) is the test's: time moves only when the test says.
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-28T12:00:00Z'), doNotFake: ['nextTick'] }));
  afterEach(() => jest.useRealTimers());

  async function calls(policy: ReturnType<typeof providerBreaker>, pattern: string, spacingMs = 100): Promise<void> {
    for (const outcome of pattern) {
      await policy
        .execute(() => (outcome === 'x' ? Promise.reject(unavailable()) : Promise.resolve('ok')))
        .catch(() => undefined);
      jest.setSystemTime(Date.now() + spacingMs);
    }
  }

  it('stays closed below the minimum of calls, even when every call failed', async () => {
    const policy = providerBreaker();
    await calls(policy, 'xxxxxxxxx'); // 9 failures: two chats' bad luck
    expect(policy.state).toBe(CircuitState.Closed);
  });

  it('opens once the window holds the minimum of calls and more than the rate of them failed', async () => {
    const policy = providerBreaker();
    await calls(policy, 'oooo'); // 4 successes
    await calls(policy, 'xxxxx'); // 9 calls: under the minimum
    expect(policy.state).toBe(CircuitState.Closed);
    await calls(policy, 'x'); // 10 calls, 6 failed: 60 % > 50 %
    expect(policy.state).toBe(CircuitState.Open);
  });

  it('stays closed at or under the rate, however many calls', async () => {
    const policy = providerBreaker();
    await calls(policy, 'ox'.repeat(20), 50); // 40 calls, exactly half failed
    expect(policy.state).toBe(CircuitState.Closed);
  });

  it('forgets failures older than the window', async () => {
    const policy = providerBreaker();
    await calls(policy, 'xxxxxxxx'); // 8 failures
    jest.setSystemTime(Date.now() + WINDOW_MS + 1000);
    await calls(policy, 'oooooxx'); // the old failures have left the window: 2 of 7
    expect(policy.state).toBe(CircuitState.Closed);
    await calls(policy, 'xxx'); // 5 of 10 failed: not more than half
    expect(policy.state).toBe(CircuitState.Closed);
  });

  it('never counts forced faults, nor failures that say nothing about the provider', async () => {
    const policy = providerBreaker();
    for (let i = 0; i < 30; i++) {
      const error =
        i % 2 === 0
          ? markForced(new ProviderError('provider_unavailable', 'gemini', { retryable: true }))
          : new AppError('content_blocked');
      await policy.execute(() => Promise.reject(error)).catch(() => undefined);
      jest.setSystemTime(Date.now() + 100);
    }
    expect(policy.state).toBe(CircuitState.Closed);
    await calls(policy, 'xxxxxxxxxx'); // ten real failures do open it
    expect(policy.state).toBe(CircuitState.Open);
  });
});
