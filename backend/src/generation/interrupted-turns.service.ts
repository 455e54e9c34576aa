import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { every } from '../lifecycle/every.js';
import { rowsOf } from '../database/sql.js';
import { endOrRestore } from './turn.store.js';
import { releaseCtes } from '../billing/billing.sql.js';
import { RealtimeEvents } from '../realtime/realtime-events.js';

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
    private readonly events: RealtimeEvents,
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
    // One statement: mark the replies (an interrupted continuation goes back to the reply it
    // continued), give back their reservations (once: the ledger's unique index; billing's part).
    const rows = await rowsOf<{ id: string; chat_id: string; user_id: string }>(
      this.dataSource,
      `WITH interrupted AS (
         UPDATE messages SET ${endOrRestore({ status: `'failed'`, errorCode: `'turn_interrupted'`, content: `''`, metadata: 'metadata' })}
         WHERE status IN ('pending', 'streaming') AND updated_at < now() - make_interval(secs => $1)
         RETURNING id, chat_id
       ), ${releaseCtes('(SELECT id FROM interrupted)')}
       SELECT i.id, i.chat_id, c.user_id FROM interrupted i JOIN chats c ON c.id = i.chat_id`,
      [ageMs / 1000],
    );
    // Sockets following these replies learn that they ended.
    for (const row of rows) {
      this.events.publish(
        row.user_id,
        { type: 'message.updated', chatId: row.chat_id, reload: row.id },
        { type: 'balance.changed' },
      );
    }
    const count = rows.length;
    if (count > 0) this.logger.warn({ event: 'turns_interrupted', count });
    return count;
  }
}
