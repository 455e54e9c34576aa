import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import type { LocalTurn } from '../lifecycle/local-turns.js';
import { TurnStore } from './turn.store.js';
import { every } from '../lifecycle/every.js';

/** What a checkpoint needs of a running turn. */
export type CheckpointedTurn = Pick<LocalTurn, 'messageId' | 'text' | 'abort'>;

interface Watched {
  turn: CheckpointedTurn;
  saved: number;
}

/**
 * While turns run, saves their text at a bounded rate (so any instance can replay it to a
 * returning client) and notices a cancel made on any instance (the row is no longer running).
 * One statement per interval covers every turn of this instance, however many there are: the
 * cost is per instance, not per turn.
 */
@Injectable()
export class Checkpoints implements OnApplicationShutdown {
  private readonly logger = new Logger(Checkpoints.name);
  private readonly watched = new Map<string, Watched>();
  private stopTimer: (() => void) | undefined;
  private busy = false;

  constructor(
    private readonly store: TurnStore,
    private readonly config: AppConfig,
  ) {}

  get size(): number {
    return this.watched.size;
  }

  /** Checkpoints the turn until the returned function is called. */
  watch(turn: CheckpointedTurn): () => void {
    const id = turn.messageId;
    this.watched.set(id, { turn, saved: 0 });
    this.stopTimer ??= every(this.config.trust.checkpointIntervalMs, () => this.tick());
    return () => {
      if (this.watched.get(id)?.turn !== turn) return;
      this.watched.delete(id);
      if (this.watched.size === 0) this.stopTicking();
    };
  }

  onApplicationShutdown(): void {
    this.stopTicking();
  }

  /** One checkpoint of every watched turn; exposed for tests. */
  async tick(): Promise<void> {
    if (this.busy || this.watched.size === 0) return;
    this.busy = true;
    const batch = [...this.watched.entries()].map(([id, entry]) => ({ id, entry, text: entry.turn.text }));
    const writes = batch.filter((b) => b.text.length > b.entry.saved);
    const reads = batch.filter((b) => b.text.length <= b.entry.saved);
    try {
      const running = await this.store.checkpointMany(
        writes.map((b) => ({ id: b.id, text: b.text })),
        reads.map((b) => b.id),
      );
      for (const b of writes) b.entry.saved = b.text.length;
      for (const b of batch) {
        // Ended meanwhile (completed, failed) is not cancelled: only turns still watched are.
        if (!running.has(b.id) && this.watched.get(b.id) === b.entry) {
          b.entry.turn.abort(new AppError('turn_cancelled'));
        }
      }
    } catch (error) {
      // A missed checkpoint only delays a re-attaching client; the commit carries the text.
      this.logger.warn({ event: 'checkpoint_failed', turns: batch.length }, String(error));
    } finally {
      this.busy = false;
    }
  }

  private stopTicking(): void {
    this.stopTimer?.();
    this.stopTimer = undefined;
  }
}
