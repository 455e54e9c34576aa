import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import type { AlternativeList, Chat, RealtimeEvent } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { lockIdleChat } from './chat-lock.js';
import { rowsOf } from '../database/sql.js';
import { IdempotencyService } from '../idempotency/idempotency.service.js';
import { RealtimeEvents } from '../realtime/realtime-events.js';
import type { EventDraft } from '../realtime/event-draft.js';
import { ChatEntity } from './chat.entity.js';
import { MessageEntity } from './message.entity.js';
import { toChatDto, toMessageDto } from './chat.mapper.js';
import { alternativesOf } from './messages.repository.js';

type PathBranch = NonNullable<Extract<RealtimeEvent, { type: 'chat.path_changed' }>['branch']>;

const TITLE_LENGTH = 120;
const FORK_SUFFIX = ' (fork)';

/** Who asks, and the raw `Idempotency-Key` header (checked by the idempotency service). */
export interface TreeRequest {
  userId: string;
  idempotencyKey: string | string[] | undefined;
}

/**
 * The actions on a conversation tree that generate nothing (specs/009-conversation-tree):
 * select a branch, delete a subtree, fork a path into a new chat, list a message's alternatives.
 * Each change runs in one transaction under the chat's row lock, with its realtime events and
 * its idempotency record, so it commits whole or not at all.
 */
