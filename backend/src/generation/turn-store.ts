import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, LessThan, type EntityManager } from 'typeorm';
import type { ErrorCode, ManifestAttempt } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import type { PromptPlan } from './turn-context.js';
import { entityFromRow, rowsOf } from '../database/sql.js';
import { randomUUID } from 'node:crypto';

export interface CompletedReply {
  content: string;
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** A last-resort reply: marked so, and never charged. */
  degraded: boolean;
  attempts: ManifestAttempt[];
  finishReason: 'stop' | 'max_tokens';
  moderation: Record<string, unknown> | null;
}

const TITLE_LENGTH = 60;

// Gives back a message's reservation once; the ledger's unique (message, kind) makes a second
// release (a crash sweep after a cancel, say) a no-op.
const RELEASE_SQL = `
  WITH reserved AS (
    SELECT user_id, -amount AS amount FROM token_ledger WHERE message_id = $1 AND kind = 'reservation'
  ), released AS (
    INSERT INTO token_ledger (user_id, message_id, kind, amount)
    SELECT user_id, $1, 'release', amount FROM reserved
    ON CONFLICT (message_id, kind) WHERE message_id IS NOT NULL DO NOTHING
    RETURNING user_id, amount
  )
  UPDATE users SET token_balance = users.token_balance + released.amount
  FROM released WHERE users.id = released.user_id
  RETURNING users.token_balance`;

// A running reply marked complete with its usage ($1 to $9); no row when it is no longer running.
const COMPLETE_MESSAGE_SQL = `
  UPDATE messages SET status = 'complete', content = $2, provider = $3, model = $4, prompt_tokens = $5,
    completion_tokens = $6, attempts = $7, degraded = $8, error_code = NULL,
    metadata = metadata || $9::jsonb, updated_at = now()
  WHERE id = $1 AND status IN ('pending', 'streaming')
  RETURNING *`;

