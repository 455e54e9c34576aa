import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig, type AppConfig } from '../../src/config/app-config.js';
import { dataSourceOptions, runMigrations } from '../../src/database/data-source.js';

// Databases for tests on the run's PostgreSQL (PARLEY_TEST_DATABASE_URL). Apart from the test app
// so that a test of a few services against PostgreSQL loads none of the app's modules: the
// mutation run loads a test file once per mutant.

/** A fresh database on the run's PostgreSQL, so test files never see each other's rows. */
export async function createTestDatabase(): Promise<string> {
  const base = process.env.PARLEY_TEST_DATABASE_URL;
  if (!base)
    throw new Error('PARLEY_TEST_DATABASE_URL is set by the e2e global setup or scripts/with-test-database.mjs');
  const name = `parley_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    // A copy of the migrated template when the run made one (scripts/with-test-database.mjs).
    const template = process.env.PARLEY_TEST_TEMPLATE_DATABASE;
    await admin.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  } finally {
    await admin.end();
  }
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

export async function dropTestDatabase(url: string): Promise<void> {
  const base = process.env.PARLEY_TEST_DATABASE_URL!;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

export function testConfig(env: Record<string, string>): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-signing',
    SERVE_FRONTEND: 'false',
    LOG_LEVEL: 'error',
    // Fast and quiet defaults for tests; a test that studies one of these sets its own.
    DEMO_FIRST_BYTE_DELAY_MS: '0',
    DEMO_CHUNK_DELAY_MS: '0',
    PROVIDER_PROBE_INTERVAL_MS: '0',
    TURN_RATE_LIMIT_PER_MINUTE: '0',
    ...env,
  });
}

export interface TestDatabase {
  dataSource: DataSource;
  config: AppConfig;
}

/**
 * A migrated database of the test file's own, and a data source on it, for tests of services and
 * statements against a real PostgreSQL without the app (the `*.db-spec.ts` files): a copy of the
 * run's migrated template when there is one, else migrated here. Registers its own teardown.
 */
export function useTestDatabase(env: Record<string, string> = {}): () => TestDatabase {
  let current: (TestDatabase & { url: string }) | undefined;
  beforeAll(async () => {
    const url = await createTestDatabase();
    const config = testConfig({ DATABASE_URL: url, ...env });
    if (!process.env.PARLEY_TEST_TEMPLATE_DATABASE) await runMigrations(url, config.database);
    const dataSource = new DataSource(dataSourceOptions(url, config.database));
    await dataSource.initialize();
    current = { dataSource, config, url };
  });
  afterAll(async () => {
    if (!current) return;
    await current.dataSource.destroy();
    await dropTestDatabase(current.url);
  });
  return () => {
    if (!current) throw new Error('the test database is created in beforeAll');
    return current;
  };
}
