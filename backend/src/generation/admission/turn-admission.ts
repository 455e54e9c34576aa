import { Injectable } from '@nestjs/common';
import { Counter, Gauge } from 'prom-client';
import { AppConfig } from '../../config/app-config.js';
import { AppError } from '../../errors/app-error.js';
import { MetricsService } from '../../telemetry/metrics.service.js';
import { AdmissionRefused, FairAdmission, type Release } from './fair-admission.js';

/**
 * Admission of turn starts: the database work of a turn before its provider is called (the
 * idempotency claim, the chat, the prompt, persist-before). A burst of sends larger than the
 * pool waits here, in a queue fair between users, rather than in the pool's own queue, whose
 * connection timeout answers 503 after a few seconds; only past the queue's bounds or its wait
 * limit is a send answered `503 database_unavailable` with `Retry-After`.
 */
@Injectable()
export class TurnAdmission {
  private readonly queue: FairAdmission;
  private readonly refused: Counter<'reason'>;

  constructor(config: AppConfig, metrics: MetricsService) {
    const { concurrency, maxQueued, maxQueuedPerUser, maxWaitMs } = config.generation.admission;
    this.queue = new FairAdmission({ concurrency, maxQueued, maxQueuedPerKey: maxQueuedPerUser, maxWaitMs });
    const registers = [metrics.registry];
    const queue = this.queue;
    new Gauge({
      name: 'parley_turn_admission',
      help: 'Turn starts of this instance admitted (running) and waiting for admission',
      labelNames: ['state'] as const,
      registers,
      collect() {
        this.set({ state: 'running' }, queue.running);
        this.set({ state: 'waiting' }, queue.waiting);
      },
    });
    this.refused = new Counter({
      name: 'parley_turn_admission_refused_total',
      help: 'Turn starts refused by admission (503), by reason',
      labelNames: ['reason'] as const,
      registers,
    });
  }

  /** A slot for a turn's persist-after: ahead of every start waiting, never refused. */
  finishing(): Promise<Release> {
    return this.queue.acquireUrgent();
  }

  /** A slot for one turn start of `userId`; give it back once the turn is stored (or failed). */
  async admit(userId: string): Promise<Release> {
    try {
      return await this.queue.acquire(userId);
    } catch (error) {
      if (!(error instanceof AdmissionRefused)) throw error;
      this.refused.inc({ reason: error.reason });
      throw new AppError('database_unavailable', {
        retryAfterSeconds: error.retryAfterSeconds,
        detail:
          error.reason === 'queue_full' ? 'too many turns are waiting to start' : 'the turn waited too long to start',
      });
    }
  }
}
