import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, LessThan, type EntityManager } from 'typeorm';
import type {
  Chat,
  ChatImport,
  ChatPage,
  CreateChatRequest,
  Locale,
  MessagePage,
  UpdateChatRequest,
} from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { CharactersService } from '../characters/characters.service.js';
import { ChatEntity } from './chat.entity.js';
import { MessageEntity } from './message.entity.js';
import { MessagesRepository } from './messages.repository.js';
import { toChatDto, toMessageDto } from './chat.mapper.js';
import { CursorCodec, invalidCursor } from '../pagination/cursor-codec.js';
import { RealtimeEvents } from '../realtime/realtime-events.js';

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
    private readonly events: RealtimeEvents,
  ) {}

  async create(userId: string, request: CreateChatRequest, locale: Locale): Promise<Chat> {
    const character = await this.characters.loadActive(request.characterId);
    const greeting = character.translations[locale].greeting;
    // Each change and its event (for the user's other tabs and devices) commit together.
    return this.announced(async (manager) => {
      const chat = await manager.save(
        manager.create(ChatEntity, { userId, characterId: character.id, locale, title: request.title?.trim() || null }),
      );
      const [first] = await this.messages.append(manager, chat.id, [
        { role: 'assistant', content: greeting, status: 'complete', metadata: { greeting: true, locale } },
      ]);
      const stored = await manager.findOneByOrFail(ChatEntity, { id: chat.id });
      stored.lastMessage = first ?? null;
      const dto = toChatDto(stored);
      return {
        result: dto,
        announce: await this.events.appendIn(manager, userId, { type: 'chat.created', chat: dto }),
      };
    });
  }

  /** A chat from an export: its character, title and messages (in order, as complete messages). */
  async importChat(userId: string, request: ChatImport, locale: Locale): Promise<Chat> {
    const character = await this.characters.loadActive(request.chat.characterId);
    return this.announced(async (manager) => {
      const chat = await manager.save(
        manager.create(ChatEntity, {
          userId,
          characterId: character.id,
          locale,
          title: request.chat.title?.trim() || null,
        }),
      );
      const stored = await this.messages.append(
        manager,
        chat.id,
        request.messages.map((message) => ({
          role: message.role,
          content: message.content,
          status: 'complete' as const,
          metadata: { imported: true },
        })),
      );
      const saved = await manager.findOneByOrFail(ChatEntity, { id: chat.id });
      saved.lastMessage = stored.at(-1) ?? null;
      const dto = toChatDto(saved);
      return {
        result: dto,
        announce: await this.events.appendIn(manager, userId, { type: 'chat.created', chat: dto }),
      };
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

  get(userId: string, chatId: string): Promise<Chat> {
    return this.getIn(this.dataSource.manager, userId, chatId);
  }

  private async getIn(manager: EntityManager, userId: string, chatId: string): Promise<Chat> {
    const chat = await this.withLastMessage(manager)
      .where('c.id = :chatId AND c.user_id = :userId', { chatId, userId })
      .getOne();
    if (!chat) throw new AppError('chat_not_found');
    return toChatDto(chat);
  }

  // A change in a transaction with its event; the event is announced once the change committed.
  private async announced<T>(
    change: (manager: EntityManager) => Promise<{ result: T; announce: () => Promise<void> }>,
  ): Promise<T> {
    const { result, announce } = await this.dataSource.transaction(change);
    await announce();
    return result;
  }

  async rename(userId: string, chatId: string, request: UpdateChatRequest): Promise<Chat> {
    return this.announced(async (manager) => {
      const result = await manager
        .getRepository(ChatEntity)
        .update({ id: chatId, userId }, { title: request.title.trim() });
      if (!result.affected) throw new AppError('chat_not_found');
      const chat = await this.getIn(manager, userId, chatId);
      return { result: chat, announce: await this.events.appendIn(manager, userId, { type: 'chat.renamed', chat }) };
    });
  }

  async remove(userId: string, chatId: string): Promise<void> {
    return this.announced(async (manager) => {
      const result = await manager.getRepository(ChatEntity).delete({ id: chatId, userId });
      if (!result.affected) throw new AppError('chat_not_found');
      return {
        result: undefined,
        announce: await this.events.appendIn(manager, userId, { type: 'chat.deleted', chatId }),
      };
    });
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

  private withLastMessage(manager: EntityManager = this.dataSource.manager) {
    return manager
      .getRepository(ChatEntity)
      .createQueryBuilder('c')
      .leftJoinAndMapOne('c.lastMessage', MessageEntity, 'm', 'm.chat_id = c.id AND m.seq = c.last_seq');
  }
}
