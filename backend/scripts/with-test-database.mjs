// Runs a command with one PostgreSQL for all of it, named by PARLEY_TEST_DATABASE_URL (as the e2e
// global setup does for a jest run): `node scripts/with-test-database.mjs stryker run`. A mutation
// run starts jest once per mutant, so the database-bound tests (`*.db-spec.ts`) cannot start their
// own server; each test file still creates its own database on this one.
//
// The embedded server in a throwaway directory, or the server named by DATABASE_URL. Imports the
// compiled launcher: build first (`npm run build`).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { runMigrations } from '../dist/database/data-source.js';
import { startEmbeddedPostgres } from '../dist/database/embedded-postgres.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  console.error('usage: node scripts/with-test-database.mjs <command> [args…]');
  process.exit(2);
}

let database;
if (process.env.DATABASE_URL) {
  process.env.PARLEY_TEST_DATABASE_URL = process.env.DATABASE_URL;
} else {
  const dir = await mkdtemp(join(tmpdir(), 'parley-test-'));
  await chmod(dir, 0o755); // the postgres system user must reach its data directory
  database = await startEmbeddedPostgres(dir, { persistent: false });
  process.env.PARLEY_TEST_DATABASE_URL = database.url;
}

// One migrated database for the test files to copy (CREATE DATABASE … TEMPLATE, a file copy):
// migrating a database per test file and per mutant cost seconds each time.
const template = `parley_template_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
await admin((client) => client.query(`CREATE DATABASE ${template}`));
const templateUrl = new URL(process.env.PARLEY_TEST_DATABASE_URL);
templateUrl.pathname = `/${template}`;
await runMigrations(templateUrl.toString(), { poolMax: 2, connectTimeoutMs: 10_000, queryTimeoutMs: 120_000 });
process.env.PARLEY_TEST_TEMPLATE_DATABASE = template;

const child = spawn(command, args, { stdio: 'inherit', shell: process.platform === 'win32' });
// A signal is passed on to the command; the embedded server's own exit hook stops it and this
// process at once (run the command itself, not through `npx`, which does not pass it on).
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
const code = await new Promise((resolveCode) => {
  child.on('exit', (exitCode, signal) => resolveCode(exitCode ?? (signal ? 1 : 0)));
  child.on('error', (error) => {
    console.error(error.message);
    resolveCode(1);
  });
});
await admin((client) => client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`));
await database?.stop();
process.exit(code);

async function admin(work) {
  const client = new pg.Client({ connectionString: process.env.PARLEY_TEST_DATABASE_URL });
  await client.connect();
  try {
    await work(client);
  } finally {
    await client.end();
  }
}
