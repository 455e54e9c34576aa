import type { MigrationInterface, QueryRunner } from 'typeorm';

// What a turn reads before it stores anything, as one server-side call (bench/db-statements.mjs:
// the token's version, the chat with its character and persona, and the path up from the active
// leaf were three statements, each planned on every call; a function's plans are kept by the
// session, and a function call needs no named prepared statement, so it works through PgBouncer
// in transaction mode).
//
// The first row is the context: whether the token's version is still the account's (`current`),
// and the chat, its character and its persona as JSON objects of their columns (null when the
// chat is not the account's). An account that no longer exists gives no row at all. When the
// token is current, the chat the account's and `p_path` above zero, the rows after it are the
// messages on the path up from the active leaf, newest first, at most `p_path` of them, with the
// context columns null (the walk of TurnStore's `pathUp`).
export const TURN_CONTEXT = `
CREATE FUNCTION turn_context(p_user uuid, p_version integer, p_chat uuid, p_path integer)
RETURNS TABLE (
  current boolean, chat_row jsonb, character_row jsonb, persona_row jsonb,
  id uuid, seq integer, role varchar, content text, status varchar, metadata jsonb
)
LANGUAGE plpgsql STABLE AS $fn$
DECLARE
  v_current boolean;
  v_chat jsonb;
  v_character jsonb;
  v_persona jsonb;
  v_leaf uuid;
BEGIN
  SELECT u.token_version = p_version, to_jsonb(c), to_jsonb(ch), to_jsonb(p), c.active_leaf_id
    INTO v_current, v_chat, v_character, v_persona, v_leaf
    FROM users u
    LEFT JOIN chats c ON c.id = p_chat AND c.user_id = u.id
    LEFT JOIN characters ch ON ch.id = c.character_id
    LEFT JOIN personas p ON p.id = c.persona_id
   WHERE u.id = p_user;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF NOT v_current THEN
    v_chat := NULL;
    v_character := NULL;
    v_persona := NULL;
  END IF;
  RETURN QUERY SELECT v_current, v_chat, v_character, v_persona,
    NULL::uuid, NULL::integer, NULL::varchar, NULL::text, NULL::varchar, NULL::jsonb;
  IF v_chat IS NULL OR v_leaf IS NULL OR p_path <= 0 THEN
    RETURN;
  END IF;
  RETURN QUERY
  WITH RECURSIVE path AS (
    SELECT m.id, m.parent_id, 1 AS depth FROM messages m WHERE m.id = v_leaf AND m.chat_id = p_chat
    UNION ALL
    SELECT m.id, m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.parent_id
     WHERE path.depth < p_path
  )
  SELECT NULL::boolean, NULL::jsonb, NULL::jsonb, NULL::jsonb,
         m.id, m.seq, m.role, m.content, m.status, m.metadata
    FROM path JOIN messages m ON m.id = path.id
   ORDER BY path.depth;
END
$fn$`;

export class TurnContext1797600000000 implements MigrationInterface {
  name = 'TurnContext1797600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(TURN_CONTEXT);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP FUNCTION turn_context(uuid, integer, uuid, integer)');
  }
}
