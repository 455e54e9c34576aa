import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase } from './support/test-app.js';
import { call, start, stopRunning, type Running } from './support/process-app.js';
import { ofType } from './support/sse.js';
import { LiveStream } from './support/live.js';

// Two app processes on one database: whatever one instance started, the other can follow,
// stop or replay.
describe('Two instances on one database', () => {
  let databaseUrl: string;
  let dir: string;
  let a: Running;
  let b: Running;
  let token: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'parley-instances-'));
    await chmod(dir, 0o755);
    const env = {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'shared-secret-of-both-instances-shared-secret',
      // Replies of a few seconds: a stop or a dropped connection lands mid-reply even on a busy machine.
      DEMO_FIRST_BYTE_DELAY_MS: '0',
      DEMO_CHUNK_DELAY_MS: '200',
      CHECKPOINT_INTERVAL_MS: '50',
      SIGNUP_TOKEN_GRANT: '1000000',
      SERVE_FRONTEND: 'false',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
    };
    [a, b] = await Promise.all([start(dir, env), start(dir, env)]);
    const registered = await call(a.base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `instances-${Date.now()}@example.com`, password: 'two instances' },
    });
    token = registered.body.accessToken as string;
  });

  afterAll(async () => {
    await stopRunning(a, b);
    await dropTestDatabase(databaseUrl);
    await rm(dir, { recursive: true, force: true });
  });

  const auth = () => ({ Authorization: `Bearer ${token}` });
  const newChat = async () =>
    (await call(a.base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } })).body
      .id as string;
  const startTurn = (chatId: string) =>
    new LiveStream(`${a.base}/api/v1/chats/${chatId}/messages/stream`, {
      method: 'POST',
      headers: auth(),
      body: { content: 'A story, please' },
    });
  const replyId = (stream: LiveStream) => String(ofType(stream.events, 'turn_started')[0]?.assistantMessage.id);

  it('refuses on the other instance at once a token signed out everywhere on this one, history page included', async () => {
    const email = `instances-signout-${Date.now()}@example.com`;
    const own = (
      await call(a.base, '/api/v1/auth/register', { method: 'POST', body: { email, password: 'two instances' } })
    ).body.accessToken as string;
    const chatId = (
      await call(a.base, '/api/v1/chats', { method: 'POST', token: own, body: { characterId: 'captain-mira' } })
    ).body.id as string;
    const reads = ['/api/v1/me', `/api/v1/chats/${chatId}`, `/api/v1/chats/${chatId}/messages`];
    // B has served this token (nothing about it may be remembered past a sign-out).
    for (const path of reads) expect((await call(b.base, path, { token: own })).status).toBe(200);
    expect((await call(a.base, '/api/v1/me/sign-out-everywhere', { method: 'POST', token: own })).status).toBe(204);
    for (const path of reads) {
      const refused = await call(b.base, path, { token: own });
      expect([path, refused.status, refused.body.code]).toEqual([path, 401, 'unauthenticated']);
    }
    const again = (
      await call(b.base, '/api/v1/auth/login', { method: 'POST', body: { email, password: 'two instances' } })
    ).body.accessToken as string;
    for (const path of reads) expect((await call(a.base, path, { token: again })).status).toBe(200);
  });

  it('re-attaches on the other instance with Last-Event-ID and receives exactly the missing text once', async () => {
    const chatId = await newChat();
    const stream = startTurn(chatId);
    await stream.waitFor((events) => events.filter((e) => e.event === 'delta').length >= 3);
    stream.drop();
    const id = replyId(stream);
    const resumed = new LiveStream(`${b.base}/api/v1/chats/${chatId}/messages/${id}/stream`, {
      headers: { ...auth(), 'Last-Event-ID': stream.events.at(-1)!.id! },
    });
    await resumed.finished;
    expect(resumed.events.filter((e) => e.event === 'done' || e.event === 'error').map((e) => e.event)).toEqual([
      'done',
    ]);
    const messages = (await call(b.base, `/api/v1/chats/${chatId}/messages`, { token })).body.items;
    const reply = messages.find((m: { id: string }) => m.id === id);
    expect(reply.status).toBe('complete');
    expect(stream.text() + resumed.text()).toBe(reply.content);
  });

  it('stops a reply from the other instance, keeping its partial text, charging nothing', async () => {
    const chatId = await newChat();
    const before = (await call(b.base, '/api/v1/me', { token })).body.tokenBalance as number;
    const stream = startTurn(chatId);
    await stream.waitFor((events) => events.some((e) => e.event === 'delta'));
    const id = replyId(stream);
    const cancelled = await call(b.base, `/api/v1/chats/${chatId}/messages/${id}/cancel`, { method: 'POST', token });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body.status).toBe('cancelled');
    await stream.finished;
    expect(stream.events.at(-1)).toMatchObject({ event: 'error', data: { problem: { code: 'turn_cancelled' } } });
    const reply = (await call(a.base, `/api/v1/chats/${chatId}/messages`, { token })).body.items.at(-1);
    expect(reply).toMatchObject({ id, status: 'cancelled', errorCode: 'turn_cancelled' });
    expect(reply.content).toBe(stream.text());
    expect((await call(b.base, '/api/v1/me', { token })).body.tokenBalance).toBe(before);
  });

  it('replays an Idempotency-Key on the other instance', async () => {
    const chatId = await newChat();
    const send = (base: string) =>
      fetch(`${base}/api/v1/chats/${chatId}/messages`, {
        method: 'POST',
        headers: { ...auth(), 'Content-Type': 'application/json', 'Idempotency-Key': 'across-instances' },
        body: JSON.stringify({ content: 'Once' }),
      }).then(async (r) => ({ status: r.status, body: await r.json() }));
    const first = await send(a.base);
    const again = await send(b.base);
    expect(first.status).toBe(201);
    expect(again).toEqual(first);
    const users = (await call(b.base, `/api/v1/chats/${chatId}/messages`, { token })).body.items.filter(
      (m: { role: string }) => m.role === 'user',
    );
    expect(users).toHaveLength(1);
  });
});
