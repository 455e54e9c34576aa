import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { call, exited, spawnApp } from './support/process-app.js';

/**
 * Issue 17, item 4: with its database down at start the process stays up — liveness 200,
 * readiness 503 with the reason, requests 503 database_unavailable with Retry-After — keeps
 * trying, and serves once the database is back, on the same port, without a restart.
 */
describe('database down at start', () => {
  let dir: string;
  let database: EmbeddedDatabase | undefined;
  let app: Awaited<ReturnType<typeof spawnApp>> | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'parley-down-at-start-'));
    await chmod(dir, 0o755);
  });
  afterAll(async () => {
    if (app?.child.exitCode === null) {
      app.child.kill('SIGKILL');
      await exited(app.child);
    }
    await database?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('stays up, says why it is not ready, and serves once the database is back', async () => {
    const port = await freePort();
    // The address the database will have once it starts (the embedded launcher's credentials).
    const url = `postgres://parley:parley@127.0.0.1:${port}/parley`;
    app = await spawnApp(join(dir, 'app'), {
      DATABASE_URL: url,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      DATABASE_START_RETRY_MIN_MS: '200',
      DATABASE_START_RETRY_MAX_MS: '500',
      JWT_SECRET: 'a-secret-that-is-long-enough-for-hs256-signing',
      SERVE_FRONTEND: 'false',
    });
    const base = app.base;
    const live = await until(async () => {
      const response = await fetch(`${base}/health/live`).catch(() => undefined);
      return response?.status === 200 ? response : undefined;
    }, 20_000);
    expect(await live.json()).toMatchObject({ status: 'ok' });

    const ready = await fetch(`${base}/health/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      status: 'error',
      error: { database: { status: 'down', reason: expect.stringMatching(/^database unreachable: /) } },
    });
    const refused = await fetch(`${base}/api/v1/characters`, { headers: { 'Accept-Language': 'zh-CN' } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(refused.headers.get('retry-after')).toMatch(/^\d+$/);
    const problem = (await refused.json()) as Record<string, unknown>;
    expect(problem).toMatchObject({ code: 'database_unavailable', status: 503, retryable: true });
    expect(problem.message).toMatch(/存储/);
    // Still up after several rounds of retrying.
    await new Promise((r) => setTimeout(r, 2000));
    expect(app.child.exitCode).toBeNull();
    expect(app.output()).toContain('database_unreachable_at_start');

    const startedDatabase = Date.now();
    database = await startEmbeddedPostgres(join(dir, 'db'), { persistent: true, port });
    expect(database.url).toBe(url);
    const back = Date.now();
    await until(async () => (await fetch(`${base}/health/ready`).catch(() => undefined))?.status === 200, 60_000).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}; the app said:\n${app!.output()}`);
      },
    );
    const servingMs = Date.now() - back;
    const registered = await call(base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `late-${Date.now()}@example.com`, password: 'the database came back' },
    });
    expect(registered.status).toBe(201);
    process.stdout.write(
      `down-at-start: database started in ${back - startedDatabase} ms; ready ${servingMs} ms after that\n`,
    );

    app.child.kill('SIGTERM');
    expect(await exited(app.child)).toBe(0);
  });

  it('exits cleanly on SIGTERM while still waiting for the database', async () => {
    app = await spawnApp(join(dir, 'app2'), {
      DATABASE_URL: `postgres://parley:parley@127.0.0.1:${await freePort()}/parley`,
      DATABASE_CONNECT_TIMEOUT_MS: '500',
      JWT_SECRET: 'a-secret-that-is-long-enough-for-hs256-signing',
      SERVE_FRONTEND: 'false',
    });
    const base = app.base;
    await until(async () => (await fetch(`${base}/health/live`).catch(() => undefined))?.status === 200, 20_000);
    app.child.kill('SIGTERM');
    expect(await exited(app.child)).toBe(0);
  });
});

async function until<T>(check: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}
