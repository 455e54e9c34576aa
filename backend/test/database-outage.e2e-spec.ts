import { readFileSync, readdirSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Chat, Message, MessagePage, Problem } from '@parley/api-types';
import type { Response } from 'supertest';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

// Everything lasts milliseconds to a few seconds here; the limits keep a hang from passing.
const ANSWER_WITHIN_MS = 10_000;
const FLIP_WITHIN_MS = 15_000;
const POLL_EVERY_MS = 100;

// The database this file stops and starts again: its own embedded PostgreSQL on a fixed port,
// so it comes back on the address the running app already knows.

let dir: string;
let port: number;
let database: EmbeddedDatabase | undefined;

async function startDatabase(): Promise<EmbeddedDatabase> {
  database = await startEmbeddedPostgres(dir, { persistent: true, port });
  return database;
}

async function stopDatabase(): Promise<void> {
  const running = database;
  database = undefined;
  await running?.stop();
}

// Outside the describe: the database is up before the app boots and goes after it has closed.
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'parley-outage-'));
  await chmod(dir, 0o755); // the postgres system user must reach its data directory (as root)
  port = await freePort();
  await startDatabase();
});

afterAll(async () => {
  await stopDatabase();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('database outages while the app runs', () => {
  let url: string;
  const t = useTestApp(() => {
    url = database!.url;
    return {
      DATABASE_URL: url,
      DATABASE_CONNECT_TIMEOUT_MS: '1000',
      DATABASE_QUERY_TIMEOUT_MS: '3000',
      SIGNUP_TOKEN_GRANT: '100000000',
    };
  });
  let token: string;
  let chat: Chat;
  let before: Message[];
  let readinessDown: Promise<number>;
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const send = (content: string) => t().http.post(`/api/v1/chats/${chat.id}/messages`).set(auth()).send({ content });
  const messages = async (): Promise<Message[]> =>
    ((await t().http.get(`/api/v1/chats/${chat.id}/messages`).set(auth()).expect(200)).body as MessagePage).items;

  it('serves a turn while the database is up', async () => {
    token = (await registerUser(t())).accessToken;
    chat = await createChat(t(), token);
    await send('Before the outage').expect(201);
    await t().http.get('/health/ready').expect(200);
    before = await messages();
    expect(before.map((m) => m.role)).toEqual(['assistant', 'user', 'assistant']);
  });

  it('keeps the user message of a turn in flight when the database goes away under it', async () => {
    // The provider takes its time, so the database stops after the message is stored and
    // before the reply is committed.
    t()
      .app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER)
      .enqueueFaults({ kind: 'first_byte_delay', delayMs: 3000 });
    const started = Date.now();
    const inFlight = timed(send('Accepted just before the outage'));
    await waitFor(async () => (await messages()).length > before.length, 'the in-flight turn to be stored');
    before = await messages();
    const stopping = Date.now();
    await stopDatabase();
    process.stdout.write(
      `database-outage: PostgreSQL stopped (${Date.now() - stopping} ms to stop) ${Date.now() - started} ms into the in-flight turn\n`,
    );
    readinessDown = pollReadiness(503);
    readinessDown.catch(() => undefined); // awaited by the next test; no unhandled rejection meanwhile
    const { response, ms } = await inFlight;
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expectUnavailable(response);
  });

  it('answers turns and reads 503 database_unavailable with Retry-After, quickly, and readiness 503', async () => {
    const flip = await readinessDown;
    process.stdout.write(`database-outage: /health/ready 503 ${flip} ms after PostgreSQL stopped\n`);

    for (const request of [
      () => send('During the outage'),
      () => t().http.get('/api/v1/chats').set(auth()),
      () => t().http.get(`/api/v1/chats/${chat.id}/messages`).set(auth()),
    ]) {
      const { response, ms } = await timed(request());
      expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
      expectUnavailable(response);
    }
    const { response, ms } = await timed(t().http.get('/health/ready'));
    expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
    expect(response.status).toBe(503);
    // The process itself is alive: liveness never depends on the database.
    await t().http.get('/health/live').expect(200);
  });

  it('recovers without a restart when the database comes back, with every accepted message kept', async () => {
    const started = Date.now();
    await startDatabase();
    expect(database!.url).toBe(url);
    const restartedAt = Date.now();
    const flip = await pollReadiness(200);
    process.stdout.write(
      `database-outage: PostgreSQL back in ${restartedAt - started} ms; /health/ready 200 ${flip} ms after that\n`,
    );

    const after = await send('After the outage').expect(201);
    expect(after.body).toMatchObject({ assistantMessage: { status: 'complete' } });
    const now = await messages();
    // Everything stored before the outage is there, unchanged, in order; then the new turn.
    for (const message of before) {
      expect(now.find((m) => m.id === message.id)).toMatchObject({
        seq: message.seq,
        role: message.role,
        content: message.content,
      });
    }
    const contents = now.filter((m) => m.role === 'user').map((m) => m.content);
    expect(contents).toEqual(['Before the outage', 'Accepted just before the outage', 'After the outage']);
    expect(now.map((m) => m.seq)).toEqual(now.map((_, i) => i + 1));
    // The reply the outage cut off could not record its failure; it stays pending until the
    // interrupted-turns sweep ends it (after the turn deadline), and blocks nothing meanwhile.
    const cut = now.find(
      (m) => m.replyToId === before.find((b) => b.content === 'Accepted just before the outage')?.id,
    );
    expect(['pending', 'failed']).toContain(cut?.status);
    await t().http.get('/api/v1/chats').set(auth()).expect(200);
  });

  it('answers 503 within the configured timeouts while the database hangs, and recovers when it resumes', async () => {
    // A frozen server (SIGSTOP) accepts nothing and answers nothing: only the pool's connect
    // timeout and the client-side query timeout bound the wait.
    const frozen = postgresProcesses();
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    let answers: Array<{ response: Response; ms: number }>;
    let readiness: { response: Response; ms: number };
    try {
      [readiness, ...answers] = await Promise.all([
        timed(t().http.get('/health/ready')),
        ...Array.from({ length: 12 }, (_, i) => timed(send(`While the database hangs ${i}`))),
        timed(t().http.get('/api/v1/chats').set(auth())),
      ]);
    } finally {
      for (const pid of frozen) process.kill(pid, 'SIGCONT');
    }
    const slowest = Math.max(...answers.map((a) => a.ms));
    process.stdout.write(
      `database-outage: frozen database: ${answers.length} requests answered 503 within ${slowest} ms; ` +
        `/health/ready ${readiness.response.status} in ${readiness.ms} ms\n`,
    );
    expect(readiness.response.status).toBe(503);
    expect(readiness.ms).toBeLessThan(ANSWER_WITHIN_MS);
    for (const { response, ms } of answers) {
      expect(ms).toBeLessThan(ANSWER_WITHIN_MS);
      expectUnavailable(response);
    }
    const flip = await pollReadiness(200);
    process.stdout.write(`database-outage: /health/ready 200 ${flip} ms after the database resumed\n`);
    const resumed = await Promise.all(Array.from({ length: 12 }, (_, i) => send(`After the hang ${i}`)));
    expect(resumed.map((r) => r.status)).toEqual(resumed.map(() => 201));
    const users = (await messages()).filter((m) => m.role === 'user').map((m) => m.content);
    expect(users.filter((c) => c.startsWith('While the database hangs'))).toEqual([]);
    expect(users.filter((c) => c.startsWith('After the hang'))).toHaveLength(12);
  });

  it('answered nothing with a 500', () => {
    expect(t().recorder.responses.filter((r) => r.status >= 500 && r.status !== 503)).toEqual([]);
  });

  // Polls /health/ready every 100 ms until it answers `status`; returns how long that took.
  async function pollReadiness(status: number): Promise<number> {
    const started = Date.now();
    await waitFor(async () => (await t().http.get('/health/ready')).status === status, `/health/ready ${status}`);
    return Date.now() - started;
  }
});

// The postmaster of this file's server (from its pid file) and its children (backends, workers).
function postgresProcesses(): number[] {
  const postmaster = Number.parseInt(readFileSync(join(dir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(postmaster) || postmaster <= 0) throw new Error('no postmaster pid');
  const children = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        // Fields after the command name (which may contain spaces): state, ppid, …
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === postmaster;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
  return [postmaster, ...children];
}

function expectUnavailable(response: Response): void {
  expect(response.status).toBe(503);
  expect((response.body as Problem).code).toBe('database_unavailable');
  expect(response.headers['retry-after']).toMatch(/^\d+$/);
}

async function timed(request: PromiseLike<Response>): Promise<{ response: Response; ms: number }> {
  const started = Date.now();
  const response = await request;
  return { response, ms: Date.now() - started };
}

async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + FLIP_WITHIN_MS;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_EVERY_MS));
  }
}
