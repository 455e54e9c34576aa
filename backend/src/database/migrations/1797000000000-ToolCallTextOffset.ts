import type { MigrationInterface, QueryRunner } from 'typeorm';

// Where in its reply's text a tool call happened, and how many calls its step made (specs/010-tools),
// so a client re-attaching to a reply gets the calls' events in order with the text, from any instance.
export class ToolCallTextOffset1797000000000 implements MigrationInterface {
  name = 'ToolCallTextOffset1797000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      'ALTER TABLE "tool_calls" ADD "text_offset" integer NOT NULL DEFAULT 0, ADD "step_calls" integer NOT NULL DEFAULT 1',
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('ALTER TABLE "tool_calls" DROP COLUMN "step_calls", DROP COLUMN "text_offset"');
  }
}
