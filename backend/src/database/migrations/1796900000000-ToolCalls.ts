import type { MigrationInterface, QueryRunner } from 'typeorm';

// Tool calling (issue 12, specs/010-tools): every call traceable and identified by (reply, step,
// index), so a re-run of a turn finds a completed call and reuses it; a per-chat memory written
// by the `remember` tool, one row per call at most.
export class ToolCalls1796900000000 implements MigrationInterface {
  name = 'ToolCalls1796900000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Nothing wrote the table before: rows (if any) cannot be placed in a chat or step.
    await queryRunner.query('DELETE FROM "tool_calls"');
    await queryRunner.query(
      `ALTER TABLE "tool_calls"
         ADD "chat_id" uuid NOT NULL,
         ADD "step" integer NOT NULL,
         ADD "call_index" integer NOT NULL,
         ADD "status" character varying(16) NOT NULL DEFAULT 'pending',
         ADD "error" jsonb,
         ADD "idempotent" boolean NOT NULL DEFAULT true,
         ADD "provider" character varying(64),
         ADD "attempt" integer NOT NULL DEFAULT 1,
         ADD "provider_call_id" character varying(128),
         ADD "finished_at" TIMESTAMP(3) WITH TIME ZONE,
         ADD "duration_ms" integer`,
    );
    await queryRunner.query(
      `ALTER TABLE "tool_calls" ADD CONSTRAINT "tool_calls_status_check" CHECK ("status" IN ('pending', 'running', 'complete', 'failed', 'interrupted'))`,
    );
    await queryRunner.query(
      'ALTER TABLE "tool_calls" ADD CONSTRAINT "tool_calls_message_step_index_key" UNIQUE ("message_id", "step", "call_index")',
    );
    await queryRunner.query('CREATE INDEX "tool_calls_chat_idx" ON "tool_calls" ("chat_id", "created_at", "id") ');
    await queryRunner.query(
      'ALTER TABLE "tool_calls" ADD CONSTRAINT "tool_calls_chat_fk" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'CREATE TABLE "chat_memory" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "chat_id" uuid NOT NULL, "content" text NOT NULL, "message_id" uuid, "tool_call_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_chat_memory" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "chat_memory_chat_idx" ON "chat_memory" ("chat_id", "created_at") ');
    await queryRunner.query('CREATE UNIQUE INDEX "chat_memory_tool_call_key" ON "chat_memory" ("tool_call_id") ');
    await queryRunner.query(
      'ALTER TABLE "chat_memory" ADD CONSTRAINT "chat_memory_chat_fk" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "chat_memory" ADD CONSTRAINT "chat_memory_message_fk" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "chat_memory"');
    await queryRunner.query('ALTER TABLE "tool_calls" DROP CONSTRAINT "tool_calls_chat_fk"');
    await queryRunner.query('DROP INDEX "public"."tool_calls_chat_idx"');
    await queryRunner.query('ALTER TABLE "tool_calls" DROP CONSTRAINT "tool_calls_message_step_index_key"');
    await queryRunner.query('ALTER TABLE "tool_calls" DROP CONSTRAINT "tool_calls_status_check"');
    await queryRunner.query(
      'ALTER TABLE "tool_calls" DROP COLUMN "chat_id", DROP COLUMN "step", DROP COLUMN "call_index", DROP COLUMN "status", DROP COLUMN "error", DROP COLUMN "idempotent", DROP COLUMN "provider", DROP COLUMN "attempt", DROP COLUMN "provider_call_id", DROP COLUMN "finished_at", DROP COLUMN "duration_ms"',
    );
  }
}
