import { Injectable } from '@nestjs/common';
import type { Alternatives } from '@parley/api-types';
import type { MessageEntity } from '../../chats/message.entity.js';
import { TurnStore } from '../turn.store.js';
import type { PreparedTurn } from './prepare.stage.js';

export interface StoredTurn {
  userMessage: MessageEntity;
  assistantMessage: MessageEntity;
  /** A continue: the ledger segment its tokens are reserved under. */
  segment?: number;
  /** Each message's place among its siblings, as the turn left them (‹ n/m › on its results). */
  alternatives?: { user: Alternatives; assistant: Alternatives };
}

/**
 * Stage 2, persist-before: one statement reserves the tokens (402 when they cannot be covered,
 * nothing stored), commits the user's message (for a send) and a `pending` reply, and links the
 * request's idempotency key to that reply. From here the user's words survive any failure, and a
 * repeat of the request finds this reply instead of making another.
 */
@Injectable()
export class PersistBeforeStage {
  constructor(private readonly store: TurnStore) {}

  async persist(prepared: PreparedTurn, idempotencyRecordId: string | null): Promise<StoredTurn> {
    const { userId, chat, reserve } = prepared;
    if (prepared.kind === 'send') {
      const { user, assistant, alternatives } = await this.store.persistSend(
        userId,
        chat,
        prepared.content,
        reserve,
        idempotencyRecordId,
      );
      return { userMessage: user, assistantMessage: assistant, alternatives };
    }
    switch (prepared.kind) {
      case 'regenerate': {
        const { answering, leaf } = prepared;
        const { assistant, alternatives } = await this.store.persistRegenerate(
          userId,
          chat.id,
          answering.id,
          reserve,
          idempotencyRecordId,
          {
            leaf,
            conflict: 'message_not_regenerable',
          },
        );
        return { userMessage: answering, assistantMessage: assistant, alternatives };
      }
      case 'edit': {
        const { user, assistant, alternatives } = await this.store.persistEdit(
          userId,
          chat.id,
          prepared.edited,
          prepared.content,
          reserve,
          idempotencyRecordId,
          { leaf: prepared.leaf, conflict: 'message_not_editable' },
        );
        return { userMessage: user, assistantMessage: assistant, alternatives };
      }
      case 'continue': {
        const { assistant, segment, alternatives } = await this.store.persistContinue(
          userId,
          chat.id,
          prepared.reply,
          reserve,
          idempotencyRecordId,
        );
        return {
          userMessage: prepared.answering,
          assistantMessage: assistant,
          segment,
          alternatives: {
            user: alternatives.get(prepared.answering.id) ?? { index: 1, count: 1 },
            assistant: alternatives.get(assistant.id) ?? { index: 1, count: 1 },
          },
        };
      }
    }
  }
}
