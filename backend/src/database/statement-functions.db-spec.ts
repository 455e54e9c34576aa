import type { DataSource } from 'typeorm';
import { rowsOf } from './sql.js';
import { fingerprintOf, functionBody, type StatementFunction } from './statement-function.js';
import { HOT_STATEMENT_FINGERPRINTS, HOT_STATEMENTS } from './migrations/1798000000000-HotStatements.js';
import { useTestDatabase } from '../../test/support/test-database.js';

// The hot statements kept as functions. A database migrated before a statement changed keeps the
// function it was given, so a change to a definition needs a migration that creates it again:
// the latest migration to create each records the fingerprint of the definition it was written
// for (a migration that creates one again is added to `recorded`).
const db = useTestDatabase();
const recorded: Readonly<Record<string, string>> = { ...HOT_STATEMENT_FINGERPRINTS };
const statements = HOT_STATEMENTS.map((statement) => [statement.name, statement] as const);

describe('statement functions', () => {
  let dataSource: DataSource;
  beforeAll(() => {
    dataSource = db().dataSource;
  });

  it.each(statements)('%s is the definition its latest migration was written for', (name, statement) => {
    // On failure: write a migration that creates the function again (createFunctionSql) and
    // records this fingerprint.
    expect({ name, fingerprint: fingerprintOf(statement) }).toEqual({ name, fingerprint: recorded[name] });
  });

  it('records a fingerprint for each statement, and for no other', () => {
    expect(Object.keys(recorded).sort()).toEqual(HOT_STATEMENTS.map((s: StatementFunction) => s.name).sort());
  });

  it.each(statements)('%s in a migrated database is the function its definition builds', async (name, statement) => {
    const rows = await rowsOf<{ body: string; args: string }>(
      dataSource,
      'SELECT prosrc AS body, pg_get_function_identity_arguments(oid) AS args FROM pg_proc WHERE proname = $1',
      [name],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]!.body).toBe(functionBody(statement));
    expect(rows[0]!.args.split(', ')).toEqual(
      statement.params.map((type) => type.replace(/^varchar/, 'character varying')),
    );
  });
});
