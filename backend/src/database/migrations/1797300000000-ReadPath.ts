import type { MigrationInterface, QueryRunner } from 'typeorm';

// The read path (bench/read-path.mjs, bench/search.mjs).
//
// A history page as one server-side call (specs/009-conversation-tree, "Reading a page"): the
// token's version and the chat's owner are checked in the same statement as the page is read,
// and the function's plans are kept by the session (a plain statement is planned on every call,
// which cost about as much as running it). Columns are what the contract's Message needs, no
// more: times as epoch milliseconds, the finish reason out of the metadata.
//
// Each reply says whether it called tools (\`has_tool_calls\`), so a page whose replies called
// none needs no second statement.
//
// Every row says whether the token's version is still the account's (`current`) and whether the
// chat is the account's (`owned`); an account that no longer exists gives no row at all, and an
// empty page one row with no message. The walk is the one ChatsService ran before: up from the
// active leaf, or from the parent of the message `p_before` names, counting only messages before
// it, `p_limit + 1` of them (one more says there are more).
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
BEGIN
  RETURN QUERY
  WITH RECURSIVE owner AS (
    SELECT u.token_version = p_version AS current, c.id AS chat_id, c.active_leaf_id
      FROM users u LEFT JOIN chats c ON c.id = p_chat AND c.user_id = u.id
     WHERE u.id = p_user
  ), start AS (
    SELECT CASE WHEN anchor.found THEN anchor.parent_id ELSE o.active_leaf_id END AS id
      FROM owner o
      LEFT JOIN LATERAL (
        SELECT true AS found, a.parent_id FROM messages a WHERE a.chat_id = o.chat_id AND a.seq = p_before
      ) anchor ON true
     WHERE o.current AND o.chat_id IS NOT NULL
  ), path AS (
    SELECT m.id, m.parent_id, (m.seq < p_before)::int AS n FROM messages m JOIN start ON m.id = start.id
    UNION ALL
    SELECT m.id, m.parent_id, path.n + (m.seq < p_before)::int
      FROM messages m JOIN path ON m.id = path.parent_id
     WHERE path.n <= p_limit
  )
  SELECT o.current, o.chat_id IS NOT NULL, page.*
    FROM owner o
    LEFT JOIN LATERAL (
      SELECT m.id, m.seq, m.role, m.content, m.status, m.error_code, m.reply_to_id, m.parent_id,
             m.provider, m.model, m.prompt_tokens, m.completion_tokens, m.attempts, m.degraded,
             m.metadata->>'finishReason',
             date_part('epoch', m.created_at) * 1000, date_part('epoch', m.updated_at) * 1000,
             alt.alt_index, alt.alt_count,
             m.role = 'assistant' AND EXISTS (SELECT 1 FROM tool_calls t WHERE t.message_id = m.id)
        FROM path JOIN messages m ON m.id = path.id
        CROSS JOIN LATERAL (
          SELECT (count(*) FILTER (WHERE s.seq <= m.seq))::int AS alt_index, count(*)::int AS alt_count
            FROM messages s WHERE s.parent_id = m.parent_id
        ) alt
       WHERE m.seq < p_before
       ORDER BY m.seq DESC
       LIMIT p_limit + 1
    ) page ON true;
END
$fn$`;

// Search (specs/015-app-frame): pg_trgm takes trigrams word by word, so a phrase of two common
// words ("distress frequency") had as candidates every message holding both words anywhere, each
// rechecked. Indexed with its spaces read as a letter, a text is one run of words, and the
// trigrams across a space ("s q f") keep the words' order: the candidates are close to the
// matches. The expression only narrows (a match of the text is a match of the expression); the
// search still checks `content ILIKE` itself. It replaces the word-by-word index, which it serves
// for every query that one served (a text without spaces has the same trigrams either way).
const PHRASE_EXPRESSION = "replace(content, ' ', 'q')";

export class ReadPath1797300000000 implements MigrationInterface {
  name = 'ReadPath1797300000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(MESSAGE_PAGE);
    await queryRunner.query(
      `CREATE INDEX "messages_content_phrase_trgm_idx" ON "messages" USING gin ((${PHRASE_EXPRESSION}) gin_trgm_ops)`,
    );
    await queryRunner.query('DROP INDEX "public"."messages_content_trgm_idx"');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE INDEX "messages_content_trgm_idx" ON "messages" USING gin ("content" gin_trgm_ops)',
    );
    await queryRunner.query('DROP INDEX "public"."messages_content_phrase_trgm_idx"');
    await queryRunner.query('DROP FUNCTION message_page(uuid, integer, uuid, integer, integer)');
  }
}
