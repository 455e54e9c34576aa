import type { MigrationInterface, QueryRunner } from 'typeorm';

export class RealtimeEvents1795862869311 implements MigrationInterface {
  name = 'RealtimeEvents1795862869311';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "realtime_events" ("user_id" uuid NOT NULL, "seq" bigint NOT NULL, "type" character varying(32) NOT NULL, "chat_id" uuid, "message_id" uuid, "payload" jsonb NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_12eecf439f1309b9176a32893ad" PRIMARY KEY ("user_id", "seq"))',
    );
    await queryRunner.query('CREATE INDEX "realtime_events_created_idx" ON "realtime_events"  ("created_at") ');
    await queryRunner.query(
      'CREATE INDEX "realtime_events_chat_idx" ON "realtime_events"  ("user_id", "chat_id", "seq") ',
    );
    await queryRunner.query(
      'CREATE TABLE "realtime_sequences" ("user_id" uuid NOT NULL, "last_seq" bigint NOT NULL DEFAULT \'0\', "horizon" bigint NOT NULL DEFAULT \'0\', CONSTRAINT "PK_ddd37a84a43f4f58cd4c7f01dc7" PRIMARY KEY ("user_id"))',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP TABLE "realtime_sequences"');
    await queryRunner.query('DROP INDEX "public"."realtime_events_chat_idx"');
    await queryRunner.query('DROP INDEX "public"."realtime_events_created_idx"');
    await queryRunner.query('DROP TABLE "realtime_events"');
  }
}
