import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { randomUUID } from 'node:crypto';
import { DataSource, type EntityManager } from 'typeorm';
import type { Alternatives, ErrorCode, ManifestAttempt } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import { hasSqlState } from '../errors/database-errors.js';
import { lockIdleChat } from '../chats/chat-lock.js';
import { ChatEntity } from '../chats/chat.entity.js';
import { MessageEntity } from '../chats/message.entity.js';
import { alternativesOf } from '../chats/messages.repository.js';
import { CharacterEntity } from '../characters/character.entity.js';
import { PersonaEntity } from '../personas/persona.entity.js';
import type { Session } from '../auth/current-user.decorator.js';
import { entityFromJson, entityFromRow, poolOf, rowsOf } from '../database/sql.js';
import { releaseCtes, reservationLedgerCte, reserveCte } from '../billing/billing.sql.js';
import { attachReplyCte } from '../idempotency/idempotency.sql.js';
import { callStatement } from '../database/statement-function.js';
import { TURN_APPEND, TURN_COMPLETE, TURN_COMPLETE_DEGRADED } from './turn.statements.js';
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
  /** The message this one follows; `leaf`: the chat's active leaf, read under its row lock. */
  parent: string | 'leaf';
}

/** What must still hold under the chat's row lock for an action on the tree to go ahead. */
export interface TreeGuard {
  /** The active leaf the action was checked against. */
  leaf: string;
  /** The conflict when the leaf moved meanwhile. */
  conflict: ErrorCode;
}

/** A message a turn stored, with its place among its siblings (‹ n/m ›). */
export interface Appended {
  message: MessageEntity;
  alternatives: Alternatives;
}

/** A turn's two messages as stored, with their alternatives. */
export interface TurnMessages {
  user: MessageEntity;
  assistant: MessageEntity;
  alternatives: { user: Alternatives; assistant: Alternatives };
}

function turnMessages(user: Appended, assistant: Appended): TurnMessages {
  return {
    user: user.message,
    assistant: assistant.message,
    alternatives: { user: user.alternatives, assistant: assistant.alternatives },
  };
}

/** One message of a walk up the tree (the prompt's candidates). */
export interface PathRow {
  id: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  status: string;
  /** The path's root's only (where the greeting's flag is); null on every other message (migration PathRootMetadata). */
  metadata: Record<string, unknown> | null;
}

/** A row of `turn_context` (migration TurnContext): the context first, then the path's messages. */
interface ContextRow extends PathRow {
  current: boolean | null;
  chat_row: Record<string, unknown> | null;
  character_row: Record<string, unknown> | null;
  persona_row: Record<string, unknown> | null;
}

/** What a turn starts from: the caller's chat, its character (and persona), and the path up from its leaf. */
export interface TurnContext {
  chat: ChatEntity;
  character: CharacterEntity;
  /** The messages up from the active leaf, newest first (empty when none were asked for). */
  path: PathRow[];
}

const TITLE_LENGTH = 60;
// The SQLSTATE the append statement's guard raises when its chat is gone.
const DIVISION_BY_ZERO = '22012';

/**
 * The SET list that ends a running reply: as `end` says, or, for a continuation (the reply's
 * `metadata.continuing` snapshot), back exactly as it was before it (text, status, code, usage,
 * attempts; its finish reason was never changed). `metadata` is what the reply's metadata
 * becomes when it really ends.
 */
