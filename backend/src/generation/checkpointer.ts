import { Logger } from '@nestjs/common';
import { AppError } from '../errors/app-error.js';
import type { Turn } from './turn-context.js';
import type { TurnStore } from './turn-store.js';

/**
 * While a turn runs, saves its text at a bounded rate (so any instance can replay it to a
 * returning client) and notices a cancel made on any instance (the row is no longer running).
 */
export class Checkpointer {
  private readonly logger = new Logger(Checkpointer.name);
  private readonly timer: NodeJS.Timeout;
  private saved = 0;
  private busy = false;

  constructor(
    private readonly turn: Turn,
    private readonly store: TurnStore,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
    turn.deadline.signal.addEventListener('abort', () => this.stop(), { once: true });
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const text = this.turn.text.length > this.saved ? this.turn.text : null;
      const running = await this.store.checkpoint(this.turn.init.assistantMessage.id, text);
      if (text !== null) this.saved = text.length;
      if (!running) this.turn.abort(new AppError('turn_cancelled'));
    } catch (error) {
      // A missed checkpoint only delays a re-attaching client; the commit carries the text.
      this.logger.warn({ event: 'checkpoint_failed', messageId: this.turn.init.assistantMessage.id }, String(error));
    } finally {
      this.busy = false;
    }
  }
}
