// Generates a migration from the difference between the entities and the migrated schema,
// against a throwaway embedded PostgreSQL. Usage: npm run migration:generate -w backend -- Name
import { mkdtemp, chmod, readdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataSource } from 'typeorm';
import { startEmbeddedPostgres } from '../dist/database/embedded-postgres.js';
import { dataSourceOptions, runMigrations } from '../dist/database/data-source.js';

const name = process.argv[2];
if (!name || !/^[A-Z][A-Za-z0-9]*$/.test(name)) {
  console.error('usage: migration-generate <PascalCaseName>');
  process.exit(2);
}
const here = dirname(fileURLToPath(import.meta.url));
const migrationsDir = join(here, '..', 'src', 'database', 'migrations');
const db = { poolMax: 2, connectTimeoutMs: 5000, queryTimeoutMs: 60000 };

const dir = await mkdtemp(join(tmpdir(), 'parley-migration-'));
await chmod(dir, 0o755);
const server = await startEmbeddedPostgres(dir, { persistent: false });
try {
  await runMigrations(server.url, db);
  const source = new DataSource(dataSourceOptions(server.url, db));
  await source.initialize();
  const { upQueries, downQueries } = await source.driver.createSchemaBuilder().log();
  await source.destroy();
  if (upQueries.length === 0) {
    console.log('the schema matches the entities; no migration generated');
  } else {
    const timestamp = Date.now();
    const className = `${name}${timestamp}`;
    const quote = (q) =>
      `    await queryRunner.query(${JSON.stringify(q.query)}${q.parameters?.length ? `, ${JSON.stringify(q.parameters)}` : ''});`;
    const body = `import type { MigrationInterface, QueryRunner } from 'typeorm';

export class ${className} implements MigrationInterface {
  name = '${className}';

  async up(queryRunner: QueryRunner): Promise<void> {
${upQueries.map(quote).join('\n')}
  }

  async down(queryRunner: QueryRunner): Promise<void> {
${downQueries.reverse().map(quote).join('\n')}
  }
}
`;
    await writeFile(join(migrationsDir, `${timestamp}-${name}.ts`), body);
    const files = (await readdir(migrationsDir)).filter((f) => /^\d+-\w+\.ts$/.test(f)).sort();
    const imports = files.map((f) => {
      const [, ts, n] = /^(\d+)-(\w+)\.ts$/.exec(f);
      return { line: `import { ${n}${ts} } from './${f.replace(/\.ts$/, '.js')}';`, cls: `${n}${ts}` };
    });
    await writeFile(
      join(migrationsDir, 'index.ts'),
      `// Landed migrations, oldest first. Never edit one that has landed; add a new one.\n${imports.map((i) => i.line).join('\n')}\n\nexport const migrations = [${imports.map((i) => i.cls).join(', ')}];\n`,
    );
    console.log(`wrote ${timestamp}-${name}.ts (${upQueries.length} statements)`);
  }
} finally {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
