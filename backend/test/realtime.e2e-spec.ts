import { randomUUID } from 'node:crypto';
import jwt from 'jsonwebtoken';
import type { Chat, ServerFrame } from '@parley/api-types';
import { RealtimeGateway } from '../src/realtime/realtime.gateway.js';
import { RealtimeEvents } from '../src/realtime/realtime-events.js';
import { RealtimeHub } from '../src/realtime/realtime-hub.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { listen } from './support/live.js';
import { expectConformingFrames, RealtimeClient, realtimeContract, replyText } from './support/realtime-client.js';

const SECRET = 'test-secret-that-is-long-enough-for-hs256-signing';

describe(RealtimeGateway.name, () => {
  const t = useTestApp({
    SIGNUP_TOKEN_GRANT: '100000000',
    DEMO_CHUNK_DELAY_MS: '5',
    REALTIME_MAX_CONNECTIONS_PER_USER: '4',
  });
  expectConformingFrames();
  let base: string;
  let token: string;
  let userId: string;
  const sockets: RealtimeClient[] = [];
  const connect = async (hello: Parameters<typeof RealtimeClient.connect>[1]) => {
    const connected = await RealtimeClient.connect(base, hello);
    sockets.push(connected.client);
    return connected;
  };
  const raw = async () => {
    const client = new RealtimeClient(base);
    sockets.push(client);
    await client.open();
    return client;
  };
  const http = () => t().http;
  const auth = (accessToken = token) => ({ Authorization: `Bearer ${accessToken}` });

  beforeAll(async () => {
    base = await listen(t().app);
    const user = await registerUser(t());
    token = user.accessToken;
    userId = user.user.id;
  });

  afterEach(async () => {
    for (const client of sockets.splice(0)) client.drop();
  });

  describe('events', () => {
    it('tells another socket of the user about chats created, renamed and deleted, numbered in order', async () => {
      const { client, ready } = await connect({ token });
      expect(ready).toMatchObject({ type: 'ready', userId, resync: false });
      const chat = await createChat(t(), token);
      await http().patch(`/api/v1/chats/${chat.id}`).set(auth()).send({ title: 'Renamed elsewhere' }).expect(200);
      await http().delete(`/api/v1/chats/${chat.id}`).set(auth()).expect(204);
      await client.next('chat.deleted');
      const events = client.events().filter((e) => e.type.startsWith('chat.'));
      expect(events.map((e) => e.type)).toEqual(['chat.created', 'chat.renamed', 'chat.deleted']);
      expect(events[0]).toMatchObject({ chat: { id: chat.id } });
      expect(events[1]).toMatchObject({ chat: { id: chat.id, title: 'Renamed elsewhere' } });
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([ready.seq + 1, ready.seq + 2, ready.seq + 3]);
    });

    it('streams a turn sent over HTTP to a subscribed socket: messages, every delta in order (joined where they queued together), the end and the balance', async () => {
      const chat = await createChat(t(), token);
      const { client } = await connect({ token, subscribe: [chat.id] });
      const sse = await http()
        .post(`/api/v1/chats/${chat.id}/messages/stream`)
        .set(auth())
        .set('Idempotency-Key', randomUUID())
        .send({ content: 'Tell me a story' })
        .expect(200);
      const reply = await client.next('message.updated', (e) => e.message.role === 'assistant');
      expect(reply.message.status).toBe('complete');
      const created = client.of('message.created').filter((e) => e.chatId === chat.id);
      expect(created.map((e) => [e.message.role, e.message.status])).toEqual([
        ['user', 'complete'],
        ['assistant', 'pending'],
      ]);
      expect(created[0]!.message.content).toBe('Tell me a story');
      const deltas = client.of('reply.delta');
      const sseDeltas = sse.text
        .split('\n')
        .filter((line) => line.startsWith('data: {"type":"delta"'))
        .map((line) => (JSON.parse(line.slice(6)) as { text: string }).text);
      // The socket's deltas carry the stream's text in order, each starting where the last ended;
      // deltas that queued together are joined, never split.
      expect(deltas.map((d) => d.text).join('')).toBe(sseDeltas.join(''));
      expect(deltas.map((d) => d.offset)).toEqual(
        deltas.map(
          (_, i) =>
            deltas
              .slice(0, i)
              .map((d) => d.text)
              .join('').length,
        ),
      );
      const boundaries = (texts: string[]) => texts.map((_, i) => texts.slice(0, i + 1).join('').length);
      expect(boundaries(sseDeltas)).toEqual(expect.arrayContaining(boundaries(deltas.map((d) => d.text))));
      expect(replyText(client.events(), reply.message.id)).toBe(reply.message.content);
      expect(client.of('chat.title_updated')).toEqual([
        expect.objectContaining({ chatId: chat.id, title: 'Tell me a story' }),
      ]);
      const me = await http().get('/api/v1/me').set(auth()).expect(200);
      await client.waitFor(() => client.of('balance.changed').at(-1)?.tokenBalance === me.body.tokenBalance);
      // One number per event, increasing, whatever their kind.
      const seqs = client.events().map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      expect(new Set(seqs).size).toBe(seqs.length);
    });

    it('gives a socket that subscribes mid-reply the text so far, then the rest', async () => {
      const slow = await registerUser(t());
      const chat = await createChat(t(), slow.accessToken);
      const { client } = await connect({ token: slow.accessToken });
      const demo = t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);
      demo.pace.chunkDelayMs = 100;
      const sent = http()
        .post(`/api/v1/chats/${chat.id}/messages/stream`)
        .set(auth(slow.accessToken))
        .set('Idempotency-Key', randomUUID())
        .send({ content: 'A long story, please' })
        .then((r) => r);
      const pending = await client.next('message.created', (e) => e.message.role === 'assistant');
      // Some text has been written before the subscription, and more is to come.
      const text = async () =>
        (await t().dataSource.query('SELECT count(*)::int AS n FROM realtime_events WHERE message_id = $1', [
          pending.message.id,
        ])) as Array<{ n: number }>;
      while ((await text())[0]!.n === 0) await new Promise((r) => setTimeout(r, 5));
      client.send({ type: 'subscribe', id: 'sub-1', chatId: chat.id });
      await client.next('subscribed', (f) => f.ref === 'sub-1');
      await sent;
      demo.pace.chunkDelayMs = 5;
      const done = await client.next('message.updated', (e) => e.message.id === pending.message.id);
      expect(client.of('reply.delta')[0]).toMatchObject({ messageId: pending.message.id, offset: 0 });
      expect(replyText(client.events(), pending.message.id)).toBe(done.message.content);
    });

    it('sends what a reconnecting socket missed, from the store, and resync when it is too old', async () => {
      const first = await connect({ token });
      const lastSeq = first.ready.seq;
      first.client.drop();
      const missed = await createChat(t(), token);
      await http().patch(`/api/v1/chats/${missed.id}`).set(auth()).send({ title: 'While away' }).expect(200);
      const again = await connect({ token, lastSeq });
      expect(again.ready).toMatchObject({ seq: lastSeq, resync: false });
      await again.client.next('chat.renamed');
      expect(again.client.events().map((e) => [e.type, e.seq])).toEqual([
        ['chat.created', lastSeq + 1],
        ['chat.renamed', lastSeq + 2],
      ]);
      // Events up to lastSeq + 1 pruned for age: the client cannot be brought up to date.
      await t().dataSource.query('UPDATE realtime_sequences SET horizon = $2 WHERE user_id = $1', [
        userId,
        lastSeq + 1,
      ]);
      const stale = await connect({ token, lastSeq });
      expect(stale.ready).toMatchObject({ resync: true, seq: lastSeq + 2 });
      const future = await connect({ token, lastSeq: lastSeq + 1000 });
      expect(future.ready.resync).toBe(true);
      await t().dataSource.query('UPDATE realtime_sequences SET horizon = 0 WHERE user_id = $1', [userId]);
    });
  });

  describe('turns over the socket', () => {
    let chat: Chat;
    beforeAll(async () => {
      chat = await createChat(t(), token);
    });

    it('sends a message through the pipeline: the turn as frames, then a repeat of the key follows it', async () => {
      const { client } = await connect({ token });
      const key = randomUUID();
      client.send({
        type: 'send',
        id: 'send-1',
        chatId: chat.id,
        content: 'Hello over the socket',
        idempotencyKey: key,
      });
      const done = await client.next('turn', (f) => f.ref === 'send-1' && f.event.type === 'done');
      const turn = client.of('turn').filter((f) => f.ref === 'send-1');
      expect(turn[0]!.event.type).toBe('turn_started');
      const text = turn.map((f) => (f.event.type === 'delta' ? f.event.text : '')).join('');
      if (done.event.type !== 'done') throw new Error('unreachable');
      expect(text).toBe(done.event.result.assistantMessage.content);

      client.send({
        type: 'send',
        id: 'send-2',
        chatId: chat.id,
        content: 'Hello over the socket',
        idempotencyKey: key,
      });
      const again = await client.next('turn', (f) => f.ref === 'send-2' && f.event.type === 'done');
      if (again.event.type !== 'done') throw new Error('unreachable');
      expect(again.event.result.assistantMessage.id).toBe(done.event.result.assistantMessage.id);
      const page = await http().get(`/api/v1/chats/${chat.id}/messages`).set(auth()).expect(200);
      const users = (page.body.items as Array<{ role: string }>).filter((m) => m.role === 'user');
      expect(users).toHaveLength(1);
    });

    it('answers a refused turn with the problem HTTP would give, and stops a reply', async () => {
      const { client } = await connect({ token });
      client.send({ type: 'send', id: 'nope', chatId: randomUUID(), content: 'Anyone?', idempotencyKey: randomUUID() });
      const refused = await client.next('error', (f) => f.ref === 'nope');
      expect(refused.problem).toMatchObject({ code: 'chat_not_found', status: 404 });
      client.send({ type: 'stop', id: 'stop-1', chatId: chat.id, messageId: randomUUID() });
      const notFound = await client.next('error', (f) => f.ref === 'stop-1');
      expect(notFound.problem.code).toBe('message_not_found');
    });
  });

  describe('bad input', () => {
    const problemOf = async (client: RealtimeClient, before: number) => {
      await client.waitFor((frames) => frames.slice(before).some((f) => f.type === 'error'));
      return client.frames.slice(before).find((f): f is Extract<ServerFrame, { type: 'error' }> => f.type === 'error')!;
    };

    it('answers malformed, unknown and invalid frames with problems, and keeps the socket open', async () => {
      const { client } = await connect({ token });
      let seen = client.frames.length;
      client.sendRaw('{not json');
      expect((await problemOf(client, seen)).problem.code).toBe('malformed_json');
      seen = client.frames.length;
      client.sendRaw('[1,2,3]');
      expect((await problemOf(client, seen)).problem.code).toBe('malformed_json');
      seen = client.frames.length;
      client.sendRaw(Buffer.from('{"type":"ping"}'), { binary: true });
      expect((await problemOf(client, seen)).problem.code).toBe('malformed_json');
      seen = client.frames.length;
      client.sendRaw(JSON.stringify({ type: 'telepathy', id: 'x1' }));
      const unknown = await problemOf(client, seen);
      expect(unknown).toMatchObject({ ref: 'x1', problem: { code: 'validation_failed' } });
      expect(unknown.problem.errors).toEqual([expect.objectContaining({ pointer: '/type' })]);
      seen = client.frames.length;
      client.sendRaw(JSON.stringify({ type: 'subscribe', id: 'x2', chatId: 'not-a-uuid' }));
      const invalid = await problemOf(client, seen);
      expect(invalid).toMatchObject({ ref: 'x2', problem: { code: 'validation_failed' } });
      seen = client.frames.length;
      client.sendRaw(JSON.stringify({ type: 'hello', token }));
      expect((await problemOf(client, seen)).problem.code).toBe('validation_failed');
      client.send({ type: 'ping', id: 'still-there' });
      await client.next('pong', (f) => f.ref === 'still-there');
    });

    it('closes a socket whose frame is larger than the contract allows (1009)', async () => {
      const { client } = await connect({ token });
      client.sendRaw(JSON.stringify({ type: 'ping', pad: 'x'.repeat(realtimeContract().limits.maxFrameBytes) }));
      expect((await client.closed).code).toBe(1009);
    });

    it("sends nothing of another user's chat: subscribing is chat_not_found, and its replies never arrive", async () => {
      const other = await registerUser(t());
      const theirs = await createChat(t(), other.accessToken);
      const { client } = await connect({ token, subscribe: [theirs.id] });
      await client.next('error', (f) => f.problem.code === 'chat_not_found');
      client.send({ type: 'subscribe', id: 'theirs', chatId: theirs.id });
      const refused = await client.next('error', (f) => f.ref === 'theirs');
      expect(refused.problem).toMatchObject({ code: 'chat_not_found', status: 404 });
      await http()
        .post(`/api/v1/chats/${theirs.id}/messages`)
        .set(auth(other.accessToken))
        .send({ content: 'Private words' })
        .expect(201);
      await t().app.get(RealtimeEvents).flushed();
      client.send({ type: 'ping', id: 'after' });
      await client.next('pong', (f) => f.ref === 'after');
      expect(JSON.stringify(client.frames)).not.toContain(theirs.id.slice(0, 8) + theirs.id.slice(8));
      expect(client.events()).toEqual([]);
    });

    it('refuses a socket whose first frame is not a valid hello, or whose token is bad (4401)', async () => {
      const first = await raw();
      first.send({ type: 'ping' });
      expect(await first.closed).toEqual({ code: 4401, reason: 'unauthorized' });
      const garbage = await raw();
      garbage.sendRaw('hello?');
      expect((await garbage.closed).code).toBe(4401);
      const forged = await raw();
      forged.send({
        type: 'hello',
        token: jwt.sign({ sub: userId }, 'another-secret-another-secret-another', { expiresIn: 60 }),
      });
      expect((await forged.closed).code).toBe(4401);
    });

    it('closes the socket when its token expires (4403)', async () => {
      const shortLived = jwt.sign({ sub: userId }, SECRET, {
        algorithm: 'HS256',
        expiresIn: 2,
        issuer: 'parley',
        audience: 'parley-api',
      });
      const { client, ready } = await connect({ token: shortLived });
      expect(ready.userId).toBe(userId);
      expect(await client.closed).toEqual({ code: 4403, reason: 'token_expired' });
    });

    it('limits the sockets of one user on an instance (4429) and the rate of subscribes', async () => {
      const busy = await registerUser(t());
      const chat = await createChat(t(), busy.accessToken);
      const held = [];
      for (let i = 0; i < 4; i++) held.push((await connect({ token: busy.accessToken })).client);
      const extra = await raw();
      extra.send({ type: 'hello', token: busy.accessToken });
      expect(await extra.closed).toEqual({ code: 4429, reason: 'too_many_connections' });
      const burst = realtimeContract().limits.subscribeBurst;
      for (let i = 0; i < burst * 3; i++) held[0]!.send({ type: 'subscribe', id: `s${i}`, chatId: chat.id });
      const limited = await held[0]!.next('error', (f) => f.problem.code === 'rate_limited');
      expect(limited.problem.retryAfterSeconds).toBeGreaterThan(0);
    });

    it('is still serving after all of it', async () => {
      await http().get('/health/live').expect(200);
      const { ready } = await connect({ token });
      expect(ready.type).toBe('ready');
    });

    it('shows the sockets, the events and the bus in /metrics', async () => {
      const gauge = (text: string, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(text)?.[1]);
      // Sockets the earlier tests dropped are gone from the server first.
      const hub = t().app.get(RealtimeHub);
      for (let i = 0; hub.size > 0 && i < 100; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      const before = (await http().get('/metrics').expect(200)).text;
      expect(gauge(before, 'parley_realtime_sockets')).toBe(0);
      await connect({ token });
      await connect({ token });
      await createChat(t(), token);
      await t().app.get(RealtimeEvents).flushed();
      const after = (await http().get('/metrics').expect(200)).text;
      expect(gauge(after, 'parley_realtime_sockets')).toBe(gauge(before, 'parley_realtime_sockets') + 2);
      expect(gauge(after, 'parley_realtime_bus_listening')).toBe(1);
      expect(gauge(after, 'parley_realtime_notices_received_total')).toBeGreaterThan(
        gauge(before, 'parley_realtime_notices_received_total'),
      );
      expect(after).toMatch(/^parley_realtime_event_batch_seconds_count \d+$/m);
    });
  });
});
