import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, LessThan, type EntityManager } from 'typeorm';
import type { ErrorCode, ManifestAttempt } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { MessagesRepository } from '../chats/messages.repository.js';
import type { PromptPlan } from './turn-context.js';
import { rowsOf } from '../database/sql.js';

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

/** The database side of a turn: reservation and persist-before, history, checkpoints, the end. */
@Injectable()
export class TurnStore {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly messages: MessagesRepository,
  ) {}

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
      await this.takeReservation(manager, userId, reserve);
      const [user, assistant] = await this.messages.append(manager, chat.id, [
        { role: 'user', content, status: 'complete' },
        { role: 'assistant', content: '', status: 'pending' },
      ]);
      assistant!.replyToId = user!.id;
      await manager.update(MessageEntity, { id: assistant!.id }, { replyToId: user!.id });
      await this.recordReservation(manager, userId, assistant!.id, reserve);
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
      await this.takeReservation(manager, userId, reserve);
      const [assistant] = await this.messages.append(manager, chatId, [
        { role: 'assistant', content: '', status: 'pending', replyToId: userMessageId },
      ]);
      await this.recordReservation(manager, userId, assistant!.id, reserve);
      return assistant!;
    });
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
   * Saves the reply's text so far; answers whether the reply is still running (a cancel from any
   * instance shows here as the row no longer pending or streaming).
   */
  async checkpoint(messageId: string, text: string | null): Promise<boolean> {
    if (text === null) {
      const [row] = await this.dataSource.query('SELECT status FROM messages WHERE id = $1', [messageId]);
      return row?.status === 'pending' || row?.status === 'streaming';
    }
    const rows = await rowsOf<{ id: string }>(
      this.dataSource.manager,
      `UPDATE messages SET content = $2, status = 'streaming', updated_at = now()
       WHERE id = $1 AND status IN ('pending', 'streaming') RETURNING id`,
      [messageId, text],
    );
    return rows.length === 1;
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
    return this.dataSource.transaction(async (manager) => {
      const updated = await rowsOf<{ id: string }>(
        manager,
        `UPDATE messages SET status = 'complete', content = $2, provider = $3, model = $4, prompt_tokens = $5,
           completion_tokens = $6, attempts = $7, degraded = $8, error_code = NULL,
           metadata = metadata || $9::jsonb, updated_at = now()
         WHERE id = $1 AND status IN ('pending', 'streaming') RETURNING id`,
        [
          messageId,
          reply.content,
          reply.provider,
          reply.model,
          reply.promptTokens,
          reply.completionTokens,
          reply.attempts.length,
          reply.degraded,
          JSON.stringify({ manifest, finishReason: reply.finishReason, moderation: reply.moderation }),
        ],
      );
      if (updated.length === 0) throw new AppError('turn_cancelled');
      const tokenBalance = !reply.degraded
        ? await this.settle(manager, userId, messageId, reserve, reply.promptTokens + reply.completionTokens)
        : await this.release(manager, messageId, userId);
      await manager.update(ChatEntity, { id: chatId }, { updatedAt: () => 'now()' });
      const message = await manager.findOneByOrFail(MessageEntity, { id: messageId });
      return { message, tokenBalance };
    });
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

  private async takeReservation(manager: EntityManager, userId: string, reserve: number): Promise<void> {
    // Conditional on the balance, under the user's row lock: concurrent sends queue here, so the
    // balance can never be driven below zero.
    const rows = await rowsOf<{ token_balance: string }>(
      manager,
      'UPDATE users SET token_balance = token_balance - $2 WHERE id = $1 AND token_balance >= $2 RETURNING token_balance',
      [userId, reserve],
    );
    if (rows.length === 0) throw new AppError('insufficient_tokens');
  }

  private async recordReservation(manager: EntityManager, userId: string, messageId: string, reserve: number) {
    await manager.query(
      `INSERT INTO token_ledger (user_id, message_id, kind, amount) VALUES ($1, $2, 'reservation', $3)`,
      [userId, messageId, -reserve],
    );
  }

  // The reservation becomes the actual charge: the difference goes back (or, if the reply cost
  // more than reserved, is taken, never below zero).
  private async settle(manager: EntityManager, userId: string, messageId: string, reserve: number, cost: number) {
    const [row] = await rowsOf<{ old_balance: string; new_balance: string }>(
      manager,
      `WITH before AS (SELECT token_balance FROM users WHERE id = $1 FOR UPDATE)
       UPDATE users SET token_balance = GREATEST(users.token_balance + $2, 0)
       FROM before WHERE users.id = $1
       RETURNING before.token_balance AS old_balance, users.token_balance AS new_balance`,
      [userId, reserve - cost],
    );
    const oldBalance = Number(row!.old_balance);
    const newBalance = Number(row!.new_balance);
    await manager.query(
      `INSERT INTO token_ledger (user_id, message_id, kind, amount) VALUES ($1, $2, 'settlement', $3)`,
      [userId, messageId, newBalance - oldBalance],
    );
    return newBalance;
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
