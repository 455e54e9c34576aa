import { DataSource, type DataSourceOptions } from 'typeorm';
import type { DatabaseConfig } from '../config/app-config.js';
import { entities, migrations } from './entities.js';

export function dataSourceOptions(
  url: string,
  db: Pick<DatabaseConfig, 'poolMax' | 'connectTimeoutMs' | 'queryTimeoutMs'>,
): DataSourceOptions {
  return {
    type: 'postgres',
    url,
    entities,
    migrations,
    migrationsRun: false,
    synchronize: false,
    // Off: TypeORM's error log prints query parameters (emails, hashes, message text). Failures
    // reach the exception filter, which logs without them.
    logging: false,
    // gen_random_uuid() is built into PostgreSQL 13+; no extension (and no superuser) needed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    // pg-pool settings. No startup parameters (statement_timeout, options): a transaction-mode
    // pooler refuses them; query_timeout is enforced client-side instead.
    extra: {
      max: db.poolMax,
      connectionTimeoutMillis: db.connectTimeoutMs,
      query_timeout: db.queryTimeoutMs,
      idleTimeoutMillis: 30_000,
    },
  };
}

// Any number of instances may start together; only one runs the migrations. The lock is
// transaction-scoped (held by an open transaction on its own connection), so it also works
// through a transaction-mode pooler.
const MIGRATION_LOCK_KEY = 7_405_311_021;

export async function runMigrations(url: string, db: DatabaseConfig): Promise<string[]> {
  const source = new DataSource({
    ...dataSourceOptions(url, { ...db, poolMax: 2 }),
    migrationsTransactionMode: 'each',
  });
  await source.initialize();
  const lock = source.createQueryRunner();
  try {
    await lock.connect();
    await lock.startTransaction();
    await lock.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const applied = await source.runMigrations({ transaction: 'each' });
    await lock.commitTransaction();
    return applied.map((m) => m.name);
  } catch (error) {
    if (lock.isTransactionActive) await lock.rollbackTransaction();
    throw error;
  } finally {
    await lock.release();
    await source.destroy();
  }
}
