import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, LessThan } from 'typeorm';
import type { Chat, ChatPage, CreateChatRequest, Locale, MessagePage, UpdateChatRequest } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { CharactersService } from '../characters/characters.service.js';
import { ChatEntity } from './chat.entity.js';
import { MessageEntity } from './message.entity.js';
import { MessagesRepository } from './messages.repository.js';
import { toChatDto, toMessageDto } from './chat.mapper.js';
import { CursorCodec, invalidCursor } from '../pagination/cursor-codec.js';

export interface PageQuery {
  limit: number;
}

@Injectable()
export class ChatsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly characters: CharactersService,
    private readonly messages: MessagesRepository,
    private readonly cursors: CursorCodec,
  ) {}

  async create(userId: string, request: CreateChatRequest, locale: Locale): Promise<Chat> {
    const character = await this.characters.loadActive(request.characterId);
    const greeting = character.translations[locale].greeting;
    return this.dataSource.transaction(async (manager) => {
      const chat = await manager.save(
        manager.create(ChatEntity, { userId, characterId: character.id, locale, title: request.title?.trim() || null }),
      );
      const [first] = await this.messages.append(manager, chat.id, [
        { role: 'assistant', content: greeting, status: 'complete', metadata: { greeting: true, locale } },
      ]);
      const stored = await manager.findOneByOrFail(ChatEntity, { id: chat.id });
      stored.lastMessage = first ?? null;
      return toChatDto(stored);
    });
  }

  async list(userId: string, query: PageQuery & { cursor?: string }): Promise<ChatPage> {
    const builder = this.withLastMessage()
      .where('c.user_id = :userId', { userId })
      .orderBy('c.updated_at', 'DESC')
      .addOrderBy('c.id', 'DESC')
      .limit(query.limit + 1);
    if (query.cursor) {
      const { updatedAt, id } = this.chatPosition(userId, query.cursor);
      builder.andWhere('(c.updated_at, c.id) < (:at, :id)', { at: updatedAt, id });
    }
    const rows = await builder.getMany();
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      items: page.map(toChatDto),
      // The position of the last chat on this page: (last activity, id).
      nextCursor:
        rows.length > query.limit && last
          ? this.cursors.encode('chats', userId, [last.updatedAt.toISOString(), last.id])
          : null,
    };
  }

  async get(userId: string, chatId: string): Promise<Chat> {
    const chat = await this.withLastMessage()
      .where('c.id = :chatId AND c.user_id = :userId', { chatId, userId })
      .getOne();
    if (!chat) throw new AppError('chat_not_found');
    return toChatDto(chat);
  }

  async rename(userId: string, chatId: string, request: UpdateChatRequest): Promise<Chat> {
    const result = await this.dataSource
      .getRepository(ChatEntity)
      .update({ id: chatId, userId }, { title: request.title.trim() });
    if (!result.affected) throw new AppError('chat_not_found');
    return this.get(userId, chatId);
  }

  async remove(userId: string, chatId: string): Promise<void> {
    const result = await this.dataSource.getRepository(ChatEntity).delete({ id: chatId, userId });
    if (!result.affected) throw new AppError('chat_not_found');
  }

  async messagePage(userId: string, chatId: string, query: PageQuery & { before?: number }): Promise<MessagePage> {
    await this.assertOwned(userId, chatId);
    const rows = await this.dataSource.getRepository(MessageEntity).find({
      where: { chatId, ...(query.before !== undefined ? { seq: LessThan(query.before) } : {}) },
      order: { seq: 'DESC' },
      take: query.limit + 1,
    });
    const hasMore = rows.length > query.limit;
    const items = rows.slice(0, query.limit).reverse();
    return { items: items.map(toMessageDto), hasMore, nextBefore: hasMore ? (items[0]?.seq ?? null) : null };
  }

  private chatPosition(userId: string, cursor: string): { updatedAt: Date; id: string } {
    const [at, id] = this.cursors.decode('chats', userId, cursor);
    const updatedAt = new Date(typeof at === 'string' ? at : Number.NaN);
    if (Number.isNaN(updatedAt.getTime()) || typeof id !== 'string') throw invalidCursor();
    return { updatedAt, id };
  }

  private async assertOwned(userId: string, chatId: string): Promise<void> {
    const found = await this.dataSource.getRepository(ChatEntity).existsBy({ id: chatId, userId });
    // Another user's chat is reported exactly like a missing one.
    if (!found) throw new AppError('chat_not_found');
  }

  private withLastMessage() {
    return this.dataSource
      .getRepository(ChatEntity)
      .createQueryBuilder('c')
      .leftJoinAndMapOne('c.lastMessage', MessageEntity, 'm', 'm.chat_id = c.id AND m.seq = c.last_seq');
  }
}
