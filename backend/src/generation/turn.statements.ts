import {
  balanceAfterRelease,
  releaseCtes,
  reservationLedgerCte,
  reserveCte,
  settleCtes,
} from '../billing/billing.sql.js';
import type { StatementFunction } from '../database/statement-function.js';
import { attachReplyCte } from '../idempotency/idempotency.sql.js';

// A turn's two hot statements, persist-before's append and persist-after's completion, kept in
// the database as functions (migration HotStatements): each was planned on every call, about a
// sixth of PostgreSQL's CPU for a JSON turn (bench/REPORT.md, "Session 9"). Billing's part of each
// is billing's SQL.

const APPENDED_REPLY = '(SELECT id FROM inserted WHERE id = $10)';

/**
 * In one statement: the reservation ($2 from user $1's balance when it covers it), the next seq
 * values and the active leaf of chat $3 (read and moved to the new reply $10 under the chat's row
 * lock), the $4 messages (their ids, roles, contents, statuses, replies-to and parents, $5 to $9
 * and $13; `$14`: the message follows the active leaf instead), the reservation's ledger entry,
 * the idempotency record $11's link to the reply, the chat's title $12 when it has none. Its
 * rows: `reserved` (1 when the balance covered it), the messages and their sibling counts. Tokens
 * reserved for a chat that is gone (deleted meanwhile) abort the whole statement (a division by
 * zero at run time), so the reservation never stands without its messages.
 */
export const TURN_APPEND: StatementFunction = {
  name: 'turn_append',
  params: [
    'uuid',
    'bigint',
    'uuid',
    'integer',
    'uuid[]',
    'varchar[]',
    'text[]',
    'varchar[]',
    'uuid[]',
    'uuid',
    'uuid',
    'text',
    'uuid[]',
    'boolean[]',
  ],
  ctes: `${reserveCte('$1', '$2')}, numbered AS (
    UPDATE chats c SET last_seq = c.last_seq + $4, updated_at = now(), title = COALESCE(c.title, $12),
      active_leaf_id = $10
    FROM (SELECT id, active_leaf_id FROM chats WHERE id = $3 FOR UPDATE) old
    WHERE c.id = old.id AND EXISTS (SELECT 1 FROM reserved)
    RETURNING c.last_seq, old.active_leaf_id AS previous_leaf
  ), inserted AS (
    INSERT INTO messages (id, chat_id, seq, role, content, status, reply_to_id, parent_id)
    SELECT d.id, $3, numbered.last_seq - $4 + d.n, d.role, d.content, d.status, d.reply_to_id,
           CASE WHEN d.after_leaf THEN numbered.previous_leaf ELSE d.parent_id END
    FROM numbered,
         unnest($5, $6, $7, $8, $9, $13, $14) WITH ORDINALITY AS d(id, role, content, status, reply_to_id, parent_id, after_leaf, n)
    RETURNING *
  ), ${reservationLedgerCte('$1', '$2', APPENDED_REPLY)}, ${attachReplyCte('$11', APPENDED_REPLY)}`,
  // The new message is the newest of its siblings: the ones already there (the statement does
  // not see its own inserts), plus itself.
  select: `SELECT (SELECT count(*) FROM reserved)::int AS reserved, inserted.*,
    (SELECT count(*) FROM messages s WHERE s.parent_id = inserted.parent_id)::int + 1 AS alt_count,
    CASE WHEN EXISTS (SELECT 1 FROM reserved) THEN 1 / (SELECT count(*)::int FROM numbered) END AS chat_kept
  FROM (VALUES (1)) AS one LEFT JOIN inserted ON true ORDER BY inserted.seq`,
};

// A running reply $1 marked complete with its text, provider, model, usage and attempts ($2 to
// $7), degraded or not ($8), its metadata ($9); no row when it is no longer running. A
// continuation ($12: its segment) adds its usage and attempts to the reply's and drops the
// snapshot it would have been restored from. The chat ($11) shows the activity.
const COMPLETED = `completed AS (
    UPDATE messages SET status = 'complete', content = $2, provider = $3, model = $4,
      prompt_tokens = CASE WHEN $12 > 0 THEN COALESCE(prompt_tokens, 0) + $5 ELSE $5 END,
      completion_tokens = CASE WHEN $12 > 0 THEN COALESCE(completion_tokens, 0) + $6 ELSE $6 END,
      attempts = CASE WHEN $12 > 0 THEN attempts + $7 ELSE $7 END, degraded = $8, error_code = NULL,
      metadata = (metadata - 'continuing') || $9
        || CASE WHEN $12 > 0 THEN jsonb_build_object('continuations', $12) ELSE '{}'::jsonb END,
      updated_at = now()
    WHERE id = $1 AND status IN ('pending', 'streaming')
    RETURNING *
  ), touched AS (
    UPDATE chats SET updated_at = now() WHERE id = $11 AND EXISTS (SELECT 1 FROM completed)
  )`;
const COMPLETED_PARAMS = [
  'uuid',
  'text',
  'varchar',
  'varchar',
  'integer',
  'integer',
  'integer',
  'boolean',
  'jsonb',
  'uuid',
  'uuid',
  'integer',
] as const;

/**
 * The reply complete (as above) and its segment's reservation settled for user $10: $13, the
 * reservation minus the actual cost, given back (once: the ledger's unique index). Its row: the
 * reply and the balance after.
 */
export const TURN_COMPLETE: StatementFunction = {
  name: 'turn_complete',
  params: [...COMPLETED_PARAMS, 'bigint'],
  ctes: `${COMPLETED}, ${settleCtes({ user: '$10', message: '$1', refund: '$13', when: 'EXISTS (SELECT 1 FROM completed)', segment: '$12' })}`,
  select: 'SELECT completed.*, charged.new_balance AS token_balance FROM completed, charged',
};

/** A degraded reply complete (as above), never charged: its reservation released. */
export const TURN_COMPLETE_DEGRADED: StatementFunction = {
  name: 'turn_complete_degraded',
  params: COMPLETED_PARAMS,
  ctes: `${COMPLETED}, ${releaseCtes('(SELECT id FROM completed)')}`,
  select: `SELECT completed.*, ${balanceAfterRelease('$10')} AS token_balance FROM completed`,
};

export const TURN_STATEMENTS: readonly StatementFunction[] = [TURN_APPEND, TURN_COMPLETE, TURN_COMPLETE_DEGRADED];
