import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { every } from '../lifecycle/every.js';

// Beyond its deadline no turn is alive anywhere; the margin covers clock skew and the commit.
const MARGIN_MS = 10_000;
const SWEEP_EVERY_MS = 10_000;

/**
 * Replies left `pending` or `streaming` by a process that died are marked failed with
 * `turn_interrupted`, at start and then periodically. Only replies past any turn's deadline are
 * touched, so instances sharing the database never end each other's live turns.
 */
@Injectable()
export class InterruptedTurnsService implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(InterruptedTurnsService.name);
  private stop: (() => void) | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.sweep();
    this.stop = every(SWEEP_EVERY_MS, () => this.sweep().catch(() => undefined));
  }

  onApplicationShutdown(): void {
    this.stop?.();
  }

  async sweep(): Promise<number> {
    const ageMs = this.config.resilience.turnTimeoutMs + MARGIN_MS;
    // One statement: mark the replies, give back their reservations (once: the ledger's unique
    // index), credit the balances.
    const [{ count }] = (await this.dataSource.query(
      `WITH interrupted AS (
         UPDATE messages SET status = 'failed', error_code = 'turn_interrupted', content = '', updated_at = now()
         WHERE status IN ('pending', 'streaming') AND updated_at < now() - make_interval(secs => $1)
         RETURNING id
       ), released AS (
         INSERT INTO token_ledger (user_id, message_id, kind, amount)
         SELECT l.user_id, l.message_id, 'release', -l.amount
         FROM token_ledger l JOIN interrupted i ON i.id = l.message_id
         WHERE l.kind = 'reservation'
         ON CONFLICT (message_id, kind) WHERE message_id IS NOT NULL DO NOTHING
         RETURNING user_id, amount
       ), credited AS (
         UPDATE users SET token_balance = users.token_balance + r.total
         FROM (SELECT user_id, sum(amount) AS total FROM released GROUP BY user_id) r
         WHERE users.id = r.user_id
       )
       SELECT count(*)::int AS count FROM interrupted`,
      [ageMs / 1000],
    )) as Array<{ count: number }>;
    if (count > 0) this.logger.warn({ event: 'turns_interrupted', count });
    return count;
  }
}
