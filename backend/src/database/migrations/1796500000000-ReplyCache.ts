import type { MigrationInterface, QueryRunner } from 'typeorm';

// The cached degraded fallback's store (PROVIDER_CACHED_FALLBACK): bounded by the app, newest kept.

export class ReplyCache1796500000000 implements MigrationInterface {
  name = 'ReplyCache1796500000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "provider_reply_cache" ("key" character(64) NOT NULL, "text" text NOT NULL, "provider" character varying(64) NOT NULL, "model" character varying(128) NOT NULL, "created_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_774a2afcd57ad52a3c6acf1a486" PRIMARY KEY ("key"))',
    );
    await queryRunner.query(
      'CREATE INDEX "provider_reply_cache_created_idx" ON "provider_reply_cache"  ("created_at") ',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."provider_reply_cache_created_idx"');
    await queryRunner.query('DROP TABLE "provider_reply_cache"');
  }
}
