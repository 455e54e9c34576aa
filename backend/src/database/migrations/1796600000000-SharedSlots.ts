import type { MigrationInterface, QueryRunner } from 'typeorm';

export class SharedSlots1796600000000 implements MigrationInterface {
  name = 'SharedSlots1796600000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'CREATE TABLE "shared_slots" ("key" character varying(200) NOT NULL, "holder" character varying(100) NOT NULL, "expires_at" TIMESTAMP WITH TIME ZONE NOT NULL, CONSTRAINT "PK_shared_slots" PRIMARY KEY ("key", "holder"))',
    );
    await queryRunner.query('CREATE INDEX "shared_slots_expires_idx" ON "shared_slots" ("expires_at") ');
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX "public"."shared_slots_expires_idx"');
    await queryRunner.query('DROP TABLE "shared_slots"');
  }
}
