import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, LessThan } from 'typeorm';
import type { ErrorCode, ManifestAttempt } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { MessageEntity } from '../chats/message.entity.js';
import { entityFromRow, rowsOf } from '../database/sql.js';
import {
  balanceAfterRelease,
  releaseCtes,
  reservationLedgerCte,
  reserveCte,
  settleCtes,
} from '../billing/billing.sql.js';
import { attachReplyCte } from '../idempotency/idempotency.sql.js';
import type { PromptPlan } from './turn.js';

export interface CompletedReply {
  content: string;
  provider: string;
  model: string;
  promptTokens: number;
  completionTokens: number;
  /** A last-resort reply: marked so, and never charged. */
  degraded: boolean;
  attempts: ManifestAttempt[];
  finishReason: 'stop' | 'max_tokens' | 'tool_limit';
  moderation: Record<string, unknown> | null;
}

interface Draft {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  status: 'complete' | 'pending';
  replyToId: string | null;
}

const TITLE_LENGTH = 60;

// A running reply marked complete with its usage ($1 to $9); no row when it is no longer running.
const COMPLETE_MESSAGE = `completed AS (
    UPDATE messages SET status = 'complete', content = $2, provider = $3, model = $4, prompt_tokens = $5,
      completion_tokens = $6, attempts = $7, degraded = $8, error_code = NULL,
      metadata = metadata || $9::jsonb, updated_at = now()
    WHERE id = $1 AND status IN ('pending', 'streaming')
    RETURNING *
  )`;

/**
 * The database side of a turn, each phase one statement (one round trip, atomic without a
 * transaction): persist-before (reservation, messages, the idempotency key's reply), the prompt's
 * history, checkpoints, and persist-after (complete and settle, fail, cancel, each releasing or
 * settling the reservation exactly once). Billing's part of each statement is billing's SQL.
 */
