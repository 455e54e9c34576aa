import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ToolCallPage } from '@parley/api-types';
import { ChatEntity } from '../chats/chat.entity.js';
import { AppError } from '../errors/app-error.js';
import { CursorCodec, invalidCursor } from '../pagination/cursor-codec.js';
import { toToolCallDto } from './tool-call.mapper.js';
import { ToolCallStore } from './tool-call.store.js';

/** A chat's tool calls for its owner, page by page. */
@Injectable()
export class ToolCallsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly store: ToolCallStore,
    private readonly cursors: CursorCodec,
  ) {}

  async list(userId: string, chatId: string, query: { limit: number; cursor?: string }): Promise<ToolCallPage> {
    // The cursor first (a malformed request is refused as such whoever's chat it names), as
    // every other listing does.
    let after: { createdAt: string; id: string } | null = null;
    if (query.cursor) {
      const [chat, createdAt, id] = this.cursors.decode('tool-calls', userId, query.cursor);
      // A cursor of another chat's listing is as foreign as another user's.
      if (chat !== chatId || typeof createdAt !== 'string' || typeof id !== 'string') throw invalidCursor();
      after = { createdAt, id };
    }
    const owned = await this.dataSource.getRepository(ChatEntity).existsBy({ id: chatId, userId });
    if (!owned) throw new AppError('chat_not_found');
    const rows = await this.store.page(chatId, query.limit, after);
    const items = rows.slice(0, query.limit);
    const last = items.at(-1);
    return {
      items: items.map(toToolCallDto),
      nextCursor:
        rows.length > query.limit && last
          ? this.cursors.encode('tool-calls', userId, [chatId, last.createdAt.toISOString(), last.id])
          : null,
    };
  }
}
