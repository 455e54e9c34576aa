import type { EntityManager } from 'typeorm';
import { AppError } from '../errors/app-error.js';
import { rowsOf } from '../database/sql.js';

/**
 * Takes the chat's row lock (404 when it is not the user's), then, in a statement of its own so
 * that it sees everything committed before the lock was granted: no reply running (409
 * generation_in_progress); answers the active leaf. Every action that changes a chat's tree
 * starts here, inside its transaction.
 */
export async function lockIdleChat(manager: EntityManager, userId: string, chatId: string): Promise<string | null> {
  const [locked] = await rowsOf(manager, 'SELECT 1 FROM chats WHERE id = $1 AND user_id = $2 FOR UPDATE', [
    chatId,
    userId,
  ]);
  if (!locked) throw new AppError('chat_not_found');
  const [state] = await rowsOf<{ leaf: string | null; busy: boolean }>(
    manager,
    `SELECT active_leaf_id AS leaf,
            EXISTS (SELECT 1 FROM messages WHERE chat_id = $1 AND status IN ('pending', 'streaming')) AS busy
     FROM chats WHERE id = $1`,
    [chatId],
  );
  if (state!.busy) throw new AppError('generation_in_progress');
  return state!.leaf;
}
