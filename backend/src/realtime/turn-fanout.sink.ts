import type { StreamEvent } from '@parley/api-types';
import type { TurnSink } from '../generation/turn-sink.js';
import { previewOf } from '../chats/chat.mapper.js';
import type { RealtimeEvents } from './realtime-events.js';
import type { EventDraft } from './event-draft.js';

export interface FanoutSubject {
  userId: string;
  chatId: string;
  /** A send stores the user's message (a regenerate answers one already announced). */
  announcesUserMessage: boolean;
  /** The title the turn gave the chat (its first message), if it gave one. */
  newTitle: string | null;
  /**
   * The turn moved the active path off its end (regenerate, edit): `chat.path_changed`, whose
   * branch is the turn's new reply (regenerate) or new user message (edit).
   */
  pathChanged?: 'userMessage' | 'assistantMessage';
  /** A continue: the reply exists (updated, not created) and its text starts this long. */
  continuesFrom?: number;
}

/**
 * A turn's events as the user's events, for every socket of the user on every instance: the
 * stored messages, the text as it streams (with its offset), the end as stored, and the balance
 * at each step (reserved at the start, settled or released at the end). Wraps the sink of the
 * client that asked, which sees the turn's own stream as before.
 */
export class TurnFanoutSink implements TurnSink {
  private offset: number;

  constructor(
    private readonly client: TurnSink,
    private readonly events: Pick<RealtimeEvents, 'publish'>,
    private readonly subject: FanoutSubject,
  ) {
    this.offset = subject.continuesFrom ?? 0;
  }

  get streaming(): boolean {
    return this.client.streaming;
  }

  send(event: StreamEvent): void {
    this.client.send(event);
    const { userId, chatId } = this.subject;
    switch (event.type) {
      case 'turn_started':
        this.events.publish(
          userId,
          ...(this.subject.announcesUserMessage
            ? [{ type: 'message.created' as const, chatId, message: event.userMessage }]
            : []),
          this.subject.continuesFrom === undefined
            ? { type: 'message.created' as const, chatId, message: event.assistantMessage }
            : { type: 'message.updated' as const, chatId, message: event.assistantMessage },
          ...(this.subject.pathChanged ? [this.pathChanged(event, this.subject.pathChanged)] : []),
          ...(this.subject.newTitle
            ? [{ type: 'chat.title_updated' as const, chatId, title: this.subject.newTitle }]
            : []),
          { type: 'balance.changed' },
        );
        return;
      case 'delta':
        if (event.text.length === 0) return;
        this.events.publish(userId, {
          type: 'reply.delta',
          chatId,
          messageId: event.messageId,
          offset: this.offset,
          text: event.text,
        });
        this.offset += event.text.length;
        return;
      case 'done':
        this.events.publish(
          userId,
          { type: 'message.updated', chatId, message: event.result.assistantMessage },
          { type: 'balance.changed' },
        );
        return;
      case 'error':
        // As stored: failed, or stopped with its text (read when the event is numbered).
        this.events.publish(
          userId,
          { type: 'message.updated', chatId, reload: event.messageId },
          { type: 'balance.changed' },
        );
        return;
      case 'provider':
      case 'retry':
        return;
    }
  }

  // The new reply ends the path; the chat's activity moved to its creation (the same statement).
  private pathChanged(
    event: Extract<StreamEvent, { type: 'turn_started' }>,
    at: 'userMessage' | 'assistantMessage',
  ): EventDraft {
    const reply = event.assistantMessage;
    const branch = event[at];
    return {
      type: 'chat.path_changed',
      chatId: this.subject.chatId,
      activeLeafId: reply.id,
      lastMessage: previewOf(reply),
      updatedAt: reply.createdAt,
      ...(branch.alternatives
        ? { branch: { messageId: branch.id, parentId: branch.parentId, alternatives: branch.alternatives } }
        : {}),
    };
  }

  end(): void {
    this.client.end();
  }

  onDisconnect(listener: () => void): void {
    this.client.onDisconnect(listener);
  }
}
