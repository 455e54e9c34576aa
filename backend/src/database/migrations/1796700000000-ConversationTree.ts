import type { MigrationInterface, QueryRunner } from 'typeorm';

// The conversation is a tree (specs/009-conversation-tree): every message has a parent, a chat
// has an active leaf, and a continued reply is charged per segment. Existing chats become one
// path each, without losing a row:
// - a reply's parent is the user message it answers;
// - a user message's parent is the newest complete reply (before it) to the user message before
//   it, else the message just before it; the chat's first message is the root;
// - the active leaf is the newest reply to the newest user message, else that user message,
//   else the chat's newest message (the greeting).
export class ConversationTree1796700000000 implements MigrationInterface {
  name = 'ConversationTree1796700000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "messages" ADD "parent_id" uuid');
    await queryRunner.query('ALTER TABLE "chats" ADD "active_leaf_id" uuid');
    await queryRunner.query('ALTER TABLE "token_ledger" ADD "segment" integer NOT NULL DEFAULT 0');
    await queryRunner.query('DROP INDEX "public"."token_ledger_message_kind_key"');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "token_ledger_message_segment_kind_key" ON "token_ledger" ("message_id", "segment", "kind") WHERE "message_id" IS NOT NULL',
    );
    await queryRunner.query('CREATE INDEX "messages_parent_seq_idx" ON "messages" ("parent_id", "seq") ');

    await queryRunner.query(
      `UPDATE "messages" SET "parent_id" = "reply_to_id" WHERE "role" = 'assistant' AND "reply_to_id" IS NOT NULL`,
    );
    await queryRunner.query(`
      WITH users AS (
        SELECT id, chat_id, seq, LAG(id) OVER (PARTITION BY chat_id ORDER BY seq) AS previous_user_id
          FROM messages WHERE role = 'user'
      )
      UPDATE messages m
         SET parent_id = COALESCE(
               (SELECT r.id FROM messages r
                 WHERE r.parent_id = u.previous_user_id AND r.status = 'complete' AND r.seq < u.seq
                 ORDER BY r.seq DESC LIMIT 1),
               (SELECT p.id FROM messages p
                 WHERE p.chat_id = u.chat_id AND p.seq < u.seq
                 ORDER BY p.seq DESC LIMIT 1))
        FROM users u
       WHERE m.id = u.id`);
    // Anything else without a parent (an imported reply whose user message is gone) follows the
    // message before it; only each chat's first message stays a root.
    await queryRunner.query(`
      UPDATE messages m
         SET parent_id = (SELECT p.id FROM messages p
                           WHERE p.chat_id = m.chat_id AND p.seq < m.seq ORDER BY p.seq DESC LIMIT 1)
       WHERE m.parent_id IS NULL
         AND EXISTS (SELECT 1 FROM messages p WHERE p.chat_id = m.chat_id AND p.seq < m.seq)`);
    await queryRunner.query(`
      UPDATE chats c
         SET active_leaf_id = COALESCE(
               (SELECT r.id FROM messages r
                 WHERE r.parent_id = (SELECT u.id FROM messages u WHERE u.chat_id = c.id AND u.role = 'user'
                                       ORDER BY u.seq DESC LIMIT 1)
                 ORDER BY r.seq DESC LIMIT 1),
               (SELECT u.id FROM messages u WHERE u.chat_id = c.id AND u.role = 'user' ORDER BY u.seq DESC LIMIT 1),
               (SELECT g.id FROM messages g WHERE g.chat_id = c.id ORDER BY g.seq DESC LIMIT 1))`);

    await queryRunner.query(
      'ALTER TABLE "messages" ADD CONSTRAINT "messages_parent_fk" FOREIGN KEY ("parent_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "chats" ADD CONSTRAINT "chats_active_leaf_fk" FOREIGN KEY ("active_leaf_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE NO ACTION DEFERRABLE INITIALLY IMMEDIATE',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "chats" DROP CONSTRAINT "chats_active_leaf_fk"');
    await queryRunner.query('ALTER TABLE "messages" DROP CONSTRAINT "messages_parent_fk"');
    await queryRunner.query('DROP INDEX "public"."messages_parent_seq_idx"');
    await queryRunner.query('DROP INDEX "public"."token_ledger_message_segment_kind_key"');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "token_ledger_message_kind_key" ON "token_ledger" ("message_id", "kind") WHERE "message_id" IS NOT NULL',
    );
    await queryRunner.query('ALTER TABLE "token_ledger" DROP COLUMN "segment"');
    await queryRunner.query('ALTER TABLE "chats" DROP COLUMN "active_leaf_id"');
    await queryRunner.query('ALTER TABLE "messages" DROP COLUMN "parent_id"');
  }
}