@Injectable()
export class TurnStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * The tokens reserved (402 when the balance cannot cover them, with nothing stored), the user's
   * message and a pending reply, the chat's title from its first message. From here the words
   * survive.
   */
  async persistSend(
    userId: string,
    chat: { id: string; title: string | null },
    content: string,
    reserve: number,
    idempotencyRecordId: string | null,
  ): Promise<{ user: MessageEntity; assistant: MessageEntity }> {
    const userMessageId = randomUUID();
    const [user, assistant] = await this.reserveAndAppend(
      userId,
      chat.id,
      reserve,
      idempotencyRecordId,
      [
        { id: userMessageId, role: 'user', content, status: 'complete', replyToId: null },
        { id: randomUUID(), role: 'assistant', content: '', status: 'pending', replyToId: userMessageId },
      ],
      chat.title === null ? titleFrom(content) : null,
    );
    return { user: user!, assistant: assistant! };
  }

  /** A new pending reply to an existing user message (regenerate), its tokens reserved. */
  async persistRegenerate(
    userId: string,
    chatId: string,
    userMessageId: string,
    reserve: number,
    idempotencyRecordId: string | null,
  ): Promise<MessageEntity> {
    const [assistant] = await this.reserveAndAppend(
      userId,
      chatId,
      reserve,
      idempotencyRecordId,
      [{ id: randomUUID(), role: 'assistant', content: '', status: 'pending', replyToId: userMessageId }],
      null,
    );
    return assistant!;
  }

  /**
   * In one statement: the reservation (conditional on the balance, under the user's row lock, so
   * concurrent sends queue and the balance never goes below zero), the next seq values (under the
   * chat's row lock: unique and gap-free), the messages, the reservation's ledger entry and the
   * idempotency key's link on the last one (the reply). A chat deleted meanwhile stores nothing.
   */
  private async reserveAndAppend(
    userId: string,
    chatId: string,
    reserve: number,
    idempotencyRecordId: string | null,
    drafts: Draft[],
    title: string | null,
  ): Promise<MessageEntity[]> {
    const reply = '(SELECT id FROM inserted WHERE id = $10)';
    const rows = await rowsOf<Record<string, unknown> & { reserved: number }>(
      this.dataSource,
      `WITH ${reserveCte('$1', '$2')}, numbered AS (
         UPDATE chats SET last_seq = last_seq + $4, updated_at = now(), title = COALESCE(title, $12)
         WHERE id = $3 AND EXISTS (SELECT 1 FROM reserved) RETURNING last_seq
       ), inserted AS (
         INSERT INTO messages (id, chat_id, seq, role, content, status, reply_to_id)
         SELECT d.id, $3, numbered.last_seq - $4 + d.n, d.role, d.content, d.status, d.reply_to_id
         FROM numbered,
              unnest($5::uuid[], $6::varchar[], $7::text[], $8::varchar[], $9::uuid[]) WITH ORDINALITY
                AS d(id, role, content, status, reply_to_id, n)
         RETURNING *
       ), ${reservationLedgerCte('$1', '$2', reply)}, ${attachReplyCte('$11::uuid', reply)}
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
        idempotencyRecordId,
        title,
      ],
    );
    if (rows[0]?.reserved !== 1) throw new AppError('insufficient_tokens');
    // The chat was deleted between loading it and this statement.
    if (rows.length !== drafts.length || rows.some((row) => row.id === null)) throw new AppError('chat_not_found');
    return rows.map((row) => entityFromRow(this.dataSource, MessageEntity, row));
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
      this.dataSource,
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
   * The reply complete with its usage, the reservation settled into the actual charge (once: the
   * ledger's unique index) or, for a degraded reply, released, and the chat's activity moved
   * forward. A reply that is no longer running is left alone: turn_cancelled when it was stopped,
   * chat_not_found when its chat was deleted meanwhile.
   */
  async complete(
    userId: string,
    chatId: string,
    messageId: string,
    reserve: number,
    reply: CompletedReply,
    manifest: Record<string, unknown>,
  ): Promise<{ message: MessageEntity; tokenBalance: number }> {
    // $10 the user, $11 the chat, $12 (settled replies only) what the settlement gives back.
    const touched = `touched AS (
      UPDATE chats SET updated_at = now() WHERE id = $11 AND EXISTS (SELECT 1 FROM completed)
    )`;
    const billing = reply.degraded
      ? `${releaseCtes('(SELECT id FROM completed)')}, ${touched}
         SELECT completed.*, ${balanceAfterRelease('$10')} AS token_balance FROM completed`
      : `${settleCtes({ user: '$10', message: '$1', refund: '$12', when: 'EXISTS (SELECT 1 FROM completed)' })},
         ${touched}
         SELECT completed.*, charged.new_balance AS token_balance FROM completed, charged`;
    const params = [
      messageId,
      reply.content,
      reply.provider,
      reply.model,
      reply.promptTokens,
      reply.completionTokens,
      reply.attempts.length,
      reply.degraded,
      JSON.stringify({ manifest, finishReason: reply.finishReason, moderation: reply.moderation }),
      userId,
      chatId,
    ];
    if (!reply.degraded) params.push(reserve - (reply.promptTokens + reply.completionTokens));
    const [row] = await rowsOf<Record<string, unknown> & { token_balance: string }>(
      this.dataSource,
      `WITH ${COMPLETE_MESSAGE}, ${billing}`,
      params,
    );
    if (!row) {
      // No longer running: stopped, or gone with its chat (deleted meanwhile), which is a 404.
      const exists = await this.dataSource.getRepository(MessageEntity).existsBy({ id: messageId });
      throw new AppError(exists ? 'turn_cancelled' : 'chat_not_found');
    }
    return { message: entityFromRow(this.dataSource, MessageEntity, row), tokenBalance: Number(row.token_balance) };
  }

  /** The reply ends failed with its code and its reservation is released; the user's message stays. */
  async fail(
    messageId: string,
    code: ErrorCode,
    manifest: Record<string, unknown>,
    attempts: number,
    moderation: Record<string, unknown> | null,
  ): Promise<void> {
    await rowsOf(
      this.dataSource,
      `WITH failed AS (
         UPDATE messages SET status = 'failed', error_code = $2, attempts = $3, content = '',
           metadata = metadata || $4::jsonb, updated_at = now()
         WHERE id = $1 AND status IN ('pending', 'streaming') RETURNING id
       ), ${releaseCtes('(SELECT id FROM failed)')}
       SELECT count(*) FROM failed`,
      [messageId, code, attempts, JSON.stringify({ manifest, moderation })],
    );
  }

  /**
   * Stops a running reply (from any instance): `cancelled` with its text so far (or what was
   * checkpointed), reservation released. Returns the stored message, or null when it was not
   * running.
   */
  async cancel(messageId: string, text: string | null): Promise<MessageEntity | null> {
    const [row] = await rowsOf<Record<string, unknown>>(
      this.dataSource,
      `WITH cancelled AS (
         UPDATE messages SET status = 'cancelled', error_code = 'turn_cancelled',
           content = COALESCE($2, content), updated_at = now()
         WHERE id = $1 AND status IN ('pending', 'streaming') RETURNING *
       ), ${releaseCtes('(SELECT id FROM cancelled)')}
       SELECT * FROM cancelled`,
      [messageId, text],
    );
    return row ? entityFromRow(this.dataSource, MessageEntity, row) : null;
  }

  /** The running turn saw its reply cancelled: keep the final partial text, release (idempotent). */
  async finishCancelled(messageId: string, text: string, manifest: Record<string, unknown>): Promise<void> {
    await rowsOf(
      this.dataSource,
      `WITH finished AS (
         UPDATE messages SET content = $2, metadata = metadata || $3::jsonb
         WHERE id = $1 AND status = 'cancelled' RETURNING id
       ), ${releaseCtes('(SELECT $1::uuid)')}
       SELECT count(*) FROM finished`,
      [messageId, text, JSON.stringify({ manifest })],
    );
  }
}

/** A chat's title from its first message: the first line, cut at a word-safe length. */
export function titleFrom(content: string): string | null {
  const firstLine = content.trim().split('\n')[0]!.trim();
  const chars = Array.from(firstLine);
  const title =
    chars.length > TITLE_LENGTH
      ? `${chars
          .slice(0, TITLE_LENGTH - 1)
          .join('')
          .trimEnd()}…`
      : firstLine;
  return title || null;
}
