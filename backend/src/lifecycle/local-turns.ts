import { Injectable } from '@nestjs/common';
import type { AppError } from '../errors/app-error.js';

/** What this instance's bookkeeping needs of a running turn (the turn itself lives in generation). */
export interface LocalTurn {
  /** The reply being written. */
  readonly messageId: string;
  /** Its text so far. */
  readonly text: string;
  /** Fires when the turn ends early (deadline, stop, shutdown). */
  readonly signal: AbortSignal;
  /** Ends the turn early with the reason: the upstream call is aborted. */
  abort(reason: AppError): void;
}

/** The turns running on this instance, by reply id: a cancel arriving here stops them at once. */
@Injectable()
export class LocalTurns {
  private readonly turns = new Map<string, LocalTurn>();

  add(turn: LocalTurn): void {
    this.turns.set(turn.messageId, turn);
    turn.signal.addEventListener('abort', () => this.remove(turn), { once: true });
  }

  remove(turn: LocalTurn): void {
    if (this.turns.get(turn.messageId) === turn) this.turns.delete(turn.messageId);
  }

  get(messageId: string): LocalTurn | undefined {
    return this.turns.get(messageId);
  }

  all(): LocalTurn[] {
    return [...this.turns.values()];
  }

  get size(): number {
    return this.turns.size;
  }
}
