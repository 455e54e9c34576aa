import type { MigrationInterface, QueryRunner } from 'typeorm';

// Sign out everywhere, password change and reset: a token carries the account's token version
// when it was issued, and is refused once the version moved on. A reset token is kept only as
// its SHA-256, with its expiry; using it clears both (one use).
export class AccountSecurity1796800000000 implements MigrationInterface {
  name = 'AccountSecurity1796800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "users" ADD "token_version" integer NOT NULL DEFAULT \'0\'');
    await queryRunner.query('ALTER TABLE "users" ADD "password_reset_hash" character(64)');
    await queryRunner.query('ALTER TABLE "users" ADD "password_reset_expires_at" TIMESTAMP(3) WITH TIME ZONE');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "users_password_reset_key" ON "users" ("password_reset_hash") WHERE "password_reset_hash" IS NOT NULL',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."users_password_reset_key"');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "password_reset_expires_at"');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "password_reset_hash"');
    await queryRunner.query('ALTER TABLE "users" DROP COLUMN "token_version"');
  }
}
