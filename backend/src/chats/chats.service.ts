import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type {
  Chat,
  ChatImport,
  ChatPage,
  ChatTreePage,
  CreateChatRequest,
  Locale,
  Lorebook,
  MessagePage,
  ToolCall,
  UpdateChatRequest,
} from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { CharactersService } from '../characters/characters.service.js';
import type { CharacterEntity } from '../characters/character.entity.js';
import { DEFAULT_USER_NAME, expandMacros } from '../characters/macros.js';
import { PersonasService } from '../personas/personas.service.js';
import { ModerationService } from '../moderation/moderation.service.js';
import { toCardBook, toLorebook } from '../characters/character.mapper.js';
import { ChatEntity } from './chat.entity.js';
import { MessageEntity } from './message.entity.js';
import { ToolCallStore } from '../tools/tool-call.store.js';
import { toToolCallDto } from '../tools/tool-call.mapper.js';
import { MessagesRepository } from './messages.repository.js';
import { importedMessage, importedTree } from './import-tree.js';
import { toChatDto, toMessageDto, toMessageDtoFromRow, type MessagePageRow } from './chat.mapper.js';
import { CursorCodec, invalidCursor } from '../pagination/cursor-codec.js';
import { RealtimeEvents } from '../realtime/realtime-events.js';
import { entityFromRow, poolOf, rowsOf } from '../database/sql.js';
import type { Session } from '../auth/current-user.decorator.js';

// Above any seq (an integer column): "before every message".
const MAX_SEQ = 2_147_483_647;

// A row of `message_page`: whether the token is current and the chat the caller's, and one
// message of the page (none, all null, when the page is empty).
type PageRow = { current: boolean; owned: boolean } & MessagePageRow;

export interface PageQuery {
  limit: number;
}

