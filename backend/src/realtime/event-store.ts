import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { MessageEntity } from '../chats/message.entity.js';
import { toMessageDto } from '../chats/chat.mapper.js';
import { entityFromRow, rowsOf } from '../database/sql.js';
import type { EventDraft, NumberedEvent } from './event-draft.js';
import { subjectOf } from './event-draft.js';

export interface Drafted {
  userId: string;
  draft: EventDraft;
}

export interface Numbered {
  userId: string;
  event: NumberedEvent;
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
 * The events table: numbering and storing events (in the caller's transaction), and the reads a
 * socket makes of what it missed. Numbers come from `realtime_sequences` under the user's row
 * lock, taken in user order (no deadlock between batches), so for each user they are gap-free
 * and committed in order: when event n is visible, every event before it is too.
 */
@Injectable()
export class EventStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async append(manager: EntityManager, drafted: Drafted[]): Promise<Numbered[]> {
    const reloads = drafted.flatMap(({ draft }) => ('reload' in draft ? [draft.reload] : []));
    const messages = new Map<string, MessageEntity>();
    if (reloads.length > 0) {
      const rows = await rowsOf<Record<string, unknown>>(manager, 'SELECT * FROM messages WHERE id = ANY($1::uuid[])', [
        reloads,
      ]);
      for (const row of rows) messages.set(String(row.id), entityFromRow(manager, MessageEntity, row));
    }
    // A message deleted meanwhile (with its chat) has nothing left to announce.
    const kept = drafted.filter(({ draft }) => !('reload' in draft) || messages.has(draft.reload));
    if (kept.length === 0) return [];
    const counts = new Map<string, number>();
    for (const { userId } of kept) counts.set(userId, (counts.get(userId) ?? 0) + 1);
    const users = [...counts.keys()].sort();
    const bumped = await rowsOf<{ user_id: string; last_seq: string }>(
      manager,
      `INSERT INTO realtime_sequences AS s (user_id, last_seq)
       SELECT * FROM unnest($1::uuid[], $2::bigint[])
       ON CONFLICT (user_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
       RETURNING user_id, last_seq`,
      [users, users.map((u) => counts.get(u)!)],
    );
    const next = new Map(bumped.map((row) => [row.user_id, Number(row.last_seq) - counts.get(row.user_id)! + 1]));
    // Read after the lock (a new snapshot): the balance announced last is the latest.
    const balances = new Map<string, number>();
    if (kept.some(({ draft }) => draft.type === 'balance.changed')) {
      const rows = await rowsOf<{ id: string; token_balance: string }>(
        manager,
        'SELECT id, token_balance FROM users WHERE id = ANY($1::uuid[])',
        [users],
      );
      for (const row of rows) balances.set(row.id, Number(row.token_balance));
    }
    const numbered = kept.map(({ userId, draft }): Numbered => {
      const seq = next.get(userId)!;
      next.set(userId, seq + 1);
      if (draft.type === 'balance.changed') {
        return { userId, event: { type: 'balance.changed', seq, tokenBalance: balances.get(userId) ?? 0 } };
      }
      if ('reload' in draft) {
        const message = toMessageDto(messages.get(draft.reload)!);
        return { userId, event: { type: 'message.updated', seq, chatId: draft.chatId, message } };
      }
      return { userId, event: { ...draft, seq } as NumberedEvent };
    });
    const subjects = numbered.map(({ event }) => subjectOf(event));
    await rowsOf(
      manager,
      `INSERT INTO realtime_events (user_id, seq, type, chat_id, message_id, payload)
       SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::varchar[], $4::uuid[], $5::uuid[], $6::jsonb[])`,
      [
        numbered.map((n) => n.userId),
        numbered.map((n) => n.event.seq),
        numbered.map((n) => n.event.type),
        subjects.map((s) => s.chatId),
        subjects.map((s) => s.messageId),
        numbered.map((n) => JSON.stringify(n.event)),
      ],
    );
    return numbered;
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

  /** The text so far of the chat's replies still being written: their deltas numbered up to `upTo`. */
  async runningReplyDeltas(userId: string, chatId: string, upTo: number): Promise<NumberedEvent[]> {
    const rows = await rowsOf<{ payload: NumberedEvent }>(
      this.dataSource,
      `SELECT e.payload FROM realtime_events e
       JOIN messages m ON m.id = e.message_id AND m.status IN ('pending', 'streaming')
       WHERE e.user_id = $1 AND e.chat_id = $2 AND e.type = 'reply.delta' AND e.seq <= $3
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
         WHERE e.type = 'reply.delta' AND e.created_at < now() - make_interval(secs => $1)
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
