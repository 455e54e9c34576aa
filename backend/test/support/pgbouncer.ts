import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, chown, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/database/embedded-postgres.js';

export interface PgBouncerOptions {
  poolSize?: number;
  maxClientConnections?: number;
}

export interface PgBouncer {
  /** The given URL with host and port replaced by the pooler's (same user, password, database). */
  urlFor(databaseUrl: string): string;
  /**
   * Everything PgBouncer has logged so far: its own refusals (`no more connections allowed`,
   * `unsupported startup parameter`, login failures). Errors PostgreSQL sends back through it,
   * such as `prepared statement "s0" already exists`, are passed on to the client, not logged.
   */
  log(): Promise<string>;
  /** A SHOW command on PgBouncer's admin console (`SHOW POOLS`, `SHOW STATS`), as rows. */
  show(what: 'POOLS' | 'STATS' | 'SERVERS' | 'CLIENTS'): Promise<Record<string, unknown>[]>;
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const STOP_TIMEOUT_MS = 5_000;
// PgBouncer refuses to run as root; as root we hand it to the system user the embedded
// PostgreSQL setup created.
const UNPRIVILEGED_USER = 'postgres';

/** The pgbouncer binary: PGBOUNCER_BIN, the PATH, or Debian's sbin (often not on a user's PATH). */
export function findPgBouncer(): string | undefined {
  if (process.env.PGBOUNCER_BIN) return process.env.PGBOUNCER_BIN;
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin'];
  return dirs
    .filter((dir) => dir.startsWith('/'))
    .map((dir) => join(dir, 'pgbouncer'))
    .find((path) => existsSync(path));
}

/**
 * Starts a real PgBouncer in transaction pooling mode on a free loopback port in front of the
 * PostgreSQL server of `serverUrl` (every database name is forwarded), and waits until a query
 * goes through it. The server's SCRAM users work because PgBouncer knows the plain password:
 * it answers the client's SCRAM exchange itself and runs its own against the server.
 */
export async function startPgBouncer(serverUrl: string, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error('pgbouncer is not installed (Debian: apt-get install pgbouncer)');
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username);
  const password = decodeURIComponent(server.password);
  const port = await freePort();
  const workDir = await mkdtemp(join(tmpdir(), 'parley-pgbouncer-'));
  const files = {
    config: join(workDir, 'pgbouncer.ini'),
    users: join(workDir, 'userlist.txt'),
    log: join(workDir, 'pgbouncer.log'),
    pid: join(workDir, 'pgbouncer.pid'),
  };
  const quote = (value: string) => `"${value.replace(/"/g, '""')}"`;
  await writeFile(files.users, `${quote(user)} ${quote(password)}\n`, { mode: 0o600 });
  await writeFile(
    files.config,
    [
      '[databases]',
      `* = host=${server.hostname} port=${server.port || '5432'}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      // No Unix socket: loopback TCP only, and nothing written outside the temp dir.
      'unix_socket_dir =',
      'auth_type = scram-sha-256',
      `auth_file = ${files.users}`,
      'pool_mode = transaction',
      `default_pool_size = ${options.poolSize ?? 5}`,
      'min_pool_size = 0',
      'reserve_pool_size = 0',
      `max_db_connections = ${options.poolSize ?? 5}`,
      `max_client_conn = ${options.maxClientConnections ?? 500}`,
      // Some drivers send it; node-postgres does not, but a refusal would look like a pooler bug.
      'ignore_startup_parameters = extra_float_digits',
      // The test's own user may read the admin console (SHOW only).
      `stats_users = ${user}`,
      `logfile = ${files.log}`,
      `pidfile = ${files.pid}`,
      'log_connections = 0',
      'log_disconnections = 0',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const args = [files.config];
  const owner = process.getuid?.() === 0 ? systemUser(UNPRIVILEGED_USER) : undefined;
  if (owner) {
    await chmod(workDir, 0o755);
    for (const path of [workDir, files.config, files.users]) await chown(path, owner.uid, owner.gid);
    args.unshift('-u', UNPRIVILEGED_USER);
  }

  let output = '';
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
  const url = (databaseUrl: string) => {
    const pooled = new URL(databaseUrl);
    pooled.hostname = '127.0.0.1';
    pooled.port = String(port);
    return pooled.toString();
  };
  const stop = async () => {
    await terminate(child);
    await rm(workDir, { recursive: true, force: true });
  };

  try {
    await waitUntilServing(url(serverUrl), child, () => output, spawnError);
  } catch (error) {
    const log = await readFile(files.log, 'utf8').catch(() => '');
    await stop();
    throw new Error(`${(error as Error).message}\n--- pgbouncer output ---\n${output}\n--- pgbouncer.log ---\n${log}`, {
      cause: error,
    });
  }
  return {
    urlFor: url,
    // The log file has everything (stderr repeats it); reading it is what an operator would do.
    log: () => readFile(files.log, 'utf8').catch(() => ''),
    show: async (what) => {
      const admin = new URL(url(serverUrl));
      admin.pathname = '/pgbouncer';
      const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 2000 });
      client.on('error', () => undefined);
      await client.connect();
      try {
        // The admin console speaks only the simple query protocol: no parameters.
        return (await client.query(`SHOW ${what}`)).rows as Record<string, unknown>[];
      } finally {
        await client.end();
      }
    },
    stop,
  };
}

async function waitUntilServing(
  url: string,
  child: ChildProcess,
  output: () => string,
  spawnError: Promise<Error>,
): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`pgbouncer exited (${child.exitCode ?? child.signalCode}) before serving`);
    }
    const failed = await Promise.race([spawnError, new Promise<undefined>((r) => setTimeout(r, 0, undefined))]);
    if (failed) throw failed;
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => undefined);
    try {
      await client.connect();
      await client.query('SELECT 1');
      return;
    } catch (error) {
      last = error;
    } finally {
      await client.end().catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`pgbouncer did not serve within ${START_TIMEOUT_MS} ms: ${String(last)}\n${output()}`);
}

// SIGTERM is PgBouncer's immediate shutdown; SIGKILL if it does not go in time.
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
}

function systemUser(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  if (uid === undefined || gid === undefined) throw new Error(`no system user ${name} to run pgbouncer as`);
  return { uid: Number(uid), gid: Number(gid) };
}
