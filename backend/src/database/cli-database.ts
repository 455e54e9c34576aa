import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '../config/app-config.js';
import { embeddedUrl, startEmbeddedPostgres } from './embedded-postgres.js';

/**
 * The database a command-line tool works on: the configured one (DATABASE_DIRECT_URL when a
 * pooler is in front), or the embedded one under DATA_DIR — the running app's server when it is
 * up (read from its pid file), otherwise started for the occasion and stopped after.
 */
export async function databaseOf(config: AppConfig): Promise<{ url: string; stop: () => Promise<void> }> {
  const { url, directUrl } = config.database;
  if (url) return { url: directUrl ?? url, stop: async () => undefined };
  const dir = join(config.dataDir, 'postgres');
  const pidFile = join(dir, 'pg', 'postmaster.pid');
  // The app is running on it: use its server (starting another would take the directory over).
  if (existsSync(pidFile)) {
    const lines = readFileSync(pidFile, 'utf8').split('\n');
    const pid = Number(lines[0]);
    if (alive(pid)) return { url: embeddedUrl(lines[3]!.trim()), stop: async () => undefined };
  }
  return startEmbeddedPostgres(dir, { persistent: true });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
