import { Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import type { Alternatives } from '@parley/api-types';
import { MessageEntity } from './message.entity.js';
import { rowsOf } from '../database/sql.js';
import type { ImportedTree } from './import-tree.js';

export type MessageDraft = Pick<MessageEntity, 'role' | 'content' | 'status'> &
  Partial<Pick<MessageEntity, 'replyToId' | 'errorCode' | 'provider' | 'model' | 'metadata'>>;

/**
 * Appends messages to a chat as one chain at the end of its active path (specs/009-conversation-tree):
 * the first follows the chat's active leaf, each next one the one before, and the last becomes the
 * active leaf. Sequence numbers come from the chat row, bumped under its row lock inside the
 * caller's transaction: concurrent appends queue on the lock, so seq values are unique and
 * gap-free (a rolled-back append returns its numbers with it) and never depend on the clock.
 */
@Injectable()
export class MessagesRepository {
  async append(
    manager: EntityManager,
    chatId: string,
    drafts: MessageDraft[],
    // An imported tree instead of a chain: parents by index (a root follows the active leaf), and
    // which message becomes the leaf; a reply to a user message gets it as its replyToId.
    tree?: ImportedTree,
  ): Promise<MessageEntity[]> {
    if (!manager.queryRunner?.isTransactionActive) throw new Error('append must run inside a transaction');
    if (drafts.length === 0) return [];
    const ids = drafts.map(() => randomUUID());
    const [row] = await rowsOf<{ last_seq: number; previous_leaf: string | null }>(
      manager,
      `UPDATE chats c SET last_seq = c.last_seq + $2, updated_at = now()
       FROM (SELECT id, active_leaf_id FROM chats WHERE id = $1 FOR UPDATE) old
       WHERE c.id = old.id RETURNING c.last_seq, old.active_leaf_id AS previous_leaf`,
      [chatId, drafts.length],
    );
    const lastSeq = row?.last_seq;
    if (lastSeq === undefined) throw new Error(`chat ${chatId} vanished while appending`);
    const first = lastSeq - drafts.length + 1;
    const saved = await manager.save(
      drafts.map((draft, index) =>
        manager.create(MessageEntity, {
          ...draft,
          id: ids[index],
          chatId,
          seq: first + index,
          ...(tree ? this.treeLinks(tree, drafts, ids, index, row!.previous_leaf) : {}),
          ...(tree ? {} : { parentId: index === 0 ? row!.previous_leaf : ids[index - 1] }),
        }),
      ),
    );
    const leaf = tree ? ids[tree.leaf] : ids.at(-1);
    await manager.query('UPDATE chats SET active_leaf_id = $2 WHERE id = $1', [chatId, leaf]);
    return saved;
  }

  private treeLinks(
    tree: ImportedTree,
    drafts: MessageDraft[],
    ids: string[],
    index: number,
    previousLeaf: string | null,
  ): Pick<MessageEntity, 'parentId'> & Partial<Pick<MessageEntity, 'replyToId'>> {
    const parent = tree.parents[index];
    if (parent === null || parent === undefined) return { parentId: previousLeaf };
    const answers = drafts[index]!.role === 'assistant' && drafts[parent]!.role === 'user';
    return { parentId: ids[parent]!, ...(answers ? { replyToId: ids[parent]! } : {}) };
  }
}

/**
 * Each message's place among its siblings (`Alternatives`, specs/009-conversation-tree), in one
 * statement over the (parent_id, seq) index. A root (the greeting) is the only one of its kind.
 */
export async function alternativesOf(
  on: EntityManager | DataSource,
  ids: string[],
): Promise<Map<string, Alternatives>> {
  const rows = await rowsOf<{ id: string; index: number; count: number }>(
    on,
    `SELECT m.id, count(*) FILTER (WHERE s.seq <= m.seq)::int AS index, count(*)::int AS count
     FROM messages m JOIN messages s ON s.parent_id = m.parent_id
     WHERE m.id = ANY($1::uuid[])
     GROUP BY m.id`,
    [ids],
  );
  const found = new Map(rows.map((row) => [row.id, { index: row.index, count: row.count }]));
  return new Map(ids.map((id) => [id, found.get(id) ?? { index: 1, count: 1 }]));
}
