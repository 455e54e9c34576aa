import type { MigrationInterface, QueryRunner } from 'typeorm';

// The history page (specs/009-conversation-tree, bench/REPORT.md "History"). The active path is
// read by walking up the tree from its start, a message at a time, and each message's siblings
// are counted for its ‹ n/m ›: about twice the PostgreSQL time of reading the same 51 rows by
// the (chat_id, seq) index. Most of a chat is linear, and where it is, the walk and the index
// read agree: the page is read by the index first and taken when it is the walk's answer, that
// is when each row's parent is the row below it (a parent's seq is below its children's, so the
// newest rows at or under the start that form such a chain are exactly the start's nearest
// ancestors). On such a chain a message's siblings other than itself are all newer than the
// page's start (an older one would lie inside the page's range and break the chain), save the
// page's oldest row, whose parent is outside the page. When few messages are newer than the start
// (the newest page, the one a chat opens on), the counts come from those in one pass, and the
// oldest row is counted as before; deeper in a long chat each row is counted as before. Anything
// else is walked as before (message_page_walk, the earlier message_page).
//
// At most this many messages newer than the page's start are read to count the page's siblings.
const FEW_NEWER = 128;
const MESSAGE_PAGE = `
CREATE FUNCTION message_page(p_user uuid, p_version integer, p_chat uuid, p_before integer, p_limit integer)
RETURNS TABLE (
  current boolean, owned boolean,
  id uuid, seq integer, role varchar, content text, status varchar, error_code varchar,
  reply_to_id uuid, parent_id uuid, provider varchar, model varchar,
  prompt_tokens integer, completion_tokens integer, attempts integer, degraded boolean,
  finish_reason text, created_ms double precision, updated_ms double precision,
  alt_index integer, alt_count integer, has_tool_calls boolean
)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_current boolean; v_chat uuid; v_leaf uuid; v_start uuid; v_start_seq integer;
  v_last_seq integer; v_ids uuid[]; v_parents uuid[]; v_low integer; v_rows integer; v_few_newer boolean;
BEGIN
  SELECT u.token_version = p_version, c.id, c.active_leaf_id, c.last_seq INTO v_current, v_chat, v_leaf, v_last_seq
    FROM users u LEFT JOIN chats c ON c.id = p_chat AND c.user_id = u.id WHERE u.id = p_user;
  IF NOT FOUND THEN RETURN; END IF;
  IF NOT v_current OR v_chat IS NULL THEN
    RETURN QUERY SELECT v_current, v_chat IS NOT NULL, NULL::uuid, NULL::integer, NULL::varchar, NULL::text,
      NULL::varchar, NULL::varchar, NULL::uuid, NULL::uuid, NULL::varchar, NULL::varchar, NULL::integer,
      NULL::integer, NULL::integer, NULL::boolean, NULL::text, NULL::double precision, NULL::double precision,
      NULL::integer, NULL::integer, NULL::boolean;
    RETURN;
  END IF;
  SELECT a.parent_id INTO v_start FROM messages a WHERE a.chat_id = v_chat AND a.seq = p_before;
  IF NOT FOUND THEN v_start := v_leaf; END IF;
  SELECT s.seq INTO v_start_seq FROM messages s WHERE s.id = v_start;
  IF v_start_seq < p_before THEN
    SELECT array_agg(x.id ORDER BY x.seq DESC), array_agg(x.parent_id ORDER BY x.seq DESC), min(x.seq)
      INTO v_ids, v_parents, v_low
      FROM (SELECT m.id, m.parent_id, m.seq FROM messages m WHERE m.chat_id = v_chat AND m.seq <= v_start_seq
             ORDER BY m.seq DESC LIMIT p_limit + 1) x;
    v_rows := cardinality(v_ids);
    IF v_ids[2:v_rows] = v_parents[1:v_rows - 1] THEN
      v_few_newer := v_last_seq - v_start_seq <= ${FEW_NEWER};
      RETURN QUERY
      WITH newer AS (
        SELECT s.parent_id, count(*)::int AS siblings FROM messages s
         WHERE v_few_newer AND s.chat_id = v_chat AND s.seq > v_start_seq GROUP BY s.parent_id
      )
      SELECT true, true, m.id, m.seq, m.role, m.content, m.status, m.error_code, m.reply_to_id, m.parent_id,
             m.provider, m.model, m.prompt_tokens, m.completion_tokens, m.attempts, m.degraded,
             m.metadata->>'finishReason',
             date_part('epoch', m.created_at) * 1000, date_part('epoch', m.updated_at) * 1000,
             CASE WHEN m.seq = v_low OR NOT v_few_newer THEN counted.alt_index ELSE 1 END,
             CASE WHEN m.seq = v_low OR NOT v_few_newer THEN counted.alt_count ELSE 1 + coalesce(newer.siblings, 0) END,
             m.role = 'assistant' AND EXISTS (SELECT 1 FROM tool_calls t WHERE t.message_id = m.id)
        FROM messages m
        LEFT JOIN newer ON newer.parent_id = m.parent_id
        CROSS JOIN LATERAL (
          SELECT (count(*) FILTER (WHERE s.seq <= m.seq))::int AS alt_index, count(*)::int AS alt_count
            FROM messages s WHERE (m.seq = v_low OR NOT v_few_newer) AND s.parent_id = m.parent_id
        ) counted
       WHERE m.chat_id = v_chat AND m.seq BETWEEN v_low AND v_start_seq
       ORDER BY m.seq DESC;
      RETURN;
    END IF;
  END IF;
  RETURN QUERY SELECT * FROM message_page_walk(p_user, p_version, p_chat, p_before, p_limit);
END
$fn$`;

const SIGNATURE = '(uuid, integer, uuid, integer, integer)';

export class MessagePageChain1797800000000 implements MigrationInterface {
  name = 'MessagePageChain1797800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER FUNCTION message_page${SIGNATURE} RENAME TO message_page_walk`);
    await queryRunner.query(MESSAGE_PAGE);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP FUNCTION message_page${SIGNATURE}`);
    await queryRunner.query(`ALTER FUNCTION message_page_walk${SIGNATURE} RENAME TO message_page`);
  }
}
