import type { MigrationInterface, QueryRunner } from 'typeorm';
import { TURN_CONTEXT } from './1797600000000-TurnContext.js';

// The prompt's path up the tree (bench/REPORT.md, "Session 9"). A turn read it by walking up from
// its leaf a message at a time, two primary-key lookups per message: about 0.7 ms of a backend's
// CPU for the 80 messages of the default window, on every turn. A parent's seq is below its
// children's, so a message's ancestors lie below it in the chat's (chat_id, seq) index, and on a
// chat that is mostly a chain they are most of the rows there. So the path's seqs are found by
// that index, a window of rows at a time, following each row's parent within the window; a window
// starts again at the parent when the parent lies below it. Then the path's rows are read by
// their seqs in one scan of the same index, so rows of other branches between them are not read
// twice. What the windows may read is bounded (a few times the path's length); past that, where
// other branches crowd the path's seqs, the rest is walked by primary key as before. Either way
// the answer is the walk's: the messages up from `p_from`, newest first, at most `p_limit` of them.
//
// Rows the windows may read in all, per message of the path asked for.
const WINDOW_BUDGET = 4;
export const MESSAGE_PATH = `
CREATE FUNCTION message_path(p_chat uuid, p_from uuid, p_limit integer)
RETURNS TABLE (id uuid, seq integer, role varchar, content text, status varchar, metadata jsonb)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_start uuid := p_from;
  v_need integer := greatest(p_limit, 0);
  v_budget integer := ${WINDOW_BUDGET} * greatest(p_limit, 0);
  v_seq integer;
  v_ids uuid[]; v_parents uuid[]; v_seqs integer[];
  v_path integer[] := '{}';
  i integer; j integer;
BEGIN
  WHILE v_need > 0 AND v_budget > 0 LOOP
    SELECT s.seq INTO v_seq FROM messages s WHERE s.id = v_start AND s.chat_id = p_chat;
    IF NOT FOUND THEN
      v_need := 0;
      EXIT;
    END IF;
    SELECT array_agg(w.id ORDER BY w.seq DESC), array_agg(w.parent_id ORDER BY w.seq DESC),
           array_agg(w.seq ORDER BY w.seq DESC)
      INTO v_ids, v_parents, v_seqs
      FROM (SELECT m.id, m.parent_id, m.seq FROM messages m WHERE m.chat_id = p_chat AND m.seq <= v_seq
             ORDER BY m.seq DESC LIMIT least(2 * v_need, v_budget)) w;
    v_budget := v_budget - cardinality(v_ids);
    -- The window's first row is v_start; follow the parents down the window.
    i := 1;
    LOOP
      v_path := v_path || v_seqs[i];
      v_need := v_need - 1;
      v_start := v_parents[i];
      EXIT WHEN v_need = 0 OR v_start IS NULL;
      j := array_position(v_ids, v_start, i + 1);
      EXIT WHEN j IS NULL;
      i := j;
    END LOOP;
    IF v_start IS NULL THEN
      v_need := 0;
    END IF;
  END LOOP;
  RETURN QUERY SELECT m.id, m.seq, m.role, m.content, m.status, m.metadata FROM messages m
    WHERE m.chat_id = p_chat AND m.seq = ANY (v_path)
    ORDER BY m.seq DESC;
  IF v_need > 0 THEN
    RETURN QUERY
    WITH RECURSIVE walk AS (
      SELECT m.id, m.parent_id, 1 AS depth FROM messages m WHERE m.id = v_start AND m.chat_id = p_chat
      UNION ALL
      SELECT m.id, m.parent_id, walk.depth + 1 FROM messages m JOIN walk ON m.id = walk.parent_id
       WHERE walk.depth < v_need
    )
    SELECT m.id, m.seq, m.role, m.content, m.status, m.metadata
      FROM walk JOIN messages m ON m.id = walk.id
     ORDER BY walk.depth;
  END IF;
END
$fn$`;

// turn_context (migration TurnContext) as it was, with its walk up the tree replaced by a call
// of message_path.
const WALK_FROM = '  RETURN QUERY\n  WITH RECURSIVE path AS (';
const WALK_TO = 'END\n$fn$';
if (!TURN_CONTEXT.includes(WALK_FROM) || !TURN_CONTEXT.includes(WALK_TO)) {
  throw new Error('turn_context (migration TurnContext) no longer has the walk this migration replaces');
}
const TURN_CONTEXT_BY_PATH = `${TURN_CONTEXT.slice(0, TURN_CONTEXT.indexOf(WALK_FROM)).replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION')}  RETURN QUERY
  SELECT NULL::boolean, NULL::jsonb, NULL::jsonb, NULL::jsonb, p.id, p.seq, p.role, p.content, p.status, p.metadata
    FROM message_path(p_chat, v_leaf, p_path) p
   ORDER BY p.seq DESC;
${TURN_CONTEXT.slice(TURN_CONTEXT.indexOf(WALK_TO))}`;

export class MessagePath1797900000000 implements MigrationInterface {
  name = 'MessagePath1797900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(MESSAGE_PATH);
    await queryRunner.query(TURN_CONTEXT_BY_PATH);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(TURN_CONTEXT.replace('CREATE FUNCTION', 'CREATE OR REPLACE FUNCTION'));
    await queryRunner.query('DROP FUNCTION message_path(uuid, uuid, integer)');
  }
}
