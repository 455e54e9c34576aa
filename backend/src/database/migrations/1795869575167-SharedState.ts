import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SharedState1795869575167 implements MigrationInterface {
  name = 'SharedState1795869575167';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "rate_limit_windows" ("key" character varying(200) NOT NULL, "hits" integer NOT NULL, "window_ends_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_9417b505596cea358b6bb991dd3" PRIMARY KEY ("key"))',
    );
    await queryRunner.query('CREATE INDEX "rate_limit_windows_ends_idx" ON "rate_limit_windows"  ("window_ends_at") ');
    await queryRunner.query(
      'CREATE TABLE "chat_breaker_states" ("chat_id" uuid NOT NULL, "failures" integer NOT NULL DEFAULT \'0\', "open_until" TIMESTAMP WITH TIME ZONE, "probe_until" TIMESTAMP WITH TIME ZONE, "updated_at" TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_86baab36acb5aff78e0db69b890" PRIMARY KEY ("chat_id"))',
    );
    await queryRunner.query(
      'ALTER TABLE "chat_breaker_states" ADD CONSTRAINT "FK_86baab36acb5aff78e0db69b890" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "chat_breaker_states" DROP CONSTRAINT "FK_86baab36acb5aff78e0db69b890"');
    await queryRunner.query('DROP TABLE "chat_breaker_states"');
    await queryRunner.query('DROP INDEX "public"."rate_limit_windows_ends_idx"');
    await queryRunner.query('DROP TABLE "rate_limit_windows"');
  }
}
