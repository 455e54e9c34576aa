import type { MigrationInterface, QueryRunner } from 'typeorm';

// Search inside messages (searchMessages): trigram matching finds a word inside a longer word
// or a Chinese sentence (no spaces to split at), which a text-search vector cannot. The index
// serves ILIKE '%…%' for queries of three characters or more.
export class MessageSearch1796400000000 implements MigrationInterface {
  name = 'MessageSearch1796400000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('CREATE EXTENSION IF NOT EXISTS pg_trgm');
    await queryRunner.query(
      'CREATE INDEX "messages_content_trgm_idx" ON "messages" USING gin ("content" gin_trgm_ops)',
    );
    // Newest first: for a word in many messages, reading recent messages until enough match
    // beats collecting every match.
    await queryRunner.query('CREATE INDEX "messages_created_at_idx" ON "messages" ("created_at") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."messages_created_at_idx"');
    await queryRunner.query('DROP INDEX "public"."messages_content_trgm_idx"');
  }
}
