import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import type { AppConfig } from '../config/app-config.js';
import { runMigrations } from './data-source.js';
import { startEmbeddedPostgres } from './embedded-postgres.js';
import { detectPooler } from './pooler.js';

export interface DatabaseServer {
  config: AppConfig;
  stop(): Promise<void>;
}

/**
 * Resolves where the data lives before the application starts: the configured server, or an
 * embedded PostgreSQL under DATA_DIR. Then brings the schema up to date.
 */
export async function prepareDatabase(config: AppConfig, logger = new Logger('Database')): Promise<DatabaseServer> {
  let stop: () => Promise<void> = async () => undefined;
  let resolved = config;
  if (!config.database.url) {
    const started = Date.now();
    const embedded = await startEmbeddedPostgres(join(config.dataDir, 'postgres'), { persistent: true, logger });
    logger.log(`embedded PostgreSQL ready in ${Date.now() - started} ms (data in ${config.dataDir})`);
    resolved = config.with({ database: { ...config.database, url: embedded.url } });
    stop = embedded.stop;
  }
  try {
    const { url, directUrl, pooler } = resolved.database;
    const detected = detectPooler(url!, pooler);
    logger.log({ event: 'db_pool_detected', mode: detected.mode, reason: detected.reason });
    const applied = await runMigrations(directUrl ?? url!, resolved.database);
    if (applied.length > 0) logger.log(`applied migrations: ${applied.join(', ')}`);
  } catch (error) {
    await stop();
    throw error;
  }
  return { config: resolved, stop };
}
