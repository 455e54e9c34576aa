import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { MessageEntity } from '../chats/message.entity.js';
import { toMessageDto } from '../chats/chat.mapper.js';
import { entityFromRow, rowsOf } from '../database/sql.js';
import { callStatement } from '../database/statement-function.js';
import { EVENT_APPEND } from './event-store.statements.js';
import type { EventDraft, NumberedEvent, ReadyDraft } from './event-draft.js';
import { subjectOf } from './event-draft.js';

export interface Drafted {
  userId: string;
  draft: EventDraft;
}

/** How the numbering statement hands its events to the bus. */
export interface NoticeOptions {
  /** The largest notice the bus carries. */
  maxBytes: number;
  /** The channel the statement itself notifies (NOTIFY, delivered on its commit), or null. */
  channel: string | null;
}

/** Where the user's sequence stands: its last number, and the highest one pruned for age. */
export interface SequenceHead {
  head: number;
  horizon: number;
}

// Deltas of a finished reply are only kept this long (its final message.updated has the text).
const FINISHED_DELTAS_KEEP_SECONDS = 120;
const PRUNE_BATCH = 5000;

/**
 * The events table: numbering and storing events, and the reads a socket makes of what it
 * missed. Numbers come from `realtime_sequences` under the user's row lock, so for each user they
 * are gap-free and committed in order: when event n is visible, every event before it is too.
 */
@Injectable()
export class EventStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Numbers and stores the events (on `on`: a transaction's manager, or a held connection's); answers the notices. */
  async append(on: EntityManager, drafted: Drafted[], notices: NoticeOptions): Promise<string[]> {
    const kept = await this.completeReloads(on, drafted);
    if (kept.length === 0) return [];
    const subjects = kept.map(({ draft }) => subjectOf(draft));
    const balanceUsers = [
      ...new Set(kept.filter(({ draft }) => draft.type === 'balance.changed').map((d) => d.userId)),
    ];
    const rows = await callStatement<{ notice: string }>(on, EVENT_APPEND, [
      balanceUsers.sort(),
      kept.map((d) => d.userId),
      kept.map((d) => d.draft.type),
      subjects.map((s) => s.chatId),
      subjects.map((s) => s.messageId),
      kept.map((d) => JSON.stringify(d.draft)),
      Math.floor(notices.maxBytes / 2) - 2,
      notices.channel,
    ]);
    return rows.map((row) => row.notice);
  }

  /** A message to announce as stored (`reload`) read now; one deleted meanwhile has nothing left to announce. */
  private async completeReloads(
    on: EntityManager,
    drafted: Drafted[],
  ): Promise<Array<{ userId: string; draft: ReadyDraft }>> {
    const reloads = drafted.flatMap(({ draft }) => ('reload' in draft ? [draft.reload] : []));
    const rows =
      reloads.length === 0
        ? []
        : await rowsOf<Record<string, unknown>>(on, 'SELECT * FROM messages WHERE id = ANY($1::uuid[])', [reloads]);
    const messages = new Map(rows.map((row) => [String(row.id), toMessageDto(entityFromRow(on, MessageEntity, row))]));
    return drafted.flatMap(({ userId, draft }) => {
      if (!('reload' in draft)) return [{ userId, draft }];
      const message = messages.get(draft.reload);
      return message ? [{ userId, draft: { type: 'message.updated' as const, chatId: draft.chatId, message } }] : [];
    });
  }

  async head(userId: string): Promise<SequenceHead> {
    const [row] = await rowsOf<{ last_seq: string; horizon: string }>(
      this.dataSource,
      'SELECT last_seq, horizon FROM realtime_sequences WHERE user_id = $1',
      [userId],
    );
    return { head: Number(row?.last_seq ?? 0), horizon: Number(row?.horizon ?? 0) };
  }

  async heads(userIds: string[]): Promise<Map<string, number>> {
    const rows = await rowsOf<{ user_id: string; last_seq: string }>(
      this.dataSource,
      'SELECT user_id, last_seq FROM realtime_sequences WHERE user_id = ANY($1::uuid[])',
      [userIds],
    );
    return new Map(rows.map((row) => [row.user_id, Number(row.last_seq)]));
  }

  /** The user's events numbered after `after` up to `upTo`, oldest first, at most `limit`. */
  async range(userId: string, after: number, upTo: number, limit: number): Promise<NumberedEvent[]> {
    const rows = await rowsOf<{ payload: NumberedEvent }>(
      this.dataSource,
      `SELECT payload FROM realtime_events WHERE user_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4`,
      [userId, after, upTo, limit],
    );
    return rows.map((row) => row.payload);
  }

  /** The text so far and the tool calls of the chat's replies still being written: their events numbered up to `upTo`. */
  async runningReplyEvents(userId: string, chatId: string, upTo: number): Promise<NumberedEvent[]> {
    const rows = await rowsOf<{ payload: NumberedEvent }>(
      this.dataSource,
      `SELECT e.payload FROM realtime_events e
       JOIN messages m ON m.id = e.message_id AND m.status IN ('pending', 'streaming')
       WHERE e.user_id = $1 AND e.chat_id = $2 AND e.type IN ('reply.delta', 'reply.tool_call', 'reply.tool_result')
         AND e.seq <= $3
       ORDER BY e.seq`,
      [userId, chatId, upTo],
    );
    return rows.map((row) => row.payload);
  }

  /** Whether the chat is the user's (another user's chat is reported as missing, as over HTTP). */
  async ownedChats(userId: string, chatIds: string[]): Promise<Set<string>> {
    const rows = await rowsOf<{ id: string }>(
      this.dataSource,
      'SELECT id FROM chats WHERE user_id = $1 AND id = ANY($2::uuid[])',
      [userId, chatIds],
    );
    return new Set(rows.map((row) => row.id));
  }

  /**
   * Deletes, a batch at a time: events older than the retention (moving each user's horizon),
   * and the deltas of replies that have finished. Answers how many rows went.
   */
  async prune(retentionSeconds: number): Promise<number> {
    const [old] = await rowsOf<{ count: number }>(
      this.dataSource,
      `WITH doomed AS (
         SELECT user_id, seq FROM realtime_events
         WHERE created_at < now() - make_interval(secs => $1) LIMIT $2
       ), deleted AS (
         DELETE FROM realtime_events e USING doomed d WHERE e.user_id = d.user_id AND e.seq = d.seq
         RETURNING e.user_id, e.seq
       ), moved AS (
         UPDATE realtime_sequences s SET horizon = GREATEST(s.horizon, m.top)
         FROM (SELECT user_id, max(seq) AS top FROM deleted GROUP BY user_id) m
         WHERE s.user_id = m.user_id
       )
       SELECT count(*)::int AS count FROM deleted`,
      [retentionSeconds, PRUNE_BATCH],
    );
    const [finished] = await rowsOf<{ count: number }>(
      this.dataSource,
      `WITH doomed AS (
         SELECT e.user_id, e.seq FROM realtime_events e
         WHERE e.type IN ('reply.delta', 'reply.tool_call', 'reply.tool_result')
           AND e.created_at < now() - make_interval(secs => $1)
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.id = e.message_id AND m.status IN ('pending', 'streaming'))
         LIMIT $2
       ), deleted AS (
         DELETE FROM realtime_events e USING doomed d WHERE e.user_id = d.user_id AND e.seq = d.seq RETURNING 1
       )
       SELECT count(*)::int AS count FROM deleted`,
      [FINISHED_DELTAS_KEEP_SECONDS, PRUNE_BATCH],
    );
    return (old?.count ?? 0) + (finished?.count ?? 0);
  }
}
