import type { MigrationInterface, QueryRunner } from 'typeorm';
import { createFunctionSql, dropFunctionSql, type StatementFunction } from '../statement-function.js';
import { TURN_STATEMENTS } from '../../generation/turn.statements.js';
import { EVENT_APPEND } from '../../realtime/event-store.statements.js';
import { BREAKER_ADMIT } from '../../shared-state/postgres-shared-state.js';

/**
 * The statements every turn runs, kept as functions so that a session plans each once instead of
 * on every call (bench/REPORT.md, "Session 9"): persist-before's append, persist-after's
 * completion, the numbering of realtime events, the chat breaker's admission.
 */
export const HOT_STATEMENTS: readonly StatementFunction[] = [...TURN_STATEMENTS, EVENT_APPEND, BREAKER_ADMIT];

// The bodies are built from the statements' definitions: a later change to one needs a migration
// that creates it again (statement-functions.db-spec.ts compares the database with the code), and
// going back down past that migration leaves the newer body in place.
export class HotStatements1798000000000 implements MigrationInterface {
  name = 'HotStatements1798000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of HOT_STATEMENTS) await queryRunner.query(createFunctionSql(statement));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of HOT_STATEMENTS) await queryRunner.query(dropFunctionSql(statement));
  }
}
