import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { call, start, stopRunning, type Running } from './support/process-app.js';
import { FakeSentryServer } from './support/fake-sentry.server.js';
import { createTestDatabase, dropTestDatabase } from './support/test-app.js';

// The production build as a real process with SENTRY_DSN pointing at an ingest in this test. The
// unexpected error is real: a trigger makes PostgreSQL refuse renaming a chat with an error the
// taxonomy does not know (P0001), which the API answers with a 500 internal_error.
describe('error reporting (SENTRY_DSN)', () => {
  let ingest: FakeSentryServer;
  let databaseUrl: string;
  let dataDir: string;
  let app: Running | undefined;
  let token: string;

  beforeAll(async () => {
    ingest = await new FakeSentryServer().start();
    databaseUrl = await createTestDatabase();
    dataDir = await mkdtemp(join(tmpdir(), 'parley-sentry-'));
    app = await start(dataDir, {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'sentry-test-secret-long-enough-for-hs256',
      SERVE_FRONTEND: 'false',
      PROVIDER_PROBE_INTERVAL_MS: '0',
      SENTRY_DSN: ingest.dsn,
    });
    const registered = await call(app.base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `sentry-${randomUUID()}@example.com`, password: 'correct horse battery' },
    });
    token = registered.body.accessToken as string;
  }, 120_000);

  afterAll(async () => {
    await stopRunning(app);
    await ingest.close();
    await dropTestDatabase(databaseUrl);
    await rm(dataDir, { recursive: true, force: true });
  });

  it('sends nothing for 4xx answers', async () => {
    const missing = await call(app!.base, `/api/v1/chats/${randomUUID()}`, { token });
    expect(missing.status).toBe(404);
    const invalid = await call(app!.base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 42 } });
    expect(invalid.status).toBe(400);
    const unauthenticated = await call(app!.base, '/api/v1/chats');
    expect(unauthenticated.status).toBe(401);
    // Long enough for a report to have arrived (the next test sees one within this time).
    await new Promise((r) => setTimeout(r, 1500));
    expect(ingest.events()).toEqual([]);
  });

  it('reports an unexpected 500 with its request id', async () => {
    const chat = await call(app!.base, '/api/v1/chats', {
      method: 'POST',
      token,
      body: { characterId: 'captain-mira' },
    });
    expect(chat.status).toBe(201);
    const admin = new pg.Client({ connectionString: databaseUrl });
    await admin.connect();
    try {
      await admin.query(`CREATE FUNCTION refuse_rename() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'renames refused by the test'; END $$`);
      await admin.query(
        'CREATE TRIGGER refuse_rename BEFORE UPDATE OF title ON chats FOR EACH ROW EXECUTE FUNCTION refuse_rename()',
      );
    } finally {
      await admin.end();
    }
    const response = await fetch(`${app!.base}/api/v1/chats/${chat.body.id}`, {
      method: 'PATCH',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'Renamed' }),
    });
    const problem = (await response.json()) as { code: string; requestId: string };
    expect(response.status).toBe(500);
    expect(problem.code).toBe('internal_error');

    const deadline = Date.now() + 10_000;
    while (ingest.events().length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const events = ingest.events();
    expect(events).toHaveLength(1);
    const event = events[0] as {
      tags: Record<string, string>;
      exception: { values: Array<{ type: string; value: string }> };
      request?: unknown;
    };
    expect(event.tags).toMatchObject({ request_id: problem.requestId, 'http.method': 'PATCH' });
    expect(event.exception.values.map((v) => v.value).join('\n')).toContain('renames refused by the test');
    // No request data (headers, body) leaves the process.
    expect(JSON.stringify(event)).not.toContain('Renamed');
    expect(JSON.stringify(event)).not.toContain(token);
  }, 30_000);
});