@Injectable()
export class ChatsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly characters: CharactersService,
    private readonly personas: PersonasService,
    private readonly moderation: ModerationService,
    private readonly messages: MessagesRepository,
    private readonly cursors: CursorCodec,
    private readonly events: RealtimeEvents,
    private readonly toolCalls: ToolCallStore,
  ) {}

  async create(userId: string, request: CreateChatRequest, locale: Locale): Promise<Chat> {
    const character = await this.characters.loadUsable(request.characterId, userId);
    const persona = await this.personas.choose(userId, request.personaId);
    const greetingIndex = request.greetingIndex ?? 0;
    const greeting = expandMacros(greetingOf(character, locale, greetingIndex), {
      char: character.translations[locale].name,
      user: persona?.name ?? DEFAULT_USER_NAME,
    });
    // Each change and its event (for the user's other tabs and devices) commit together.
    return this.announced(async (manager) => {
      const chat = await manager.save(
        manager.create(ChatEntity, {
          userId,
          characterId: character.id,
          locale,
          title: request.title?.trim() || null,
          personaId: persona?.id ?? null,
          greetingIndex,
        }),
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

  /**
   * A chat from an export: its character, title and messages (in order, as complete messages but
   * for stopped replies), as one path (version 1) or as the tree the file describes (version 2).
   */
  async importChat(userId: string, request: ChatImport, locale: Locale): Promise<Chat> {
    const tree = importedTree(request);
    const character = await this.characters.loadUsable(request.chat.characterId, userId);
    return this.announced(async (manager) => {
      const chat = await manager.save(
        manager.create(ChatEntity, {
          userId,
          characterId: character.id,
          locale,
          title: request.chat.title?.trim() || null,
        }),
      );
      const stored = await this.messages.append(manager, chat.id, request.messages.map(importedMessage), tree);
      const saved = await manager.findOneByOrFail(ChatEntity, { id: chat.id });
      saved.lastMessage = stored[tree.leaf] ?? null;
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

  async getLorebook(userId: string, chatId: string): Promise<Lorebook> {
    const chat = await this.dataSource.getRepository(ChatEntity).findOne({
      where: { id: chatId, userId },
      select: { id: true, lorebook: true },
    });
    if (!chat) throw new AppError('chat_not_found');
    return chat.lorebook ? toLorebook(chat.lorebook) : { entries: [] };
  }

  /** Replaces the lorebook attached to a chat (no entries: none). */
  async setLorebook(userId: string, chatId: string, lorebook: Lorebook, locale: Locale): Promise<Lorebook> {
    // Its entries go into prompts like a character's texts: the same input policy.
    lorebook.entries.forEach((entry, i) => {
      const verdict = this.moderation.check(entry.content, 'input', locale);
      if (verdict.allowed) return;
      throw new AppError('content_blocked', {
        errors: [
          {
            location: 'body',
            pointer: `/entries/${i}/content`,
            message: `blocked by the content policy: ${verdict.category}`,
            keyword: 'content_policy',
          },
        ],
      });
    });
    const book = lorebook.entries.length > 0 ? toCardBook(lorebook) : null;
    const result = await this.dataSource
      .createQueryBuilder()
      .update(ChatEntity)
      .set({ lorebook: () => ':book' })
      .setParameter('book', book === null ? null : JSON.stringify(book))
      .where('id = :chatId AND user_id = :userId', { chatId, userId })
      .execute();
    if (!result.affected) throw new AppError('chat_not_found');
    return book ? toLorebook(book) : { entries: [] };
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

  /**
   * One page of the chat's active path, newest `limit` before `before` (specs/009-conversation-tree).
   * One call of `message_page` (migration ReadPath) checks the token's version and the chat's
   * owner and walks up the tree: from the active leaf, or, when `before` names a message (the
   * previous page's oldest, as `nextBefore` does), from that message's parent, so a page costs
   * its own length whatever the chat's size. Each message's place among its siblings comes along.
   */
  async messagePage(session: Session, chatId: string, query: PageQuery & { before?: number }): Promise<MessagePage> {
    const { rows } = await poolOf(this.dataSource).query<PageRow>('SELECT * FROM message_page($1, $2, $3, $4, $5)', [
      session.userId,
      session.tokenVersion,
      chatId,
      query.before ?? MAX_SEQ,
      query.limit,
    ]);
    const head = rows[0];
    // No row: the account is gone. A token from before a sign-out-everywhere or a password change
    // is refused as the guard refuses it on other routes.
    if (!head?.current) throw new AppError('unauthenticated');
    // Another user's chat is reported exactly like a missing one.
    if (!head.owned) throw new AppError('chat_not_found');
    const found = head.id === null ? [] : rows;
    const hasMore = found.length > query.limit;
    const items = found.slice(0, query.limit).reverse();
    // The page says which replies called tools; only then is there a second statement.
    const calls = await this.toolCallsOf(items.filter((row) => row.has_tool_calls));
    return {
      items: items.map((row) => {
        const message = toMessageDtoFromRow(chatId, row);
        const made = calls.get(message.id);
        return made ? { ...message, toolCalls: made } : message;
      }),
      hasMore,
      nextBefore: hasMore ? (items[0]?.seq ?? null) : null,
    };
  }

  /**
   * One page of the chat's whole tree (every branch), ascending seq after `after`, with the
   * active leaf, read in one statement so the leaf and the page agree. A parent's seq is below
   * its children's, so pages in this order always bring a parent before its children; paging by
   * seq over the (chat_id, seq) key costs a page its own length.
   */
  async treePage(userId: string, chatId: string, query: PageQuery & { after?: number }): Promise<ChatTreePage> {
    const rows = await rowsOf<Record<string, unknown> & { active_leaf: string | null }>(
      this.dataSource,
      `SELECT c.active_leaf_id AS active_leaf, m.*
       FROM chats c
       LEFT JOIN LATERAL (
         SELECT * FROM messages WHERE chat_id = c.id AND seq > $3 ORDER BY seq LIMIT $4 + 1
       ) m ON true
       WHERE c.id = $1 AND c.user_id = $2
       ORDER BY m.seq`,
      [chatId, userId, query.after ?? 0, query.limit],
    );
    // Another user's chat is reported exactly like a missing one.
    if (rows.length === 0) throw new AppError('chat_not_found');
    const found = rows.filter((row) => row.id !== null);
    const hasMore = found.length > query.limit;
    const items = found
      .slice(0, query.limit)
      .map((row) => toMessageDto(entityFromRow(this.dataSource, MessageEntity, row)));
    return {
      activeLeafId: rows[0]!.active_leaf,
      items,
      hasMore,
      nextAfter: hasMore ? (items.at(-1)?.seq ?? null) : null,
    };
  }

  /** The tool calls of a page's replies, by reply, in order: one statement for the whole page. */
  private async toolCallsOf(replies: Array<{ id: string }>): Promise<Map<string, ToolCall[]>> {
    const byReply = new Map<string, ToolCall[]>();
    for (const row of await this.toolCalls.ofMessages(replies.map((reply) => reply.id))) {
      const call = toToolCallDto(row);
      const list = byReply.get(call.messageId);
      if (list) list.push(call);
      else byReply.set(call.messageId, [call]);
    }
    return byReply;
  }

  private chatPosition(userId: string, cursor: string): { updatedAt: Date; id: string } {
    const [at, id] = this.cursors.decode('chats', userId, cursor);
    const updatedAt = new Date(typeof at === 'string' ? at : Number.NaN);
    if (Number.isNaN(updatedAt.getTime()) || typeof id !== 'string') throw invalidCursor();
    return { updatedAt, id };
  }

  private withLastMessage(manager: EntityManager = this.dataSource.manager) {
    return manager
      .getRepository(ChatEntity)
      .createQueryBuilder('c')
      .leftJoinAndMapOne('c.lastMessage', MessageEntity, 'm', 'm.id = c.active_leaf_id');
  }
}

/** The greeting a new chat opens with: the first message (0) or an alternate one (1, 2, …). */
export function greetingOf(character: CharacterEntity, locale: Locale, index: number): string {
  if (index === 0) return character.translations[locale].greeting;
  const alternate = character.card?.alternate_greetings[index - 1];
  if (alternate === undefined) {
    throw new AppError('validation_failed', {
      errors: [
        {
          location: 'body',
          pointer: '/greetingIndex',
          message: `the character has no greeting ${index}`,
          keyword: 'maximum',
        },
      ],
    });
  }
  return alternate;
}
