import { Injectable } from '@nestjs/common';
import type { EntityManager } from 'typeorm';
import { MessageEntity } from './message.entity.js';
import { rowsOf } from '../database/sql.js';

export type MessageDraft = Pick<MessageEntity, 'role' | 'content' | 'status'> &
  Partial<Pick<MessageEntity, 'replyToId' | 'errorCode' | 'provider' | 'model' | 'metadata'>>;

/**
 * Appends messages to a chat. Sequence numbers come from the chat row, bumped under its row lock
 * inside the caller's transaction: concurrent appends queue on the lock, so seq values are unique
 * and gap-free (a rolled-back append returns its numbers with it) and never depend on the clock.
 */
@Injectable()
export class MessagesRepository {
  async append(manager: EntityManager, chatId: string, drafts: MessageDraft[]): Promise<MessageEntity[]> {
    if (!manager.queryRunner?.isTransactionActive) throw new Error('append must run inside a transaction');
    const [row] = await rowsOf<{ last_seq: number }>(
      manager,
      'UPDATE chats SET last_seq = last_seq + $2, updated_at = now() WHERE id = $1 RETURNING last_seq',
      [chatId, drafts.length],
    );
    const lastSeq = row?.last_seq;
    if (lastSeq === undefined) throw new Error(`chat ${chatId} vanished while appending`);
    const first = lastSeq - drafts.length + 1;
    return manager.save(
      drafts.map((draft, index) => manager.create(MessageEntity, { ...draft, chatId, seq: first + index })),
    );
  }
}
