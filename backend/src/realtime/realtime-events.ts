import { Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager, type QueryRunner } from 'typeorm';
import { AppConfig } from '../config/app-config.js';
import { every } from '../lifecycle/every.js';
import { EventBus } from './event-bus.js';
import { coalesceDeltas, type EventDraft } from './event-draft.js';
import { EventStore, type Drafted, type NoticeOptions } from './event-store.js';
import { RealtimeMetrics } from './realtime.metrics.js';

const PRUNE_EVERY_MS = 60_000;

/**
 * Publishing the user's events (DESIGN §10): every change a client may want to see, numbered in
 * the user's sequence, stored (so a reconnecting socket reads what it missed from the database)
 * and announced on the bus to every instance.
 *
 * Two ways in. `appendIn` numbers the events inside the transaction that makes the change, so
 * the event exists exactly when the change does (chats created, renamed, deleted). `publish`
 * takes events of changes already committed (a turn's messages, its text as it streams, the
 * balance) and numbers them in batches: one statement at a time per instance, on a connection
 * of its own (never queued behind the turns for the pool), the next batch gathering while one
 * is written and a reply's deltas in it joined, so order is kept and the cost per event falls
 * with load.
 */
@Injectable()
export class RealtimeEvents implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RealtimeEvents.name);
  private queue: Drafted[] = [];
  private writing: Promise<void> | undefined;
  private stopPruning: (() => void) | undefined;
  private writer: QueryRunner | undefined;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: EventStore,
    private readonly bus: EventBus,
    private readonly config: AppConfig,
    private readonly metrics: RealtimeMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.stopPruning = every(PRUNE_EVERY_MS, () => void this.prune());
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopPruning?.();
    await this.flushed();
    await this.releaseWriter();
    await this.bus.close();
  }

  /** Events of changes already committed, in order; never throws (a lost event is logged). */
  publish(userId: string, ...drafts: EventDraft[]): void {
    for (const draft of drafts) this.queue.push({ userId, draft });
    this.writing ??= this.write();
  }

  /**
   * Numbers and stores events inside the caller's transaction; answers what to run once it has
   * committed (the announcement, for a bus that does not deliver on commit).
   */
  async appendIn(manager: EntityManager, userId: string, ...drafts: EventDraft[]): Promise<() => Promise<void>> {
    const notices = await this.store.append(
      manager,
      drafts.map((draft) => ({ userId, draft })),
      this.notices,
    );
    if (this.bus.notifyChannel !== null) return async () => undefined;
    return () => this.announceAfterCommit(notices);
  }

  /** Resolves once everything published so far is written (tests and shutdown). */
  async flushed(): Promise<void> {
    while (this.writing) await this.writing;
  }

  private async write(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = coalesceDeltas(this.queue);
        this.queue = [];
        const timer = this.metrics.batchDuration.startTimer();
        try {
          this.writer ??= this.dataSource.createQueryRunner();
          const notices = await this.store.append(this.writer.manager, batch, this.notices);
          if (this.bus.notifyChannel === null) await this.announceAfterCommit(notices);
          this.metrics.events.inc({ outcome: 'stored' }, batch.length);
          timer();
        } catch (error) {
          this.metrics.events.inc({ outcome: 'not_stored' }, batch.length);
          // The batch was not stored; no number was used. Sockets miss these events, as a client
          // offline would miss a change it then reloads. The next batch takes a fresh connection.
          this.logger.warn({ event: 'realtime_events_not_stored', events: batch.length }, String(error));
          await this.releaseWriter();
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private get notices(): NoticeOptions {
    return { maxBytes: this.bus.maxNoticeBytes, channel: this.bus.notifyChannel };
  }

  private async releaseWriter(): Promise<void> {
    const writer = this.writer;
    this.writer = undefined;
    await writer?.release().catch(() => undefined);
  }

  // Stored but not announced: listeners find these events at the next one or at reconciliation.
  private async announceAfterCommit(notices: string[]): Promise<void> {
    await this.bus
      .announce(notices)
      .catch((error: unknown) => this.logger.warn({ event: 'realtime_announce_failed' }, String(error)));
  }

  private async prune(): Promise<void> {
    try {
      await this.store.prune(this.config.realtime.eventRetentionSeconds);
    } catch (error) {
      this.logger.warn({ event: 'realtime_prune_failed' }, String(error));
    }
  }
}