@Injectable()
export class ConversationTreeService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly idempotency: IdempotencyService,
    private readonly events: RealtimeEvents,
  ) {}

  /** The newest message in the subtree of `messageId` becomes the active leaf. */
  select(request: TreeRequest, chatId: string, messageId: string): Promise<Chat> {
    const fingerprint = this.idempotency.fingerprint('selectMessage', { chatId, messageId }, null);
    return this.idempotency.once(request.userId, request.idempotencyKey, fingerprint, 200, (seal) =>
      this.changed(async (manager) => {
        const previous = await lockIdleChat(manager, request.userId, chatId);
        await this.messageIn(manager, chatId, messageId);
        const leaf = await this.newestIn(manager, messageId);
        await manager.query('UPDATE chats SET active_leaf_id = $2 WHERE id = $1', [chatId, leaf]);
        const chat = await this.chatIn(manager, request.userId, chatId);
        await seal(manager, chat);
        const branch = await this.branchOf(manager, leaf, previous);
        return { chat, events: [this.pathChanged(chat, branch)] };
      }, request.userId),
    );
  }

  /**
   * The message and its subtree are deleted. When the active leaf was among them, the path moves
   * to the newest message in the subtree of the newest remaining sibling, else to the parent.
   */
  remove(request: TreeRequest, chatId: string, messageId: string): Promise<Chat> {
    const fingerprint = this.idempotency.fingerprint('deleteMessage', { chatId, messageId }, null);
    return this.idempotency.once(request.userId, request.idempotencyKey, fingerprint, 200, (seal) =>
      this.changed(async (manager) => {
        const leaf = await lockIdleChat(manager, request.userId, chatId);
        const target = await this.messageIn(manager, chatId, messageId);
        if (target.parentId === null) throw new AppError('message_not_deletable');
        const subtree = (
          await rowsOf<{ id: string }>(
            manager,
            `WITH RECURSIVE sub AS (
               SELECT id FROM messages WHERE id = $1
               UNION ALL
               SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id
             )
             SELECT id FROM sub`,
            [messageId],
          )
        ).map((row) => row.id);
        const leafGone = leaf !== null && subtree.includes(leaf);
        let newLeaf = leaf;
        let sibling: { id: string } | undefined;
        if (leafGone) {
          [sibling] = await rowsOf<{ id: string }>(
            manager,
            'SELECT id FROM messages WHERE parent_id = $1 AND id <> $2 ORDER BY seq DESC LIMIT 1',
            [target.parentId, messageId],
          );
          newLeaf = sibling ? await this.newestIn(manager, sibling.id) : target.parentId;
        }
        // The whole subtree in one statement: left to ON DELETE CASCADE, a long branch would
        // cascade one level per message, nesting as deep as the branch is long. Ledger rows stay,
        // unlinked: tokens already charged stay charged, and nothing is reserved while idle.
        await manager.query('DELETE FROM messages WHERE id = ANY($1::uuid[])', [subtree]);
        if (leafGone) await manager.query('UPDATE chats SET active_leaf_id = $2 WHERE id = $1', [chatId, newLeaf]);
        const chat = await this.chatIn(manager, request.userId, chatId);
        await seal(manager, chat);
        const events: EventDraft[] = [
          { type: 'message.deleted', chatId, messageIds: [messageId, ...subtree.filter((id) => id !== messageId)] },
        ];
        if (leafGone) {
          // The path now runs through the sibling (a new branch there), or ends at the parent.
          const branch = sibling ? await this.branchOf(manager, sibling.id, null) : null;
          events.push(this.pathChanged(chat, branch));
        }
        return { chat, events };
      }, request.userId),
    );
  }

  /**
   * A new chat (same character, persona, lorebook, language) holding copies of the path from the
   * root to `messageId`, finished messages only, its active leaf the last copy. Copies carry no
   * charge (the ledger is not touched).
   */
  fork(request: TreeRequest, chatId: string, messageId: string): Promise<Chat> {
    const fingerprint = this.idempotency.fingerprint('forkChat', { chatId, messageId }, null);
    return this.idempotency.once(request.userId, request.idempotencyKey, fingerprint, 201, (seal) =>
      this.changed(async (manager) => {
        const source = await manager
          .getRepository(ChatEntity)
          .createQueryBuilder('c')
          .innerJoinAndSelect('c.character', 'character')
          .where('c.id = :chatId AND c.user_id = :userId', { chatId, userId: request.userId })
          .getOne();
        if (!source?.character) throw new AppError('chat_not_found');
        await this.messageIn(manager, chatId, messageId);
        const base = source.title ?? source.character.translations[source.locale].name;
        const title = `${Array.from(base)
          .slice(0, TITLE_LENGTH - FORK_SUFFIX.length)
          .join('')}${FORK_SUFFIX}`;
        const fork = await manager.save(
          manager.create(ChatEntity, {
            userId: request.userId,
            characterId: source.characterId,
            title,
            personaId: source.personaId,
            greetingIndex: source.greetingIndex,
            lorebook: source.lorebook,
            locale: source.locale,
          }),
        );
        // One statement: the path (root first, running replies left out), each copy following the
        // copy before it, a reply's replyToId following its user message's copy.
        await rowsOf(
          manager,
          `WITH RECURSIVE path AS (
             SELECT id, parent_id FROM messages WHERE id = $1 AND chat_id = $2
             UNION ALL
             SELECT m.id, m.parent_id FROM messages m JOIN path ON m.id = path.parent_id
           ), kept AS MATERIALIZED (
             SELECT m.*, gen_random_uuid() AS new_id FROM path JOIN messages m ON m.id = path.id
             WHERE m.status NOT IN ('pending', 'streaming')
           ), chained AS (
             SELECT kept.*, row_number() OVER (ORDER BY seq) AS new_seq,
                    lag(new_id) OVER (ORDER BY seq) AS new_parent, lag(id) OVER (ORDER BY seq) AS old_parent
             FROM kept
           ), copied AS (
             INSERT INTO messages (id, chat_id, seq, role, content, status, error_code, reply_to_id, parent_id,
               provider, model, prompt_tokens, completion_tokens, attempts, degraded, metadata, created_at, updated_at)
             SELECT new_id, $3, new_seq, role, content, status, error_code,
                    CASE WHEN reply_to_id IS NOT NULL AND reply_to_id = old_parent THEN new_parent END, new_parent,
                    provider, model, prompt_tokens, completion_tokens, attempts, degraded,
                    metadata || jsonb_build_object('forkedFrom', id), created_at, updated_at
             FROM chained
             RETURNING id, seq
           )
           UPDATE chats SET last_seq = (SELECT count(*) FROM copied),
             active_leaf_id = (SELECT id FROM copied ORDER BY seq DESC LIMIT 1)
           WHERE id = $3`,
          [messageId, chatId, fork.id],
        );
        const chat = await this.chatIn(manager, request.userId, fork.id);
        await seal(manager, chat);
        return { chat, events: [{ type: 'chat.created', chat }] };
      }, request.userId),
    );
  }

  /** The siblings of a message (itself included), oldest first, and which is on the active path. */
  async alternatives(userId: string, chatId: string, messageId: string): Promise<AlternativeList> {
    const manager = this.dataSource.manager;
    const [chat] = await rowsOf<{ leaf: string | null }>(
      manager,
      'SELECT active_leaf_id AS leaf FROM chats WHERE id = $1 AND user_id = $2',
      [chatId, userId],
    );
    if (!chat) throw new AppError('chat_not_found');
    const target = await this.messageIn(manager, chatId, messageId);
    const siblings =
      target.parentId === null
        ? [target]
        : await manager
            .getRepository(MessageEntity)
            .find({ where: { parentId: target.parentId }, order: { seq: 'ASC' } });
    const first = siblings[0]!;
    // Up from the leaf while seq is above the oldest sibling's: the one sibling the path crosses.
    const [active] =
      chat.leaf === null
        ? []
        : await rowsOf<{ id: string }>(
            manager,
            `WITH RECURSIVE path AS (
               SELECT id, parent_id, seq FROM messages WHERE id = $1
               UNION ALL
               SELECT m.id, m.parent_id, m.seq FROM messages m JOIN path ON m.id = path.parent_id
               WHERE path.seq > $2
             )
             SELECT id FROM path WHERE id = ANY($3::uuid[])`,
            [chat.leaf, first.seq, siblings.map((s) => s.id)],
          );
    const count = siblings.length;
    return {
      items: siblings.map((message, index) => toMessageDto(message, { index: index + 1, count })),
      activeId: active?.id ?? null,
    };
  }

  /**
   * Where the path to `leaf` leaves the path to `previous`: its oldest message that is not on the
   * old path (with `previous` null: `leaf` itself), with its place among its siblings. Null when
   * the new path holds nothing new (the leaf moved up its own path).
   */
  private async branchOf(manager: EntityManager, leaf: string, previous: string | null): Promise<PathBranch | null> {
    const [row] =
      previous === null
        ? await rowsOf<{ id: string; parent_id: string | null }>(
            manager,
            'SELECT id, parent_id FROM messages WHERE id = $1',
            [leaf],
          )
        : await rowsOf<{ id: string; parent_id: string | null }>(
            manager,
            `WITH RECURSIVE fresh AS (
               SELECT id, parent_id, seq FROM messages WHERE id = $1
               UNION ALL
               SELECT m.id, m.parent_id, m.seq FROM messages m JOIN fresh ON m.id = fresh.parent_id
             ), old AS (
               SELECT id, parent_id FROM messages WHERE id = $2
               UNION ALL
               SELECT m.id, m.parent_id FROM messages m JOIN old ON m.id = old.parent_id
             )
             SELECT id, parent_id FROM fresh WHERE id NOT IN (SELECT id FROM old) ORDER BY seq LIMIT 1`,
            [leaf, previous],
          );
    if (!row) return null;
    const alternatives = (await alternativesOf(manager, [row.id])).get(row.id)!;
    return { messageId: row.id, parentId: row.parent_id, alternatives };
  }

  /** `chat.path_changed` with what a chat list and ‹ n/m › need: the preview, the activity, the branch. */
  private pathChanged(chat: Chat, branch: PathBranch | null): EventDraft {
    return {
      type: 'chat.path_changed',
      chatId: chat.id,
      activeLeafId: chat.activeLeafId,
      lastMessage: chat.lastMessage,
      updatedAt: chat.updatedAt,
      ...(branch ? { branch } : {}),
    };
  }

  private async messageIn(manager: EntityManager, chatId: string, messageId: string): Promise<MessageEntity> {
    const message = await manager.getRepository(MessageEntity).findOneBy({ id: messageId, chatId });
    if (!message) throw new AppError('message_not_found');
    return message;
  }

  /** The newest (largest seq) message in the subtree of a message, the message itself included. */
  private async newestIn(manager: EntityManager, messageId: string): Promise<string> {
    const [row] = await rowsOf<{ id: string }>(
      manager,
      `WITH RECURSIVE sub AS (
         SELECT id, seq FROM messages WHERE id = $1
         UNION ALL
         SELECT m.id, m.seq FROM messages m JOIN sub ON m.parent_id = sub.id
       )
       SELECT id FROM sub ORDER BY seq DESC LIMIT 1`,
      [messageId],
    );
    return row!.id;
  }

  private async chatIn(manager: EntityManager, userId: string, chatId: string): Promise<Chat> {
    const chat = await manager
      .getRepository(ChatEntity)
      .createQueryBuilder('c')
      .leftJoinAndMapOne('c.lastMessage', MessageEntity, 'm', 'm.id = c.active_leaf_id')
      .where('c.id = :chatId AND c.user_id = :userId', { chatId, userId })
      .getOne();
    if (!chat) throw new AppError('chat_not_found');
    return toChatDto(chat);
  }

  // A change in a transaction with its events; the events are announced once it committed.
  private async changed(
    change: (manager: EntityManager) => Promise<{ chat: Chat; events: EventDraft[] }>,
    userId: string,
  ): Promise<Chat> {
    const { chat, announce } = await this.dataSource.transaction(async (manager) => {
      const { chat, events } = await change(manager);
      return { chat, announce: await this.events.appendIn(manager, userId, ...events) };
    });
    await announce();
    return chat;
  }
}