export function endOrRestore(end: {
  status: string;
  errorCode: string;
  content: string;
  metadata: string;
  attempts?: string;
}): string {
  const was = `metadata->'continuing'`;
  const restoring = `metadata ? 'continuing'`;
  const either = (restored: string, ended: string) => `CASE WHEN ${restoring} THEN ${restored} ELSE ${ended} END`;
  return `status = ${either(`${was}->>'status'`, end.status)},
    error_code = ${either(`${was}->>'errorCode'`, end.errorCode)},
    content = ${either(`${was}->>'content'`, end.content)},
    prompt_tokens = ${either(`(${was}->>'promptTokens')::int`, 'prompt_tokens')},
    completion_tokens = ${either(`(${was}->>'completionTokens')::int`, 'completion_tokens')},
    attempts = ${either(`(${was}->>'attempts')::int`, end.attempts ?? 'attempts')},
    metadata = ${either(`metadata - 'continuing'`, end.metadata)},
    updated_at = now()`;
}

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
  ): Promise<TurnMessages> {
    const userMessageId = randomUUID();
    const [user, assistant] = await this.reserveAndAppend(
      userId,
      chat.id,
      reserve,
      idempotencyRecordId,
      [
        { id: userMessageId, role: 'user', content, status: 'complete', replyToId: null, parent: 'leaf' },
        {
          id: randomUUID(),
          role: 'assistant',
          content: '',
          status: 'pending',
          replyToId: userMessageId,
          parent: userMessageId,
        },
      ],
      chat.title === null ? titleFrom(content) : null,
    );
    return turnMessages(user!, assistant!);
  }

  /**
   * A new pending reply to an existing user message (regenerate: a sibling of the replaced
   * reply), its tokens reserved, as long as the active leaf is still the one checked; with the
   * user message's place among its siblings (unchanged by the turn, read under the same locks).
   */
  async persistRegenerate(
    userId: string,
    chatId: string,
    userMessageId: string,
    reserve: number,
    idempotencyRecordId: string | null,
    guard: TreeGuard,
  ): Promise<{ assistant: MessageEntity; alternatives: TurnMessages['alternatives'] }> {
    const [assistant] = await this.reserveAndAppend(
      userId,
      chatId,
      reserve,
      idempotencyRecordId,
      [
        {
          id: randomUUID(),
          role: 'assistant',
          content: '',
          status: 'pending',
          replyToId: userMessageId,
          parent: userMessageId,
        },
      ],
      null,
      guard,
      [userMessageId],
    );
    return {
      assistant: assistant!.message,
      alternatives: { user: assistant!.known.get(userMessageId)!, assistant: assistant!.alternatives },
    };
  }

  /**
   * Edit: a new user message beside the edited one (same parent) and a pending reply to it, as
   * long as the active leaf is still the one checked.
   */
  async persistEdit(
    userId: string,
    chatId: string,
    edited: MessageEntity,
    content: string,
    reserve: number,
    idempotencyRecordId: string | null,
    guard: TreeGuard,
  ): Promise<TurnMessages> {
    if (edited.parentId === null) throw new AppError('message_not_editable');
    const userMessageId = randomUUID();
    const [user, assistant] = await this.reserveAndAppend(
      userId,
      chatId,
      reserve,
      idempotencyRecordId,
      [
        { id: userMessageId, role: 'user', content, status: 'complete', replyToId: null, parent: edited.parentId },
        {
          id: randomUUID(),
          role: 'assistant',
          content: '',
          status: 'pending',
          replyToId: userMessageId,
          parent: userMessageId,
        },
      ],
      null,
      guard,
    );
    return turnMessages(user!, assistant!);
  }

  /**
   * Continue: the reply goes back to `streaming` with a snapshot of itself (what a failed, stopped
   * or interrupted continuation restores), the segment's tokens reserved, the idempotency key
   * linked to it, as long as it is still the active leaf and nothing in the chat is running.
   */
  async persistContinue(
    userId: string,
    chatId: string,
    reply: MessageEntity,
    reserve: number,
    idempotencyRecordId: string | null,
  ): Promise<{ assistant: MessageEntity; segment: number; alternatives: Map<string, Alternatives> }> {
    return this.dataSource.transaction(async (manager) => {
      await this.lockForTree(manager, userId, chatId, { leaf: reply.id, conflict: 'message_not_continuable' });
      // A new number for every attempt to continue (a failed one keeps its ledger rows).
      const [{ segment }] = (await rowsOf<{ segment: number }>(
        manager,
        'SELECT COALESCE(max(segment), 0)::int + 1 AS segment FROM token_ledger WHERE message_id = $1',
        [reply.id],
      )) as [{ segment: number }];
      const started = '(SELECT id FROM started)';
      const [row] = await rowsOf<Record<string, unknown> & { reserved: number }>(
        manager,
        `WITH ${reserveCte('$1', '$2')}, started AS (
           UPDATE messages SET status = 'streaming', updated_at = now(),
             metadata = metadata || jsonb_build_object('continuing', jsonb_build_object(
               'status', status, 'errorCode', error_code, 'content', content, 'promptTokens', prompt_tokens,
               'completionTokens', completion_tokens, 'attempts', attempts, 'segment', $4::int))
           WHERE id = $3 AND status IN ('complete', 'cancelled') AND EXISTS (SELECT 1 FROM reserved)
           RETURNING *
         ), ${reservationLedgerCte('$1', '$2', started, '$4::int')}, ${attachReplyCte('$5::uuid', started)}
         SELECT (SELECT count(*) FROM reserved)::int AS reserved, started.*
         FROM (VALUES (1)) AS one LEFT JOIN started ON true`,
        [userId, reserve, reply.id, segment, idempotencyRecordId],
      );
      if (row?.reserved !== 1) throw new AppError('insufficient_tokens');
      if (row.id === null) throw new AppError('message_not_continuable');
      const alternatives = await alternativesOf(manager, [reply.id, ...(reply.replyToId ? [reply.replyToId] : [])]);
      return { assistant: entityFromRow(manager, MessageEntity, row), segment, alternatives };
    });
  }

  /**
   * In one statement: the reservation (conditional on the balance, under the user's row lock, so
   * concurrent sends queue and the balance never goes below zero), the next seq values and the
   * active leaf (read and moved to the new reply under the chat's row lock: seq unique and
   * gap-free, and concurrent sends form one chain), the messages, the reservation's ledger entry
   * and the idempotency key's link on the last one (the reply). A chat deleted meanwhile stores
   * nothing.
   *
   * With a guard (actions other than send), the statement runs in a transaction that first takes
   * the user's and the chat's row locks (in the order the statement takes them) and checks, under
   * them, that no reply is running and that the active leaf is still the one the action was
   * checked against; a conflict leaves everything as it was.
   */
  private async reserveAndAppend(
    userId: string,
    chatId: string,
    reserve: number,
    idempotencyRecordId: string | null,
    drafts: Draft[],
    title: string | null,
    guard?: TreeGuard,
    // Existing messages whose alternatives the caller wants too (read under the same locks).
    also: string[] = [],
  ): Promise<Array<Appended & { known: Map<string, Alternatives> }>> {
    if (!guard) {
      const appended = await this.appendStatement(
        this.dataSource.manager,
        userId,
        chatId,
        reserve,
        idempotencyRecordId,
        drafts,
        title,
      );
      return appended.map((a) => ({ ...a, known: new Map() }));
    }
    return this.dataSource.transaction(async (manager) => {
      await this.lockForTree(manager, userId, chatId, guard);
      const appended = await this.appendStatement(manager, userId, chatId, reserve, idempotencyRecordId, drafts, title);
      const known = also.length > 0 ? await alternativesOf(manager, also) : new Map<string, Alternatives>();
      return appended.map((a) => ({ ...a, known }));
    });
  }

  /**
   * Under the user's and the chat's row locks (taken in that order, as every turn statement
   * takes them): the chat exists, no reply of it is running, its active leaf is the one checked.
   */
  async lockForTree(manager: EntityManager, userId: string, chatId: string, guard?: TreeGuard): Promise<void> {
    await rowsOf(manager, 'SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [userId]);
    const leaf = await lockIdleChat(manager, userId, chatId);
    if (guard && leaf !== guard.leaf) throw new AppError(guard.conflict);
  }

  private async appendStatement(
    manager: EntityManager,
    userId: string,
    chatId: string,
    reserve: number,
    idempotencyRecordId: string | null,
    drafts: Draft[],
    title: string | null,
  ): Promise<Appended[]> {
    const rows = await callStatement<Record<string, unknown> & { reserved: number; alt_count: number }>(
      manager,
      TURN_APPEND,
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
        drafts.map((d) => (d.parent === 'leaf' ? null : d.parent)),
        drafts.map((d) => d.parent === 'leaf'),
      ],
    ).catch((error: unknown) => {
      if (hasSqlState(error, DIVISION_BY_ZERO)) throw new AppError('chat_not_found');
      throw error;
    });
    if (rows[0]?.reserved !== 1) throw new AppError('insufficient_tokens');
    // The chat was deleted between loading it and this statement.
    if (rows.length !== drafts.length || rows.some((row) => row.id === null)) throw new AppError('chat_not_found');
    // The function's rows come from its final SELECT over the ordered CTE (statement-function.ts),
    // which SQL does not promise to keep in order: ordered here, by seq, as the drafts were given.
    return rows
      .sort((a, b) => Number(a.seq) - Number(b.seq))
      .map((row) => ({
        message: entityFromJson(this.dataSource, MessageEntity, row),
        alternatives: { index: row.alt_count, count: row.alt_count },
      }));
  }

  /**
   * One call of `turn_context` (migration TurnContext): the token's version checked against the
   * account's (401 when it is stale or the account is gone), the chat (404 when it is not the
   * caller's) with its character and persona, and the path up from its active leaf, at most
   * `pathLength` messages (0: none; an action that answers another message walks from there).
   */
  async context(session: Session, chatId: string, pathLength: number): Promise<TurnContext> {
    const { rows } = await poolOf(this.dataSource).query<ContextRow>('SELECT * FROM turn_context($1, $2, $3, $4)', [
      session.userId,
      session.tokenVersion,
      chatId,
      pathLength,
    ]);
    const [head, ...path] = rows;
    if (!head?.current) throw new AppError('unauthenticated');
    if (!head.chat_row || !head.character_row) throw new AppError('chat_not_found');
    const chat = entityFromJson(this.dataSource, ChatEntity, head.chat_row);
    const character = entityFromJson(this.dataSource, CharacterEntity, head.character_row);
    chat.character = character;
    chat.persona = head.persona_row ? entityFromJson(this.dataSource, PersonaEntity, head.persona_row) : null;
    return { chat, character, path };
  }

  /** The active leaf of a chat (null only for a chat without messages). */
  async activeLeaf(chatId: string): Promise<string | null> {
    const [row] = await rowsOf<{ leaf: string | null }>(
      this.dataSource,
      'SELECT active_leaf_id AS leaf FROM chats WHERE id = $1',
      [chatId],
    );
    return row?.leaf ?? null;
  }

  /**
   * The prompt for a reply: the path up the tree from `from` (inclusive; the new reply's parent),
   * root last, bounded at twice the window (so the manifest can also name what the window left
   * out); of it the newest `window` usable messages: user messages, complete replies, and
   * stopped replies with text (the person saw them and went on). Failed and running replies are
   * left out; the greeting goes into the system instruction. Other branches are never read.
   */
  async promptPlan(
    chatId: string,
    options: { from: string | null; window: number; next?: string },
    persona: { text: string; greeting: string; version: string },
  ): Promise<PromptPlan> {
    const candidates = options.from === null ? [] : await this.pathUp(chatId, options.from, options.window * 2);
    return promptPlanOf(candidates, options, persona);
  }

  /**
   * Whether a message is on the path from `leaf` up to the root. Seq ascends along a path, so the
   * walk stops below the message's seq.
   */
  async onPath(chatId: string, leaf: string, message: { id: string; seq: number }): Promise<boolean> {
    const [row] = await rowsOf<{ found: boolean }>(
      this.dataSource,
      `WITH RECURSIVE path AS (
         SELECT id, parent_id, seq FROM messages WHERE id = $1 AND chat_id = $2
         UNION ALL
         SELECT m.id, m.parent_id, m.seq FROM messages m JOIN path ON m.id = path.parent_id
         WHERE path.seq > $4
       )
       SELECT EXISTS (SELECT 1 FROM path WHERE id = $3) AS found`,
      [leaf, chatId, message.id, message.seq],
    );
    return row?.found === true;
  }

  /** The path from a message up to the root (newest first), at most `limit` messages (migration MessagePath). */
  private pathUp(chatId: string, from: string, limit: number): Promise<PathRow[]> {
    return rowsOf<PathRow>(this.dataSource, 'SELECT * FROM message_path($1, $2, $3)', [chatId, from, limit]);
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
    segment = 0,
  ): Promise<{ message: MessageEntity; tokenBalance: number }> {
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
    params.push(segment);
    if (!reply.degraded) params.push(reserve - (reply.promptTokens + reply.completionTokens));
    const [row] = await callStatement<Record<string, unknown> & { token_balance: number }>(
      this.dataSource,
      reply.degraded ? TURN_COMPLETE_DEGRADED : TURN_COMPLETE,
      params,
    );
    if (!row) {
      // No longer running: stopped, or gone with its chat (deleted meanwhile), which is a 404.
      const exists = await this.dataSource.getRepository(MessageEntity).existsBy({ id: messageId });
      throw new AppError(exists ? 'turn_cancelled' : 'chat_not_found');
    }
    return { message: entityFromJson(this.dataSource, MessageEntity, row), tokenBalance: Number(row.token_balance) };
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
         UPDATE messages SET ${endOrRestore({ status: `'failed'`, errorCode: '$2', content: `''`, metadata: 'metadata || $4::jsonb', attempts: '$3' })}
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
         UPDATE messages SET ${endOrRestore({ status: `'cancelled'`, errorCode: `'turn_cancelled'`, content: 'COALESCE($2, content)', metadata: 'metadata' })}
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

/**
 * The prompt from the path up from the new reply's parent (newest first, twice the window long):
 * the newest `window` usable messages, oldest first, and the rest named as left out.
 */
export function promptPlanOf(
  candidates: PathRow[],
  options: { window: number; next?: string },
  persona: { text: string; greeting: string; version: string },
): PromptPlan {
  const usable = candidates.filter((m) => {
    if (m.metadata?.greeting === true) return false;
    if (m.role === 'user') return true;
    return m.status === 'complete' || (m.status === 'cancelled' && m.content.length > 0);
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
