import type { StatementFunction } from '../database/statement-function.js';

/**
 * The events' numbering statement, kept in the database as a function (migration HotStatements).
 * Numbers, stores and packs events in one statement (one round trip, atomic without a
 * transaction, or part of the caller's). Locks, in this order: the balances announced (read
 * under the lock, so the balance numbered last is the latest), then the users' sequences in user
 * order; no other statement locks a sequence and then a user. Notices are JSON arrays of
 * `[userId, seq, event]` entries, packed in event order into groups of at most half the bus's
 * limit; an entry larger than that carries `0` for the event, which listeners read from the store.
 */
export const EVENT_APPEND: StatementFunction = {
  name: 'realtime_append',
  params: ['uuid[]', 'uuid[]', 'varchar[]', 'uuid[]', 'uuid[]', 'jsonb[]', 'integer', 'text'],
  ctes: `balances AS (
    SELECT id, token_balance FROM users WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE
  ), drafts AS (
    SELECT * FROM unnest($2::uuid[], $3::varchar[], $4::uuid[], $5::uuid[], $6::jsonb[])
      WITH ORDINALITY AS d(user_id, type, chat_id, message_id, payload, i)
  ), counts AS (
    SELECT user_id, count(*) AS n FROM drafts GROUP BY user_id
  ), bumped AS (
    INSERT INTO realtime_sequences AS s (user_id, last_seq)
    SELECT c.user_id, c.n FROM counts c, (SELECT count(*) FROM balances) AS locked ORDER BY c.user_id
    ON CONFLICT (user_id) DO UPDATE SET last_seq = s.last_seq + EXCLUDED.last_seq
    RETURNING user_id, last_seq
  ), numbered AS (
    SELECT d.i, d.user_id, d.type, d.chat_id, d.message_id,
      b.last_seq - c.n + row_number() OVER (PARTITION BY d.user_id ORDER BY d.i) AS seq,
      d.payload || CASE WHEN d.type = 'balance.changed'
        THEN jsonb_build_object('tokenBalance', COALESCE(bal.token_balance, 0)) ELSE '{}'::jsonb END AS payload
    FROM drafts d JOIN bumped b USING (user_id) JOIN counts c USING (user_id)
    LEFT JOIN balances bal ON bal.id = d.user_id
  ), events AS (
    SELECT i, user_id, type, chat_id, message_id, seq, payload || jsonb_build_object('seq', seq) AS event
    FROM numbered
  ), inserted AS (
    INSERT INTO realtime_events (user_id, seq, type, chat_id, message_id, payload)
    SELECT user_id, seq, type, chat_id, message_id, event FROM events
  ), entries AS (
    SELECT i, CASE WHEN octet_length(whole) <= $7 THEN whole ELSE jsonb_build_array(user_id, seq, 0)::text END AS entry
    FROM (SELECT i, user_id, seq, jsonb_build_array(user_id, seq, event)::text AS whole FROM events) e
  ), notices AS (
    SELECT bucket, '[' || string_agg(entry, ',' ORDER BY i) || ']' AS notice
    FROM (SELECT i, entry, (sum(octet_length(entry) + 1) OVER (ORDER BY i) - 1) / $7 AS bucket FROM entries) b
    GROUP BY bucket
  )`,
  select: `SELECT notice, CASE WHEN $8::text IS NULL THEN NULL ELSE pg_notify($8, notice) END AS notified
  FROM (SELECT bucket, notice FROM notices ORDER BY bucket) ordered`,
};
