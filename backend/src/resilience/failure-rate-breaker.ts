import { SamplingBreaker, type CircuitState } from 'cockatiel';

export interface FailureRateOptions {
  /** Opens when more than this share of the window's calls failed (0 < rate < 1). */
  failureRate: number;
  /** The sliding window the rate is measured over. */
  windowMs: number;
  /** Below this many calls in the window the breaker never opens, whatever the rate. */
  minCalls: number;
}

// SamplingBreaker's serialisable state (its public `state`): the window as buckets.
interface SamplingState {
  windows: Array<{ startedAt: number; failures: number; successes: number }>;
  currentWindow: number;
  currentFailures: number;
  currentSuccesses: number;
}

/**
 * cockatiel's SamplingBreaker with its window measured in time. The library moves to the next
 * bucket only when a call arrives, one bucket per call, so after a quiet spell the buckets of
 * long ago still count (a provider that failed eight calls an hour ago would open on the next
 * two). Before each call, buckets that started a whole window ago are emptied.
 */
class TimedSamplingBreaker extends SamplingBreaker {
  constructor(
    options: ConstructorParameters<typeof SamplingBreaker>[0],
    private readonly windowMs: number,
  ) {
    super(options);
  }

  override success(state: CircuitState): void {
    this.expire();
    super.success(state);
  }

  override failure(state: CircuitState): boolean {
    this.expire();
    return super.failure(state);
  }

  private expire(): void {
    const sampled = this.state as SamplingState;
    const horizon = Date.now() - this.windowMs;
    let stale = false;
    for (const window of sampled.windows) {
      if (window.startedAt > horizon || window.failures + window.successes === 0) continue;
      sampled.currentFailures -= window.failures;
      sampled.currentSuccesses -= window.successes;
      window.failures = 0;
      window.successes = 0;
      stale = true;
    }
    if (stale) this.state = sampled;
  }
}

/**
 * A breaker that opens on a failure rate over a sliding window, once the window holds a minimum
 * of calls (cockatiel's SamplingBreaker, whose minimum is a rate: calls per second over the
 * window). A burst of failures from one chat, or a quiet hour's two failed calls, cannot open it;
 * a provider failing most of a busy window's calls does.
 */
export function failureRateBreaker({ failureRate, windowMs, minCalls }: FailureRateOptions): SamplingBreaker {
  return new TimedSamplingBreaker(
    { threshold: failureRate, duration: windowMs, minimumRps: minCalls / (windowMs / 1000) },
    windowMs,
  );
}
