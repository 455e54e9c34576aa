import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { MAIN } from './support/process-app.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

const CLI = join(MAIN, '..', 'backup.cli.js');

// The CLI as `npm run backup` / `npm run restore` run it, against the test's database.
function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, JWT_SECRET: 'a-secret-that-is-long-enough-for-hs256-signing', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, output })));
}

/**
 * The restore drill: load data through the API, back up, wipe the database (its schema dropped),
 * restore, and compare every table row for row.
 */
describe('backup and restore', () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '1000000', DEBUG_FAULTS: 'true' });
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-backups-'));
    await chmod(dir, 0o755);
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  // Every table's rows, as a digest of their text forms in a fixed order, and their count.
  async function fingerprint(): Promise<Record<string, string>> {
    const client = new pg.Client({ connectionString: t().databaseUrl });
    await client.connect();
    try {
      const { rows: tables } = await client.query<{ name: string }>(
        `SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename`,
      );
      const result: Record<string, string> = {};
      for (const { name } of tables) {
        const { rows } = await client.query<{ n: string; digest: string | null }>(
          `SELECT count(*)::text AS n, md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM "${name}" t`,
        );
        result[name] = `${rows[0]!.n}:${rows[0]!.digest ?? ''}`;
      }
      return result;
    } finally {
      await client.end();
    }
  }

  it('restores every table exactly as it was backed up', async () => {
    // Data in every table: users, chats, complete and failed replies, ledger, idempotency, events.
    for (let u = 0; u < 3; u++) {
      const { accessToken } = await registerUser(t());
      for (let c = 0; c < 2; c++) {
        const chat = await createChat(t(), accessToken);
        const auth = { Authorization: `Bearer ${accessToken}` };
        await t()
          .http.post(`/api/v1/chats/${chat.id}/messages`)
          .set(auth)
          .set('Idempotency-Key', randomUUID())
          .send({ content: `Hello ${u}/${c}, "quoted", with a comma and a\nnewline 你好` })
          .expect(201);
        await t()
          .http.post(`/api/v1/chats/${chat.id}/messages`)
          .set(auth)
          .set('X-Debug-Force-Error', 'provider_503')
          .send({ content: 'this one fails' })
          .expect(503);
      }
    }
    const before = await fingerprint();
    expect(Object.values(before).filter((v) => v.startsWith('0:'))).not.toHaveLength(Object.keys(before).length);

    const env = { DATABASE_URL: t().databaseUrl, BACKUP_DIR: dir, BACKUP_KEEP: '2' };
    const backedUp = await cli(['backup'], env);
    expect(backedUp).toMatchObject({ code: 0 });
    const [backupDir] = (await readdir(dir)).sort();
    process.stdout.write(`restore-drill: ${backedUp.output}`);

    // The wipe: the whole schema gone, as after losing the database.
    await t().dataSource.query('DROP SCHEMA public CASCADE');
    await t().dataSource.query('CREATE SCHEMA public');
    const restored = await cli(['restore', join(dir, backupDir!)], env);
    expect(restored).toMatchObject({ code: 0 });
    process.stdout.write(`restore-drill: ${restored.output}`);
    expect(await fingerprint()).toEqual(before);

    // Into a database that holds data: refused unless --wipe.
    const refused = await cli(['restore', join(dir, backupDir!)], env);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('--wipe');
    expect((await cli(['restore', join(dir, backupDir!), '--wipe'], env)).code).toBe(0);
    expect(await fingerprint()).toEqual(before);
  });

  it('keeps the newest BACKUP_KEEP backups', async () => {
    const env = { DATABASE_URL: t().databaseUrl, BACKUP_DIR: dir, BACKUP_KEEP: '2' };
    for (let i = 0; i < 3; i++) expect((await cli(['backup'], env)).code).toBe(0);
    expect(await readdir(dir)).toHaveLength(2);
  });

  it('exits 2 with the usage when the command is incomplete (restore without a folder)', async () => {
    const env = { DATABASE_URL: t().databaseUrl, BACKUP_DIR: dir };
    const incomplete = await cli(['restore'], env);
    expect(incomplete.code).toBe(2);
    expect(incomplete.output).toContain('usage:');
  });
});
