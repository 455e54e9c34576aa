import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { SharedState, type BreakerAdmission, type BreakerPolicy } from '../shared-state/shared-state.js';
import { countsAgainstBreaker } from './breaker-errors.js';

/** What `admit` decided for a turn, to be reported back when the turn ends. */
export interface Admitted {
  chatId: string;
  /** This turn is the half-open breaker's one probe. */
  probe: boolean;
  /** The breaker had counted failures (a success must reset them). */
  dirty: boolean;
}

/**
 * One circuit breaker per chat, shared by every instance (SharedState: PostgreSQL by default,
 * Redis with REDIS_URL): closed → open after CHAT_BREAKER_THRESHOLD consecutive failed turns →
 * half-open after CHAT_BREAKER_RESET_MS, admitting one probe (on whichever instance asks first)
 * → closed on its success, open again on its failure. While open, turns fail fast with 503
 * breaker_open and Retry-After. A chat's failures count the same on any instance, so a failing
 * chat fails fast everywhere after the threshold, not after threshold × instances.
 *
 * When the store cannot be reached the breaker does not stand in the way (fail open): the turn
 * then meets the real failure itself.
 */
@Injectable()
export class ChatBreakers {
  private readonly logger = new Logger(ChatBreakers.name);
  private readonly policy: BreakerPolicy;

  constructor(
    config: AppConfig,
    private readonly state: SharedState,
  ) {
    const { threshold, resetMs } = config.resilience.chatBreaker;
    // A probe that has not ended by its turn's deadline died with its instance.
    this.policy = { threshold, resetMs, probeTtlMs: config.resilience.turnTimeoutMs + 5000 };
  }

  /** Before any work: fails fast while the chat's breaker is open; claims the probe when half-open. */
  async admit(chatId: string): Promise<Admitted> {
    let admission: BreakerAdmission;
    try {
      admission = await this.state.admit(chatId, this.policy);
    } catch (error) {
      this.warn('chat_breaker_unavailable', error);
      return { chatId, probe: false, dirty: false };
    }
    if (admission.kind === 'open' || admission.kind === 'probing') {
      throw new AppError('breaker_open', {
        retryAfterSeconds: Math.max(1, Math.ceil(admission.retryAfterMs / 1000)),
        breakerState: admission.kind === 'open' ? 'open' : 'half_open',
      });
    }
    return {
      chatId,
      probe: admission.kind === 'probe',
      dirty: admission.kind === 'probe' || admission.failures > 0,
    };
  }

  /** Runs an admitted turn and reports how it ended to the chat's breaker. */
  async execute<T>(admitted: Admitted, turn: () => Promise<T>): Promise<T> {
    let result: T;
    try {
      result = await turn();
    } catch (error) {
      if (countsAgainstBreaker(error)) {
        await this.state
          .failed(admitted.chatId, this.policy, admitted.probe)
          .catch((e: unknown) => this.warn('chat_breaker_not_recorded', e));
      } else if (admitted.probe) {
        // A probe that ended for a reason that says nothing about the upstream frees the slot.
        await this.state.succeeded(admitted.chatId).catch((e: unknown) => this.warn('chat_breaker_not_recorded', e));
      }
      throw error;
    }
    // Only a breaker that had something to forget costs a write.
    if (admitted.dirty) {
      await this.state.succeeded(admitted.chatId).catch((e: unknown) => this.warn('chat_breaker_not_recorded', e));
    }
    return result;
  }

  /** Opens the chat's breaker now, for the reset time (development fault injection). */
  async trip(chatId: string): Promise<void> {
    await this.state.trip(chatId, this.policy);
  }

  /** How many chats' breakers are not closed (for metrics). */
  openCount(): Promise<number> {
    return this.state.openCount();
  }

  private warn(event: string, error: unknown): void {
    this.logger.warn({ event }, String(error));
  }
}
