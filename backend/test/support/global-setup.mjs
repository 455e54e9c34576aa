// Plain JavaScript: loaded by Node itself (not through ts-jest), so it imports the compiled launcher from dist/:
// the e2e script builds first.
import { chmod, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEmbeddedPostgres } from '../../dist/database/embedded-postgres.js';

// One real PostgreSQL for the whole run: the embedded one in a throwaway directory, or the
// server named by DATABASE_URL. Each test file then creates its own database on it.
export default async function globalSetup() {
  process.env.PARLEY_CONTRACT_RECORD_DIR = await mkdtemp(join(tmpdir(), 'parley-contract-'));
  if (process.env.DATABASE_URL) {
    process.env.PARLEY_TEST_DATABASE_URL = process.env.DATABASE_URL;
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'parley-test-'));
  await chmod(dir, 0o755); // the postgres system user must reach its data directory
  const database = await startEmbeddedPostgres(dir, { persistent: false });
  globalThis.parleyTestDatabase = database;
  process.env.PARLEY_TEST_DATABASE_URL = database.url;
}