/** The database side of a turn: reservation and persist-before, history, checkpoints, the end. */
@Injectable()
export class TurnStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * One transaction: the tokens reserved (402 when the balance cannot cover them, with nothing
   * stored), the user's message and a pending reply. From here the words survive.
   */
  async persistSend(
    userId: string,
    chat: ChatEntity,
    content: string,
    reserve: number,
  ): Promise<{ user: MessageEntity; assistant: MessageEntity }> {
    return this.dataSource.transaction(async (manager) => {
      const userMessageId = randomUUID();
      const [user, assistant] = await this.reserveAndAppend(manager, userId, chat.id, reserve, [
        { id: userMessageId, role: 'user', content, status: 'complete', replyToId: null },
        { id: randomUUID(), role: 'assistant', content: '', status: 'pending', replyToId: userMessageId },
      ]);
      if (chat.title === null) await this.titleFromFirstMessage(manager, chat.id, content);
      return { user: user!, assistant: assistant! };
    });
  }

  /** A new pending reply to an existing user message (regenerate), its tokens reserved. */
  async persistRegenerate(
    userId: string,
    chatId: string,
    userMessageId: string,
    reserve: number,
  ): Promise<MessageEntity> {
    return this.dataSource.transaction(async (manager) => {
      const [assistant] = await this.reserveAndAppend(manager, userId, chatId, reserve, [
        { id: randomUUID(), role: 'assistant', content: '', status: 'pending', replyToId: userMessageId },
      ]);
      return assistant!;
    });
  }

  /**
   * In one statement: the reservation (conditional on the balance, under the user's row lock, so
   * concurrent sends queue and the balance never goes below zero), the next seq values (under the
   * chat's row lock: unique and gap-free), the messages, and the reservation's ledger entry on the
   * last one (the reply). Inside the caller's transaction, so a chat deleted meanwhile undoes all.
   */
  private async reserveAndAppend(
    manager: EntityManager,
    userId: string,
    chatId: string,
    reserve: number,
    drafts: {
      id: string;
      role: 'user' | 'assistant';
      content: string;
      status: 'complete' | 'pending';
      replyToId: string | null;
    }[],
  ): Promise<MessageEntity[]> {
    const rows = await rowsOf<Record<string, unknown> & { reserved: number }>(
      manager,
      `WITH reserved AS (
         UPDATE users SET token_balance = token_balance - $2 WHERE id = $1 AND token_balance >= $2 RETURNING id
       ), numbered AS (
         UPDATE chats SET last_seq = last_seq + $4, updated_at = now()
         WHERE id = $3 AND EXISTS (SELECT 1 FROM reserved) RETURNING last_seq
       ), inserted AS (
         INSERT INTO messages (id, chat_id, seq, role, content, status, reply_to_id)
         SELECT d.id, $3, numbered.last_seq - $4 + d.n, d.role, d.content, d.status, d.reply_to_id
         FROM numbered,
              unnest($5::uuid[], $6::varchar[], $7::text[], $8::varchar[], $9::uuid[]) WITH ORDINALITY
                AS d(id, role, content, status, reply_to_id, n)
         RETURNING *
       ), ledger AS (
         INSERT INTO token_ledger (user_id, message_id, kind, amount)
         SELECT $1, id, 'reservation', -$2::bigint FROM inserted WHERE id = $10
       )
       SELECT (SELECT count(*) FROM reserved)::int AS reserved, inserted.*
       FROM (VALUES (1)) AS one LEFT JOIN inserted ON true ORDER BY inserted.seq`,
      [
        userId,
        reserve,
        chatId,
        drafts.length,
        drafts.map((d) => d.id),
        drafts.map((d) => d.role),
        drafts.map((d) => d.content),
        drafts.map((d) => d.status),
        drafts.map((d) => d.replyToId),
        drafts.at(-1)!.id,
      ],
    );
    if (rows[0]?.reserved !== 1) throw new AppError('insufficient_tokens');
    if (rows.length !== drafts.length || rows.some((row) => row.id === null)) {
      throw new Error(`chat ${chatId} vanished while appending`);
    }
    return rows.map((row) => entityFromRow(manager, MessageEntity, row));
  }

  /**
   * The prompt for a reply: the chat's messages before `before`, the newest `window` usable ones.
   * Failed, pending and cancelled replies are left out, and of several replies to one user message
   * only the latest counts (regenerate replaces; `replacing` names the user message being answered
   * again, whose earlier replies are all left out). The greeting goes into the system instruction.
   */
  async promptPlan(
    chatId: string,
    options: { before: number; window: number; replacing?: string; next?: string },
    persona: { text: string; greeting: string; version: string },
  ): Promise<PromptPlan> {
    // Twice the window, so the manifest can also name what the window left out (bounded).
    const candidates = await this.dataSource.getRepository(MessageEntity).find({
      where: { chatId, seq: LessThan(options.before) },
      order: { seq: 'DESC' },
      take: options.window * 2,
      select: { id: true, seq: true, role: true, content: true, status: true, replyToId: true, metadata: true },
    });
    const latestReply = new Map<string, number>();
    for (const m of candidates) {
      if (m.role === 'assistant' && m.status === 'complete' && m.replyToId) {
        latestReply.set(m.replyToId, Math.max(latestReply.get(m.replyToId) ?? 0, m.seq));
      }
    }
    const usable = candidates.filter((m) => {
      if (m.metadata?.greeting === true) return false;
      if (m.role === 'user') return true;
      if (m.replyToId && m.replyToId === options.replacing) return false;
      return m.status === 'complete' && (!m.replyToId || latestReply.get(m.replyToId) === m.seq);
    });
    const included = usable.slice(0, options.window).reverse();
    const includedIds = new Set(included.map((m) => m.id));
    const omitted = candidates.filter((m) => !includedIds.has(m.id) && m.metadata?.greeting !== true).map((m) => m.id);
    const messages = included.map((m) => ({ role: m.role, content: m.content }));
    if (options.next !== undefined) messages.push({ role: 'user', content: options.next });
    return {
      systemInstruction: `${persona.text}\n\nYou opened this conversation with: "${persona.greeting}"`,
      messages,
      includedMessageIds: included.map((m) => m.id),
      omittedMessageIds: omitted,
      personaVersion: persona.version,
    };
  }

  /**
   * Saves the text so far of several replies and reads which of the others are still running, in
   * one statement. Answers the ids of those still running: a cancel from any instance shows here
   * as the row no longer pending or streaming.
   */
  async checkpointMany(writes: { id: string; text: string }[], reads: string[]): Promise<Set<string>> {
    const rows = await rowsOf<{ id: string }>(
      this.dataSource.manager,
      `WITH saved AS (
         UPDATE messages m SET content = v.content, status = 'streaming', updated_at = now()
         FROM unnest($1::uuid[], $2::text[]) AS v(id, content)
         WHERE m.id = v.id AND m.status IN ('pending', 'streaming')
         RETURNING m.id
       )
       SELECT id FROM saved
       UNION ALL
       SELECT id FROM messages WHERE id = ANY($3::uuid[]) AND status IN ('pending', 'streaming')`,
      [writes.map((w) => w.id), writes.map((w) => w.text), reads],
    );
    return new Set(rows.map((row) => row.id));
  }

  /**
   * One transaction: the reply complete with its usage, the reservation settled into the actual
   * charge (once: the ledger's unique index), the chat's activity moved forward. A reply cancelled
   * meanwhile is not completed: turn_cancelled.
   */
  async complete(
    userId: string,
    chatId: string,
    messageId: string,
    reserve: number,
    reply: CompletedReply,
    manifest: Record<string, unknown>,
  ): Promise<{ message: MessageEntity; tokenBalance: number }> {
    if (reply.degraded) return this.completeDegraded(userId, chatId, messageId, reply, manifest);
    // One statement, so one atomic step and one round trip: nothing happens when the reply is no
    // longer running (cancelled meanwhile). The user's row is locked before it is read.
    const [row] = await rowsOf<Record<string, unknown> & { token_balance: string }>(
      this.dataSource.manager,
      `WITH completed AS (
         ${COMPLETE_MESSAGE_SQL}
       ), before AS (
         SELECT token_balance FROM users WHERE id = $10 AND EXISTS (SELECT 1 FROM completed) FOR UPDATE
       ), charged AS (
         UPDATE users SET token_balance = GREATEST(users.token_balance + $11, 0)
         FROM before WHERE users.id = $10
         RETURNING before.token_balance AS old_balance, users.token_balance AS new_balance
       ), ledger AS (
         INSERT INTO token_ledger (user_id, message_id, kind, amount)
         SELECT $10, $1, 'settlement', new_balance - old_balance FROM charged
       ), touched AS (
         UPDATE chats SET updated_at = now() WHERE id = $12 AND EXISTS (SELECT 1 FROM completed)
       )
       SELECT completed.*, charged.new_balance AS token_balance FROM completed, charged`,
      [
        ...this.completeParams(messageId, reply, manifest),
        userId,
        reserve - (reply.promptTokens + reply.completionTokens),
        chatId,
      ],
    );
    if (!row) throw new AppError('turn_cancelled');
    return { message: entityFromRow(this.dataSource, MessageEntity, row), tokenBalance: Number(row.token_balance) };
  }

  /** A last-resort reply: completed like any other, its reservation released, nothing charged. */
  private async completeDegraded(
    userId: string,
    chatId: string,
    messageId: string,
    reply: CompletedReply,
    manifest: Record<string, unknown>,
  ): Promise<{ message: MessageEntity; tokenBalance: number }> {
    return this.dataSource.transaction(async (manager) => {
      const [row] = await rowsOf<Record<string, unknown>>(
        manager,
        COMPLETE_MESSAGE_SQL,
        this.completeParams(messageId, reply, manifest),
      );
      if (!row) throw new AppError('turn_cancelled');
      const tokenBalance = await this.release(manager, messageId, userId);
      await manager.query('UPDATE chats SET updated_at = now() WHERE id = $1', [chatId]);
      return { message: entityFromRow(manager, MessageEntity, row), tokenBalance };
    });
  }

  private completeParams(messageId: string, reply: CompletedReply, manifest: Record<string, unknown>): unknown[] {
    return [
      messageId,
      reply.content,
      reply.provider,
      reply.model,
      reply.promptTokens,
      reply.completionTokens,
      reply.attempts.length,
      reply.degraded,
      JSON.stringify({ manifest, finishReason: reply.finishReason, moderation: reply.moderation }),
    ];
  }

  /** The reply ends failed with its code; its reservation is released; the user's message stays. */
  async fail(
    userId: string,
    messageId: string,
    code: ErrorCode,
    manifest: Record<string, unknown>,
    attempts: number,
    moderation: Record<string, unknown> | null,
  ): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      const updated = await rowsOf<{ id: string }>(
        manager,
        `UPDATE messages SET status = 'failed', error_code = $2, attempts = $3, content = '',
           metadata = metadata || $4::jsonb, updated_at = now()
         WHERE id = $1 AND status IN ('pending', 'streaming') RETURNING id`,
        [messageId, code, attempts, JSON.stringify({ manifest, moderation })],
      );
      if (updated.length === 1) await this.release(manager, messageId, userId);
    });
  }

  /**
   * Stops a running reply (from any instance): `cancelled` with its text so far, reservation
   * released. Returns the stored message, or null when it was not running.
   */
  async cancel(messageId: string, text: string | null): Promise<MessageEntity | null> {
    return this.dataSource.transaction(async (manager) => {
      const rows = await rowsOf<{ id: string }>(
        manager,
        `UPDATE messages SET status = 'cancelled', error_code = 'turn_cancelled',
           content = COALESCE($2, content), updated_at = now()
         WHERE id = $1 AND status IN ('pending', 'streaming') RETURNING id`,
        [messageId, text],
      );
      if (rows.length === 0) return null;
      await manager.query(RELEASE_SQL, [messageId]);
      return manager.findOneByOrFail(MessageEntity, { id: messageId });
    });
  }

  /** The running turn saw its reply cancelled: keep the final partial text, release (idempotent). */
  async finishCancelled(
    userId: string,
    messageId: string,
    text: string,
    manifest: Record<string, unknown>,
  ): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE messages SET content = $2, metadata = metadata || $3::jsonb WHERE id = $1 AND status = 'cancelled'`,
        [messageId, text, JSON.stringify({ manifest })],
      );
      await this.release(manager, messageId, userId);
    });
  }

  async balance(manager: EntityManager, userId: string): Promise<number> {
    const [row] = await manager.query('SELECT token_balance FROM users WHERE id = $1', [userId]);
    return Number(row?.token_balance ?? 0);
  }

  private async release(manager: EntityManager, messageId: string, userId: string): Promise<number> {
    await manager.query(RELEASE_SQL, [messageId]);
    return this.balance(manager, userId);
  }

  private async titleFromFirstMessage(manager: EntityManager, chatId: string, content: string): Promise<void> {
    const firstLine = content.trim().split('\n')[0]!.trim();
    const chars = Array.from(firstLine);
    const title =
      chars.length > TITLE_LENGTH
        ? `${chars
            .slice(0, TITLE_LENGTH - 1)
            .join('')
            .trimEnd()}…`
        : firstLine;
    await manager.query('UPDATE chats SET title = $2 WHERE id = $1 AND title IS NULL', [chatId, title || null]);
  }
}
