import type { DataSource } from 'typeorm';
import { rowsOf } from './sql.js';
import { functionBody } from './statement-function.js';
import { HOT_STATEMENTS } from './migrations/1798000000000-HotStatements.js';
import { useTestDatabase } from '../../test/support/test-database.js';

// The hot statements kept as functions are the ones the code defines: a change to a statement
// without a migration that creates it again fails here.
const db = useTestDatabase();

describe('statement functions', () => {
  let dataSource: DataSource;
  beforeAll(() => {
    dataSource = db().dataSource;
  });

  it.each(HOT_STATEMENTS.map((statement) => [statement.name, statement] as const))(
    '%s in the database is the statement the code builds',
    async (name, statement) => {
      const rows = await rowsOf<{ body: string; args: string }>(
        dataSource,
        `SELECT prosrc AS body, pg_get_function_identity_arguments(oid) AS args FROM pg_proc WHERE proname = $1`,
        [name],
      );
      expect(rows).toHaveLength(1);
      expect(rows[0]!.body).toBe(functionBody(statement));
      expect(rows[0]!.args.split(', ')).toEqual(
        statement.params.map((type) => type.replace(/^varchar/, 'character varying')),
      );
    },
  );
});
