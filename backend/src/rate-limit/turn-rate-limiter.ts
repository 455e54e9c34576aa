import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { SharedState } from '../shared-state/shared-state.js';

const WINDOW_MS = 60_000;

/** A user's turn quota after a request, as the `RateLimit` headers report it. */
export interface TurnQuota {
  allowed: boolean;
  /** Turns per window. */
  limit: number;
  windowSeconds: number;
  /** Turns left in the window after this one. */
  remaining: number;
  /** Seconds until one more turn is allowed (0 while turns remain). */
  resetSeconds: number;
}

/**
 * Turns per user per minute, counted across every instance (SharedState: PostgreSQL by default,
 * Redis with REDIS_URL): N instances allow the limit, not N times it. A fixed window that starts
 * with the user's first turn after the last window ended; a refused turn is not counted. When the
 * store cannot be reached the limit does not stand in the way (fail open).
 */
@Injectable()
export class TurnRateLimiter {
  private readonly logger = new Logger(TurnRateLimiter.name);

  constructor(
    private readonly config: AppConfig,
    private readonly state: SharedState,
  ) {}

  /** Whether rate limiting is on at all (0 turns a minute turns it off). */
  get enabled(): boolean {
    return this.config.generation.rateLimitPerMinute > 0;
  }

  /** Takes one turn from the user's quota when it allows one. */
  async take(userId: string): Promise<TurnQuota> {
    const limit = this.config.generation.rateLimitPerMinute;
    const windowSeconds = WINDOW_MS / 1000;
    if (limit === 0) return { allowed: true, limit, windowSeconds, remaining: 0, resetSeconds: 0 };
    try {
      const taken = await this.state.takeQuota(`turns:${userId}`, limit, WINDOW_MS);
      const remaining = Math.max(0, limit - taken.count);
      // Whole seconds, rounded up: waiting that long always finds a turn free.
      const resetSeconds = remaining > 0 ? 0 : Math.max(1, Math.ceil(taken.resetMs / 1000));
      return { allowed: taken.allowed, limit, windowSeconds, remaining, resetSeconds };
    } catch (error) {
      this.logger.warn({ event: 'turn_rate_limit_unavailable' }, String(error));
      return { allowed: true, limit, windowSeconds, remaining: limit, resetSeconds: 0 };
    }
  }
}
