import { createHash } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { rowsOf } from './sql.js';

/**
 * A hot statement kept in the database as a PL/pgSQL function, created by a migration from this
 * definition. PostgreSQL plans a statement sent as text on every call; a function's statements
 * are planned once per session and the plan is kept, and calling a function needs no named
 * prepared statement, so this works through PgBouncer in transaction mode. The statement is
 * common table expressions and a final SELECT; its rows come back as JSON objects of that
 * SELECT's columns (a WITH that changes data must be a statement's top level, so the SELECT
 * becomes its last expression, `result`). `$1` … are the parameters, of the types `params` names.
 *
 * A migration creates the function from the definition and records the definition's fingerprint;
 * a change to the statement needs a migration that creates it again and records the new one
 * (statement-functions.db-spec.ts fails until then).
 */
export interface StatementFunction {
  readonly name: string;
  readonly params: readonly string[];
  readonly ctes: string;
  readonly select: string;
}

/** The function's body (`pg_proc.prosrc`). */
export function functionBody(statement: StatementFunction): string {
  return `
BEGIN
  RETURN QUERY WITH ${statement.ctes},
  result AS (${statement.select})
  SELECT to_jsonb(result) FROM result;
END
`;
}

const signature = (statement: StatementFunction) => `${statement.name}(${statement.params.join(', ')})`;

/** Creates the function, or replaces its body. */
export function createFunctionSql(statement: StatementFunction): string {
  return `CREATE OR REPLACE FUNCTION ${signature(statement)} RETURNS SETOF jsonb LANGUAGE plpgsql AS $fn$${functionBody(statement)}$fn$`;
}

/** What a migration records of the function it created: a hash of its whole definition. */
export function fingerprintOf(statement: StatementFunction): string {
  return createHash('sha256').update(createFunctionSql(statement)).digest('hex').slice(0, 16);
}

export function dropFunctionSql(statement: StatementFunction): string {
  return `DROP FUNCTION IF EXISTS ${signature(statement)}`;
}

/** Runs the statement with `values` as its parameters; its rows as JSON objects. */
export async function callStatement<T>(
  on: EntityManager | DataSource,
  statement: StatementFunction,
  values: readonly unknown[],
): Promise<T[]> {
  if (values.length !== statement.params.length) {
    throw new Error(`${statement.name} takes ${statement.params.length} parameters, not ${values.length}`);
  }
  const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
  const rows = await rowsOf<{ row: T }>(on, `SELECT r AS row FROM ${statement.name}(${placeholders}) AS r`, [
    ...values,
  ]);
  return rows.map((r) => r.row);
}
