/**
 * What the retry policy needs to know about the work it retries. Resilience owns this interface;
 * the caller (a chat turn) implements it, so the policy never reaches into the caller's internals.
 */
export interface RetrySubject {
  /** Aborts when the work must stop (its deadline, a stop): no attempt and no wait goes past it. */
  readonly signal: AbortSignal;
  /** Whether another attempt is still allowed (a turn that has shown text cannot start over). */
  mayRetry(): boolean;
  /** Milliseconds until the deadline. */
  remainingMs(): number;
  /** Called before each wait: the delay chosen and the failure that caused it. */
  retrying(delayMs: number, reason: unknown): void;
}
