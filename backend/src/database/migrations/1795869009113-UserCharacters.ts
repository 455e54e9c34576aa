import type { MigrationInterface, QueryRunner } from 'typeorm';

export class UserCharacters1795869009113 implements MigrationInterface {
  name = 'UserCharacters1795869009113';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "personas" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "name" character varying(80) NOT NULL, "description" text NOT NULL DEFAULT \'\', "is_default" boolean NOT NULL DEFAULT false, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_714aa5d028f8f3e6645e971cecd" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE UNIQUE INDEX "personas_one_default_key" ON "personas"  ("user_id") WHERE "is_default"',
    );
    await queryRunner.query('CREATE INDEX "personas_user_idx" ON "personas"  ("user_id", "created_at") ');
    await queryRunner.query(
      'CREATE TABLE "avatars" ("hash" character(64) NOT NULL, "media_type" character varying(32) NOT NULL, "bytes" bytea NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_234650d1f064ead99874857f70b" PRIMARY KEY ("hash"))',
    );
    await queryRunner.query('ALTER TABLE "characters" ADD "owner_id" uuid');
    await queryRunner.query('ALTER TABLE "characters" ADD "card" jsonb');
    await queryRunner.query('ALTER TABLE "characters" ADD "avatar_hash" character varying(64)');
    await queryRunner.query('ALTER TABLE "chats" ADD "persona_id" uuid');
    await queryRunner.query('ALTER TABLE "chats" ADD "greeting_index" smallint NOT NULL DEFAULT \'0\'');
    await queryRunner.query('ALTER TABLE "chats" ADD "lorebook" jsonb');
    await queryRunner.query('CREATE INDEX "characters_owner_idx" ON "characters"  ("owner_id", "created_at") ');
    await queryRunner.query(
      'ALTER TABLE "characters" ADD CONSTRAINT "FK_025221b79ca49c31bcc7f1373c7" FOREIGN KEY ("owner_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "personas" ADD CONSTRAINT "FK_a5eea6c1723ca1e765836fb97b7" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "chats" ADD CONSTRAINT "FK_afd2ebc54de0a8162722d317fc2" FOREIGN KEY ("persona_id") REFERENCES "personas"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "chats" DROP CONSTRAINT "FK_afd2ebc54de0a8162722d317fc2"');
    await queryRunner.query('ALTER TABLE "personas" DROP CONSTRAINT "FK_a5eea6c1723ca1e765836fb97b7"');
    await queryRunner.query('ALTER TABLE "characters" DROP CONSTRAINT "FK_025221b79ca49c31bcc7f1373c7"');
    await queryRunner.query('DROP INDEX "public"."characters_owner_idx"');
    await queryRunner.query('ALTER TABLE "chats" DROP COLUMN "lorebook"');
    await queryRunner.query('ALTER TABLE "chats" DROP COLUMN "greeting_index"');
    await queryRunner.query('ALTER TABLE "chats" DROP COLUMN "persona_id"');
    await queryRunner.query('ALTER TABLE "characters" DROP COLUMN "avatar_hash"');
    await queryRunner.query('ALTER TABLE "characters" DROP COLUMN "card"');
    await queryRunner.query('ALTER TABLE "characters" DROP COLUMN "owner_id"');
    await queryRunner.query('DROP TABLE "avatars"');
    await queryRunner.query('DROP INDEX "public"."personas_user_idx"');
    await queryRunner.query('DROP INDEX "public"."personas_one_default_key"');
    await queryRunner.query('DROP TABLE "personas"');
  }
}
