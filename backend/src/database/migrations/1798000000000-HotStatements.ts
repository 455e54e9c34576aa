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

/**
 * The fingerprints (`fingerprintOf`) of the definitions this migration was written for. The
 * functions are created from the definitions in code; when one changes, a new migration creates
 * it again and records its new fingerprint, and statement-functions.db-spec.ts fails until one
 * does. Going back down past that migration leaves the newer body in place.
 */
export const HOT_STATEMENT_FINGERPRINTS: Readonly<Record<string, string>> = {
  turn_append: 'dbce7d3ff3d2ec64',
  turn_complete: '25ffe4fefaa9dba4',
  turn_complete_degraded: '4a795f9977849155',
  realtime_append: '12adb4a7cfb80337',
  breaker_admit: '3a2aa24658b25e98',
};

export class HotStatements1798000000000 implements MigrationInterface {
  name = 'HotStatements1798000000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    for (const statement of HOT_STATEMENTS) await queryRunner.query(createFunctionSql(statement));
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    for (const statement of HOT_STATEMENTS) await queryRunner.query(dropFunctionSql(statement));
  }
}
