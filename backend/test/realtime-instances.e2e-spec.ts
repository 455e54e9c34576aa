import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, dropTestDatabase } from './support/test-app.js';
import { call, start, stopRunning, type Running } from './support/process-app.js';
import { startRedis } from './support/redis.js';
import { LiveStream } from './support/live.js';
import { ofType } from './support/sse.js';
import { expectConformingFrames, RealtimeClient, replyText } from './support/realtime-client.js';

// Two app processes on one database: a turn sent to A reaches a socket held by B, through each
// fan-out adapter, and a socket cut in the middle of the turn loses nothing when it comes back.
describe.each([['PostgreSQL LISTEN/NOTIFY'], ['Redis pub/sub']])('Realtime across two instances (%s)', (bus) => {
  expectConformingFrames();
  let databaseUrl: string;
  let dir: string;
  let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
  let a: Running;
  let b: Running;
  let token: string;

  beforeAll(async () => {
    databaseUrl = await createTestDatabase();
    dir = await mkdtemp(join(tmpdir(), 'parley-realtime-'));
    await chmod(dir, 0o755);
    if (bus.startsWith('Redis')) redis = await startRedis();
    const env = {
      DATABASE_URL: databaseUrl,
      JWT_SECRET: 'shared-secret-of-both-instances-shared-secret',
      // A reply of a few seconds, so the socket can be cut in its middle on a busy machine.
      DEMO_FIRST_BYTE_DELAY_MS: '0',
      DEMO_CHUNK_DELAY_MS: '150',
      SIGNUP_TOKEN_GRANT: '1000000',
      SERVE_FRONTEND: 'false',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
      REALTIME_MAX_CONNECTIONS_PER_USER: '3',
      LOG_LEVEL: 'warn',
      ...(redis ? { REDIS_URL: redis.url } : {}),
    };
    [a, b] = await Promise.all([start(dir, env), start(dir, env)]);
    const registered = await call(a.base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `realtime-${Date.now()}@example.com`, password: 'two instances' },
    });
    token = registered.body.accessToken as string;
  });

  afterAll(async () => {
    await stopRunning(a, b);
    await redis?.stop();
    await dropTestDatabase(databaseUrl);
    await rm(dir, { recursive: true, force: true });
  });

  it('shows a socket on B the user message and every delta of a turn sent to A, in order, across a reconnect', async () => {
    const chatId = (
      await call(a.base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } })
    ).body.id as string;
    const first = await RealtimeClient.connect(b.base, { token, subscribe: [chatId] });
    const stream = new LiveStream(`${a.base}/api/v1/chats/${chatId}/messages/stream`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: { content: 'A story across instances' },
    });
    await first.client.waitFor(() => first.client.of('reply.delta').length >= 3);
    // Cut without a close handshake, in the middle of the reply; events go on meanwhile.
    first.client.drop();
    await stream.waitFor((events) => events.filter((e) => e.event === 'delta').length >= 6);
    const again = await RealtimeClient.connect(b.base, { token, subscribe: [chatId], lastSeq: first.client.lastSeq() });
    expect(again.ready).toMatchObject({ seq: first.client.lastSeq(), resync: false });
    await stream.finished;
    const replyId = String(ofType(stream.events, 'turn_started')[0]?.assistantMessage.id);
    const end = await again.client.next('message.updated', (e) => e.message.id === replyId);
    expect(end.message.status).toBe('complete');

    const events = [...first.client.events(), ...again.client.events()];
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    const user = events.find((e) => e.type === 'message.created' && e.message.role === 'user');
    expect(user).toMatchObject({ chatId, message: { content: 'A story across instances' } });
    // Every delta A streamed reached B once, in order: the same texts, nothing missing.
    // (Deltas that queued together on A travel joined: the same text, never split.)
    const deltas = events.filter((e) => e.type === 'reply.delta');
    const streamed = ofType(stream.events, 'delta').map((d) => d.text);
    expect(deltas.map((d) => d.text).join('')).toBe(streamed.join(''));
    const boundaries = (texts: string[]) => texts.map((_, i) => texts.slice(0, i + 1).join('').length);
    expect(boundaries(streamed)).toEqual(expect.arrayContaining(boundaries(deltas.map((d) => d.text))));
    expect(deltas.every((d, i) => i === 0 || d.offset === deltas[i - 1]!.offset + deltas[i - 1]!.text.length)).toBe(
      true,
    );
    expect(replyText(events, replyId)).toBe(end.message.content);
    expect(stream.text()).toBe(end.message.content);
    await again.client.close();
  });

  it('carries a chat renamed on A to a socket on B', async () => {
    const { client } = await RealtimeClient.connect(b.base, { token });
    const chatId = (
      await call(a.base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } })
    ).body.id as string;
    await call(a.base, `/api/v1/chats/${chatId}`, { method: 'PATCH', token, body: { title: 'Named on A' } });
    const renamed = await client.next('chat.renamed');
    expect(renamed.chat).toMatchObject({ id: chatId, title: 'Named on A' });
    expect(client.events().map((e) => e.type)).toEqual(['chat.created', 'chat.renamed']);
    await client.close();
  });

  it("limits a user's sockets across both instances, not per instance", async () => {
    const held = [
      (await RealtimeClient.connect(a.base, { token })).client,
      (await RealtimeClient.connect(b.base, { token })).client,
      (await RealtimeClient.connect(a.base, { token })).client,
    ];
    const extra = new RealtimeClient(b.base);
    await extra.open();
    extra.send({ type: 'hello', token });
    expect(await extra.closed).toEqual({ code: 4429, reason: 'too_many_connections' });
    // A socket closed on A frees its place for one on B.
    await held[0]!.close();
    const attempt = async (): Promise<RealtimeClient | undefined> => {
      const client = new RealtimeClient(b.base);
      await client.open();
      client.send({ type: 'hello', token });
      return Promise.race([
        client.next('ready').then(
          () => client,
          () => undefined,
        ),
        client.closed.then(() => undefined),
      ]);
    };
    const deadline = Date.now() + 5000;
    let again = await attempt();
    while (!again && Date.now() < deadline) again = await attempt();
    expect(again).toBeDefined();
    for (const client of [...held.slice(1), again!]) await client.close();
  });
});
