import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';

const WINDOW_MS = 60_000;
const MAX_USERS = 100_000;

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
 * Turns per user per minute, on this instance (a sliding window of start times). Instances do
 * not share it: it protects each instance and the provider quota, it is not an accounting limit.
 */
@Injectable()
export class TurnRateLimiter {
  private readonly starts = new Map<string, number[]>();

  constructor(private readonly config: AppConfig) {}

  /** Whether rate limiting is on at all (0 turns a minute turns it off). */
  get enabled(): boolean {
    return this.config.generation.rateLimitPerMinute > 0;
  }

  /** Takes one turn from the user's quota when it allows one; `now` is injectable for tests. */
  take(userId: string, now: number = Date.now()): TurnQuota {
    const limit = this.config.generation.rateLimitPerMinute;
    const windowSeconds = WINDOW_MS / 1000;
    const recent = (this.starts.get(userId) ?? []).filter((t) => t > now - WINDOW_MS);
    const allowed = limit === 0 || recent.length < limit;
    if (allowed && limit > 0) recent.push(now);
    this.starts.delete(userId);
    if (recent.length > 0) this.starts.set(userId, recent);
    if (this.starts.size > MAX_USERS) this.starts.delete(this.starts.keys().next().value!);
    const remaining = Math.max(0, limit - recent.length);
    // Whole seconds, rounded up: waiting that long always finds a turn free.
    const resetSeconds = remaining > 0 ? 0 : Math.max(1, Math.ceil((recent[0]! + WINDOW_MS - now) / 1000));
    return { allowed, limit, windowSeconds, remaining, resetSeconds };
  }
}
