import type { MigrationInterface, QueryRunner } from 'typeorm';

// Search (specs/015-app-frame): every message of the user's chats that contains a text, through
// the phrase index. Left to the planner, the statement was read with the trigram index or by a
// parallel scan of every message depending on ANALYZE's random sample (an estimate of 1 or 26
// matching rows for the same data and text): the scan costs 3–6 times the index, because the
// planner prices ILIKE like an equality while it lowercases each text it reads. The function
// keeps the index: with sequential scans priced out, a text with trigrams is always read through
// it (one without any, two Han characters say, still scans, as nothing narrows it).
const SEARCH_MATCHES = `
CREATE FUNCTION search_matches(p_chats uuid[], p_phrase text, p_pattern text)
RETURNS TABLE (id uuid, chat_id uuid, seq integer, role character varying, content text, created_at timestamptz)
LANGUAGE sql STABLE
SET enable_seqscan = off
AS $fn$
  SELECT m.id, m.chat_id, m.seq, m.role, m.content, m.created_at
    FROM messages m
   WHERE m.chat_id = ANY(p_chats) AND replace(m.content, ' ', 'q') ILIKE p_phrase AND m.content ILIKE p_pattern
$fn$`;

export class SearchMatches1797700000000 implements MigrationInterface {
  name = 'SearchMatches1797700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(SEARCH_MATCHES);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP FUNCTION search_matches(uuid[], text, text)');
  }
}
