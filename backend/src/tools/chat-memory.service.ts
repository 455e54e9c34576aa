import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { MemoryEntry, MemoryList } from '@parley/api-types';
import { ChatEntity } from '../chats/chat.entity.js';
import { AppError } from '../errors/app-error.js';
import { rowsOf } from '../database/sql.js';
import { ChatMemoryEntity } from './chat-memory.entity.js';
import { ToolFailure, type ToolContext } from './tool.types.js';

export const MEMORY_MAX_ENTRIES = 200;
export const MEMORY_MAX_CHARS = 1000;

/** The per-chat memory: written by the `remember` tool, read by `recall`, seen and pruned by the user. */
@Injectable()
export class ChatMemoryService {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async list(userId: string, chatId: string): Promise<MemoryList> {
    await this.assertOwned(userId, chatId);
    const rows = await this.dataSource
      .getRepository(ChatMemoryEntity)
      .find({ where: { chatId }, order: { createdAt: 'ASC', id: 'ASC' }, take: MEMORY_MAX_ENTRIES });
    return { items: rows.map(toMemoryDto) };
  }

  async remove(userId: string, chatId: string, entryId: string): Promise<void> {
    await this.assertOwned(userId, chatId);
    const result = await this.dataSource.getRepository(ChatMemoryEntity).delete({ id: entryId, chatId });
    if (!result.affected) throw new AppError('memory_entry_not_found');
  }

  /**
   * Stores one entry for the call; the same call stored twice (a re-run) writes nothing more
   * (unique on the call's id). Refused past the chat's limit.
   */
  async remember(context: ToolContext, content: string): Promise<{ id: string; remembered: string }> {
    const rows = await rowsOf<{ id: string }>(
      this.dataSource,
      `WITH existing AS (SELECT id FROM chat_memory WHERE tool_call_id = $4),
       inserted AS (
         INSERT INTO chat_memory (chat_id, content, message_id, tool_call_id)
         SELECT $1, $2, $3, $4
         WHERE NOT EXISTS (SELECT 1 FROM existing)
           AND (SELECT count(*) FROM chat_memory WHERE chat_id = $1) < $5
         ON CONFLICT (tool_call_id) DO NOTHING
         RETURNING id
       )
       SELECT id FROM inserted UNION ALL SELECT id FROM existing`,
      [context.chatId, content, context.messageId, context.callId, MEMORY_MAX_ENTRIES],
    );
    if (rows.length === 0) {
      throw new ToolFailure('tool_failed', `this chat's memory is full (${MEMORY_MAX_ENTRIES} entries)`);
    }
    return { id: rows[0].id, remembered: content };
  }

  /** The entries containing `query` (case ignored), or the latest ones, oldest first. */
  async recall(chatId: string, query: string | undefined, limit = 20): Promise<{ entries: string[] }> {
    const rows = await rowsOf<{ content: string }>(
      this.dataSource,
      `SELECT content FROM (
         SELECT content, created_at, id FROM chat_memory
         WHERE chat_id = $1 AND ($2::text IS NULL OR strpos(lower(content), lower($2)) > 0)
         ORDER BY created_at DESC, id DESC LIMIT $3
       ) latest ORDER BY created_at, id`,
      [chatId, query?.trim() || null, limit],
    );
    return { entries: rows.map((r) => r.content) };
  }

  private async assertOwned(userId: string, chatId: string): Promise<void> {
    const owned = await this.dataSource.getRepository(ChatEntity).existsBy({ id: chatId, userId });
    if (!owned) throw new AppError('chat_not_found');
  }
}

function toMemoryDto(row: ChatMemoryEntity): MemoryEntry {
  return {
    id: row.id,
    chatId: row.chatId,
    content: row.content,
    messageId: row.messageId,
    createdAt: row.createdAt.toISOString(),
  };
}
