import { admission } from '../../src/shared-state/postgres-shared-state.js';
import {
  SharedState,
  type BreakerAdmission,
  type BreakerPolicy,
  type QuotaTaken,
  type SlotHolder,
} from '../../src/shared-state/shared-state.js';

/**
 * The shared store's semantics in memory, on a clock the test moves, for unit tests of what sits
 * on top of it (the limiter, the breakers, the pipeline). The real stores (PostgreSQL, Redis)
 * are held to the same behaviour by test/shared-state.e2e-spec.ts.
 */
export class MemorySharedState extends SharedState {
  readonly name = 'postgres';
  private offset = 0;
  // The clock: Date.now() (so jest's fake timers move it), which a test may also set forward.
  get now(): number {
    return Date.now() + this.offset;
  }
  set now(value: number) {
    this.offset = value - Date.now();
  }
  private readonly quotas = new Map<string, { hits: number; endsAt: number }>();
  private readonly breakers = new Map<string, { failures: number; openUntil: number | null; probeUntil: number }>();

  async takeQuota(key: string, limit: number, windowMs: number): Promise<QuotaTaken> {
    let window = this.quotas.get(key);
    if (!window || window.endsAt <= this.now) {
      window = { hits: 0, endsAt: this.now + windowMs };
      this.quotas.set(key, window);
    }
    if (window.hits >= limit) return { allowed: false, count: window.hits, resetMs: window.endsAt - this.now };
    window.hits++;
    return { allowed: true, count: window.hits, resetMs: window.endsAt - this.now };
  }

  async admit(chatId: string, policy: BreakerPolicy): Promise<BreakerAdmission> {
    const state = this.breakers.get(chatId);
    let claimed = false;
    if (state && state.openUntil !== null && state.openUntil <= this.now && state.probeUntil <= this.now) {
      state.probeUntil = this.now + policy.probeTtlMs;
      claimed = true;
    }
    return admission(
      state && {
        failures: state.failures,
        open_ms: state.openUntil === null ? null : state.openUntil - this.now,
        probe_ms: state.probeUntil - this.now,
        claimed,
      },
      policy,
    );
  }

  async succeeded(chatId: string): Promise<void> {
    this.breakers.delete(chatId);
  }

  async failed(chatId: string, policy: BreakerPolicy, probe: boolean): Promise<void> {
    const state = this.breakers.get(chatId) ?? { failures: 0, openUntil: null, probeUntil: 0 };
    const failures = state.failures + 1;
    this.breakers.set(
      chatId,
      probe || failures >= policy.threshold
        ? { failures: 0, openUntil: this.now + policy.resetMs, probeUntil: 0 }
        : { ...state, failures, probeUntil: 0 },
    );
  }

  async trip(chatId: string, policy: BreakerPolicy): Promise<void> {
    this.breakers.set(chatId, { failures: 0, openUntil: this.now + policy.resetMs, probeUntil: 0 });
  }

  async openCount(): Promise<number> {
    return [...this.breakers.values()].filter((b) => b.openUntil !== null).length;
  }

  private readonly slots = new Map<string, Map<string, number>>();

  async claimSlot(key: string, holder: string, limit: number, ttlMs: number): Promise<boolean> {
    const held = this.slots.get(key) ?? new Map<string, number>();
    for (const [other, expiresAt] of held) if (expiresAt <= this.now) held.delete(other);
    if (!held.has(holder) && held.size >= limit) return false;
    held.set(holder, this.now + ttlMs);
    this.slots.set(key, held);
    return true;
  }

  async renewSlots(slots: SlotHolder[], ttlMs: number): Promise<void> {
    for (const { key, holder } of slots) {
      const held = this.slots.get(key);
      if (held?.has(holder)) held.set(holder, this.now + ttlMs);
    }
  }

  async releaseSlot(key: string, holder: string): Promise<void> {
    this.slots.get(key)?.delete(holder);
  }

  async purge(): Promise<void> {}

  async close(): Promise<void> {}

  /** The chat's breaker as a person would call it, at the current time. */
  stateOf(chatId: string): 'closed' | 'open' | 'half_open' {
    const state = this.breakers.get(chatId);
    if (!state || state.openUntil === null) return 'closed';
    return state.openUntil > this.now ? 'open' : 'half_open';
  }
}
