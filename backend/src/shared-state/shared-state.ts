/** A user's (or any key's) quota after one request, counted across every instance. */
export interface QuotaTaken {
  allowed: boolean;
  /** Requests counted in the current window (a refused one is not counted). */
  count: number;
  /** Milliseconds until the window ends and the count starts again. */
  resetMs: number;
}

/** What a chat's breaker lets a turn do, as every instance sees it. */
export type BreakerAdmission =
  | { kind: 'closed'; failures: number }
  // Open: fail fast until the reset time is up.
  | { kind: 'open'; retryAfterMs: number }
  // Half-open and this turn is its one probe.
  | { kind: 'probe' }
  // Half-open with a probe already running elsewhere: fail fast for a moment.
  | { kind: 'probing'; retryAfterMs: number };

/** One slot held (see `SharedState.claimSlot`). */
export interface SlotHolder {
  key: string;
  holder: string;
}

export interface BreakerPolicy {
  /** Consecutive failed turns that open it. */
  threshold: number;
  /** How long it stays open before one probe is let through. */
  resetMs: number;
  /** How long a probe may run before another instance may probe instead (it died). */
  probeTtlMs: number;
}

/**
 * State that must agree across instances (DESIGN §10): per-key quotas (turns per user) and
 * per-chat breakers. PostgreSQL by default, Redis when REDIS_URL is set. Time is the store's
 * clock (the database's or Redis's), so instances with skewed clocks still agree.
 */
export abstract class SharedState {
  abstract readonly name: 'postgres' | 'redis';

  /** Counts one request against `key`'s quota of `limit` per fixed window of `windowMs` (from the first request). */
  abstract takeQuota(key: string, limit: number, windowMs: number): Promise<QuotaTaken>;

  /** Whether a turn may run under the chat's breaker; claims the probe when half-open. */
  abstract admit(chatId: string, policy: BreakerPolicy): Promise<BreakerAdmission>;

  /** A turn succeeded: the breaker closes (forgets its failures). */
  abstract succeeded(chatId: string): Promise<void>;

  /** A turn failed in a way that counts: one more failure, or open again after a failed probe. */
  abstract failed(chatId: string, policy: BreakerPolicy, probe: boolean): Promise<void>;

  /** Opens the chat's breaker now, for the reset time (development fault injection). */
  abstract trip(chatId: string, policy: BreakerPolicy): Promise<void>;

  /** How many chats' breakers are open or half-open right now (for metrics). */
  abstract openCount(): Promise<number>;

  /**
   * Holds one of `limit` slots of `key` for `holder` (a socket), until it is released or `ttlMs`
   * passes without a renewal (its instance died); false when every slot is held. A holder that
   * already holds one keeps it.
   */
  abstract claimSlot(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean>;

  /** Keeps these holders' slots for another `ttlMs`. */
  abstract renewSlots(slots: SlotHolder[], ttlMs: number): Promise<void>;

  abstract releaseSlot(key: string, holder: string): Promise<void>;

  /** Drops what no longer matters (ended windows, long-closed breakers, expired slots). */
  abstract purge(): Promise<void>;

  abstract close(): Promise<void>;
}
