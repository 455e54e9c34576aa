import type { MigrationInterface, QueryRunner } from 'typeorm';

// Search (specs/015-app-frame). pg_trgm narrows a text only by its trigrams, and Chinese words are
// mostly two characters: a rare one ("麒麟") had no trigram, so every message of the user was
// read and lowercased (300 ms and more over 100,000 messages). The index now reads each character
// beyond ASCII as followed by the letter x, so two Han characters make two trigrams ("麒x麟",
// "x麟x"), with spaces still read as the letter q (migration ReadPath: a phrase's words keep their
// order). The expression only narrows — a match of a text is a match of the expression applied
// to both — and the search still checks `content ILIKE` itself.
const SEARCH_EXPRESSION = `regexp_replace(replace(content, ' ', 'q'), '([^\\x01-\\x7f])', '\\1x', 'g')`;
const PHRASE_EXPRESSION = "replace(content, ' ', 'q')";

// Every message of the user's chats that contains a text, through that index. Left to the
// planner, the same data and text were read through the index or by a parallel scan of every
// message depending on ANALYZE's random sample (estimates of 1 and 26 matching rows for 1,911);
// the scan, which lowercases every text it reads, cost several times the index. With sequential
// scans priced out, a text with a trigram is always read through the index. Its caller passes
// the pattern as the index reads texts.
const SEARCH_MATCHES = `
CREATE FUNCTION search_matches(p_chats uuid[], p_indexed text, p_pattern text)
RETURNS TABLE (id uuid, chat_id uuid, seq integer, role character varying, content text, created_at timestamptz)
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $fn$
  SELECT m.id, m.chat_id, m.seq, m.role, m.content, m.created_at
    FROM messages m
   WHERE m.chat_id = ANY(p_chats) AND ${SEARCH_EXPRESSION.replaceAll('content', 'm.content')} ILIKE p_indexed
     AND m.content ILIKE p_pattern
$fn$`;

export class SearchMatches1797700000000 implements MigrationInterface {
  name = 'SearchMatches1797700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `CREATE INDEX "messages_content_search_trgm_idx" ON "messages" USING gin ((${SEARCH_EXPRESSION}) gin_trgm_ops)`,
    );
    await queryRunner.query('DROP INDEX "public"."messages_content_phrase_trgm_idx"');
    await queryRunner.query(SEARCH_MATCHES);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP FUNCTION search_matches(uuid[], text, text)');
    await queryRunner.query(
      `CREATE INDEX "messages_content_phrase_trgm_idx" ON "messages" USING gin ((${PHRASE_EXPRESSION}) gin_trgm_ops)`,
    );
    await queryRunner.query('DROP INDEX "public"."messages_content_search_trgm_idx"');
  }
}
