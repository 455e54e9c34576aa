import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';

const WINDOW_MS = 60_000;
const MAX_USERS = 100_000;

/**
 * Turns per user per minute, on this instance (a sliding window of start times). Instances do
 * not share it: it protects each instance and the provider quota, it is not an accounting limit.
 */
@Injectable()
export class TurnRateLimiter {
  private readonly starts = new Map<string, number[]>();

  constructor(private readonly config: AppConfig) {}

  take(userId: string): void {
    const limit = this.config.generation.rateLimitPerMinute;
    if (limit === 0) return;
    const now = Date.now();
    const recent = (this.starts.get(userId) ?? []).filter((t) => t > now - WINDOW_MS);
    if (recent.length >= limit) {
      throw new AppError('rate_limited', { retryAfterSeconds: (recent[0]! + WINDOW_MS - now) / 1000 });
    }
    recent.push(now);
    this.starts.delete(userId);
    this.starts.set(userId, recent);
    if (this.starts.size > MAX_USERS) this.starts.delete(this.starts.keys().next().value!);
  }
}
