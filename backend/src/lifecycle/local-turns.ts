import { Injectable } from '@nestjs/common';
import type { Turn } from '../generation/turn-context.js';

/** The turns running on this instance, by reply id: a cancel arriving here stops them at once. */
@Injectable()
export class LocalTurns {
  private readonly turns = new Map<string, Turn>();

  add(turn: Turn): void {
    const id = turn.init.assistantMessage.id;
    this.turns.set(id, turn);
    turn.deadline.signal.addEventListener('abort', () => this.turns.delete(id), { once: true });
  }

  remove(turn: Turn): void {
    this.turns.delete(turn.init.assistantMessage.id);
  }

  get(messageId: string): Turn | undefined {
    return this.turns.get(messageId);
  }

  all(): Turn[] {
    return [...this.turns.values()];
  }

  get size(): number {
    return this.turns.size;
  }
}
