import { Injectable, Logger } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { LocalTurns } from './local-turns.js';

/**
 * Graceful shutdown: stop taking turns (readiness 503, new turns 503 shutting_down), let the
 * turns in flight finish within the grace period, then end the rest as interrupted (their
 * reservations released) so nothing is left pending.
 */
@Injectable()
export class ShutdownService {
  private readonly logger = new Logger(ShutdownService.name);
  private drainingSince: number | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly local: LocalTurns,
  ) {}

  get draining(): boolean {
    return this.drainingSince !== undefined;
  }

  /** Refuses new work while draining. */
  assertAccepting(): void {
    if (this.draining) throw new AppError('shutting_down', { retryAfterSeconds: 5 });
  }

  async drain(): Promise<void> {
    if (this.draining) return;
    this.drainingSince = Date.now();
    const grace = this.config.server.shutdownGraceMs;
    this.logger.log({ event: 'draining', turns_in_flight: this.local.size, grace_ms: grace });
    const deadline = Date.now() + grace;
    while (this.local.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const left = this.local.all();
    for (const turn of left) turn.abort(new AppError('turn_interrupted'));
    // Give the aborted turns a moment to record their end.
    const settleBy = Date.now() + 5000;
    while (this.local.size > 0 && Date.now() < settleBy) await new Promise((r) => setTimeout(r, 20));
    this.logger.log({ event: 'drained', interrupted: left.length, duration_ms: Date.now() - this.drainingSince });
  }
}
