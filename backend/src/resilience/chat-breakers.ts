import { Injectable } from '@nestjs/common';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  circuitBreaker,
  handleWhen,
  type CircuitBreakerPolicy,
} from 'cockatiel';
import type { BreakerState } from '@parley/api-types';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { countsAgainstBreaker } from './breaker-errors.js';

interface Entry {
  policy: CircuitBreakerPolicy;
  openedAt: number;
}

/**
 * One circuit breaker per chat (cockatiel: consecutive failures → open → half-open after the
 * reset time, one probe). Memory is bounded: least recently used breakers beyond the cap are
 * dropped, closed ones first being the common case (a forgotten closed breaker loses nothing).
 */
@Injectable()
export class ChatBreakers {
  private readonly entries = new Map<string, Entry>();
  private readonly threshold: number;
  private readonly resetMs: number;
  private readonly maxChats: number;

  constructor(config: AppConfig) {
    ({ threshold: this.threshold, resetMs: this.resetMs, maxChats: this.maxChats } = config.resilience.chatBreaker);
  }

  /** Runs a turn under the chat's breaker; fails fast with 503 breaker_open while it is open. */
  async execute<T>(chatId: string, turn: () => Promise<T>): Promise<T> {
    const entry = this.entry(chatId);
    try {
      return await entry.policy.execute(() => turn());
    } catch (error) {
      if (error instanceof BrokenCircuitError) throw this.openError(entry);
      throw error;
    }
  }

  /** Fails fast before any work is done when the chat's breaker is open. */
  assertClosed(chatId: string): void {
    const entry = this.entries.get(chatId);
    if (!entry) return;
    const { state } = entry.policy;
    if (state === CircuitState.Isolated || (state === CircuitState.Open && this.remainingMs(entry) > 0)) {
      throw this.openError(entry);
    }
  }

  /** Opens the chat's breaker now, for the reset time (development fault injection). */
  trip(chatId: string): void {
    const entry = this.entry(chatId);
    if (entry.policy.state === CircuitState.Isolated) return;
    const isolation = entry.policy.isolate();
    setTimeout(() => isolation.dispose(), this.resetMs).unref();
  }

  state(chatId: string): BreakerState {
    const state = this.entries.get(chatId)?.policy.state;
    if (state === CircuitState.Open || state === CircuitState.Isolated) return 'open';
    if (state === CircuitState.HalfOpen) return 'half_open';
    return 'closed';
  }

  /** How many chats' breakers are not closed (for metrics). */
  openCount(): number {
    let count = 0;
    for (const entry of this.entries.values()) if (entry.policy.state !== CircuitState.Closed) count++;
    return count;
  }

  get size(): number {
    return this.entries.size;
  }

  private entry(chatId: string): Entry {
    const existing = this.entries.get(chatId);
    if (existing) {
      // Re-insert to mark it most recently used.
      this.entries.delete(chatId);
      this.entries.set(chatId, existing);
      return existing;
    }
    const policy = circuitBreaker(handleWhen(countsAgainstBreaker), {
      halfOpenAfter: this.resetMs,
      breaker: new ConsecutiveBreaker(this.threshold),
    });
    const entry: Entry = { policy, openedAt: 0 };
    policy.onBreak(() => (entry.openedAt = Date.now()));
    this.entries.set(chatId, entry);
    this.evict();
    return entry;
  }

  private evict(): void {
    while (this.entries.size > this.maxChats) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) return;
      this.entries.delete(oldest);
    }
  }

  private remainingMs(entry: Entry): number {
    return Math.max(0, entry.openedAt + this.resetMs - Date.now());
  }

  private openError(entry: Entry): AppError {
    const halfOpen = entry.policy.state === CircuitState.HalfOpen;
    return new AppError('breaker_open', {
      // A half-open breaker is probing: come back shortly.
      retryAfterSeconds: Math.max(1, Math.ceil(this.remainingMs(entry) / 1000)),
      breakerState: halfOpen ? 'half_open' : 'open',
    });
  }
}
