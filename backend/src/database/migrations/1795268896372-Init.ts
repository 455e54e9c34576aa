import type { MigrationInterface, QueryRunner } from 'typeorm';

export class Init1795268896372 implements MigrationInterface {
  name = 'Init1795268896372';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "users" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "email" character varying(254) NOT NULL, "password_hash" text NOT NULL, "display_name" character varying(80), "locale" character varying(8) NOT NULL DEFAULT \'en\', "token_balance" bigint NOT NULL DEFAULT \'0\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "users_token_balance_non_negative" CHECK ("token_balance" >= 0), CONSTRAINT "PK_a3ffb1c0c8416b9fc6f907b7433" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE UNIQUE INDEX "users_email_key" ON "users"  ("email") ');
    await queryRunner.query(
      'CREATE TABLE "characters" ("id" character varying(64) NOT NULL, "version" integer NOT NULL, "sort_order" integer NOT NULL DEFAULT \'0\', "translations" jsonb NOT NULL, "active" boolean NOT NULL DEFAULT true, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "characters_version_positive" CHECK ("version" >= 1), CONSTRAINT "PK_9d731e05758f26b9315dac5e378" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "chats" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "character_id" character varying(64) NOT NULL, "title" character varying(120), "locale" character varying(8) NOT NULL DEFAULT \'en\', "last_seq" integer NOT NULL DEFAULT \'0\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "chats_last_seq_non_negative" CHECK ("last_seq" >= 0), CONSTRAINT "PK_0117647b3c4a4e5ff198aeb6206" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "chats_user_activity_idx" ON "chats"  ("user_id", "updated_at", "id") ');
    await queryRunner.query(
      'CREATE TABLE "messages" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "chat_id" uuid NOT NULL, "seq" integer NOT NULL, "role" character varying(16) NOT NULL, "content" text NOT NULL, "status" character varying(16) NOT NULL, "error_code" character varying(64), "reply_to_id" uuid, "provider" character varying(64), "model" character varying(128), "prompt_tokens" integer, "completion_tokens" integer, "attempts" integer NOT NULL DEFAULT \'0\', "degraded" boolean NOT NULL DEFAULT false, "metadata" jsonb NOT NULL DEFAULT \'{}\', "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "updated_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "messages_chat_seq_key" UNIQUE ("chat_id", "seq"), CONSTRAINT "messages_status_check" CHECK ("status" IN (\'pending\', \'streaming\', \'complete\', \'failed\', \'cancelled\')), CONSTRAINT "messages_role_check" CHECK ("role" IN (\'user\', \'assistant\')), CONSTRAINT "messages_seq_positive" CHECK ("seq" >= 1), CONSTRAINT "PK_18325f38ae6de43878487eff986" PRIMARY KEY ("id"))',
    );
    await queryRunner.query(
      'CREATE TABLE "tool_calls" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "message_id" uuid NOT NULL, "tool_name" character varying(128) NOT NULL, "parameters" jsonb NOT NULL DEFAULT \'{}\', "result" jsonb, "executed_at" TIMESTAMP(3) WITH TIME ZONE, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "PK_08984f8a6bc13859241462df855" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "tool_calls_message_idx" ON "tool_calls"  ("message_id") ');
    await queryRunner.query(
      'CREATE TABLE "token_ledger" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "message_id" uuid, "kind" character varying(16) NOT NULL, "amount" bigint NOT NULL, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), CONSTRAINT "token_ledger_kind_check" CHECK ("kind" IN (\'grant\', \'reservation\', \'settlement\', \'release\')), CONSTRAINT "PK_92047e999ae4cc74b08c6037e07" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "token_ledger_user_idx" ON "token_ledger"  ("user_id", "created_at") ');
    await queryRunner.query(
      'CREATE UNIQUE INDEX "token_ledger_message_kind_key" ON "token_ledger"  ("message_id", "kind") WHERE "message_id" IS NOT NULL',
    );
    await queryRunner.query(
      'CREATE TABLE "idempotency_records" ("id" uuid NOT NULL DEFAULT gen_random_uuid(), "user_id" uuid NOT NULL, "key" character varying(255) NOT NULL, "fingerprint" character(64) NOT NULL, "state" character varying(16) NOT NULL, "response_status" integer, "response_body" jsonb, "message_id" uuid, "created_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL DEFAULT now(), "expires_at" TIMESTAMP(3) WITH TIME ZONE NOT NULL, CONSTRAINT "idempotency_records_user_key" UNIQUE ("user_id", "key"), CONSTRAINT "PK_9ae4e93699362b0d4e3da3dd1c2" PRIMARY KEY ("id"))',
    );
    await queryRunner.query('CREATE INDEX "idempotency_records_expiry_idx" ON "idempotency_records"  ("expires_at") ');
    await queryRunner.query(
      'ALTER TABLE "chats" ADD CONSTRAINT "FK_b6c92d818d42e3e298e84d94414" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "chats" ADD CONSTRAINT "FK_dd95cc49b5943c4c8be4bd57086" FOREIGN KEY ("character_id") REFERENCES "characters"("id") ON DELETE RESTRICT ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "messages" ADD CONSTRAINT "FK_7540635fef1922f0b156b9ef74f" FOREIGN KEY ("chat_id") REFERENCES "chats"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "messages" ADD CONSTRAINT "FK_54e66104dd534ed1c191e44096f" FOREIGN KEY ("reply_to_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "tool_calls" ADD CONSTRAINT "FK_1e58941738e182541127b35f30b" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "token_ledger" ADD CONSTRAINT "FK_e4a7bbff614fd0fc77f91fa1469" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "token_ledger" ADD CONSTRAINT "FK_cd2c3b47fe41630971b306dcaf0" FOREIGN KEY ("message_id") REFERENCES "messages"("id") ON DELETE SET NULL ON UPDATE NO ACTION',
    );
    await queryRunner.query(
      'ALTER TABLE "idempotency_records" ADD CONSTRAINT "FK_424bb67027b4c3b431cd85dda16" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE NO ACTION',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "idempotency_records" DROP CONSTRAINT "FK_424bb67027b4c3b431cd85dda16"');
    await queryRunner.query('ALTER TABLE "token_ledger" DROP CONSTRAINT "FK_cd2c3b47fe41630971b306dcaf0"');
    await queryRunner.query('ALTER TABLE "token_ledger" DROP CONSTRAINT "FK_e4a7bbff614fd0fc77f91fa1469"');
    await queryRunner.query('ALTER TABLE "tool_calls" DROP CONSTRAINT "FK_1e58941738e182541127b35f30b"');
    await queryRunner.query('ALTER TABLE "messages" DROP CONSTRAINT "FK_54e66104dd534ed1c191e44096f"');
    await queryRunner.query('ALTER TABLE "messages" DROP CONSTRAINT "FK_7540635fef1922f0b156b9ef74f"');
    await queryRunner.query('ALTER TABLE "chats" DROP CONSTRAINT "FK_dd95cc49b5943c4c8be4bd57086"');
    await queryRunner.query('ALTER TABLE "chats" DROP CONSTRAINT "FK_b6c92d818d42e3e298e84d94414"');
    await queryRunner.query('DROP INDEX "public"."idempotency_records_expiry_idx"');
    await queryRunner.query('DROP TABLE "idempotency_records"');
    await queryRunner.query('DROP INDEX "public"."token_ledger_message_kind_key"');
    await queryRunner.query('DROP INDEX "public"."token_ledger_user_idx"');
    await queryRunner.query('DROP TABLE "token_ledger"');
    await queryRunner.query('DROP INDEX "public"."tool_calls_message_idx"');
    await queryRunner.query('DROP TABLE "tool_calls"');
    await queryRunner.query('DROP TABLE "messages"');
    await queryRunner.query('DROP INDEX "public"."chats_user_activity_idx"');
    await queryRunner.query('DROP TABLE "chats"');
    await queryRunner.query('DROP TABLE "characters"');
    await queryRunner.query('DROP INDEX "public"."users_email_key"');
    await queryRunner.query('DROP TABLE "users"');
  }
}
