import request from 'supertest';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Chat } from '@parley/api-types';
import { RepliesService } from '../src/generation/replies.service.js';
import { InterruptedTurnsService } from '../src/generation/interrupted-turns.service.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { createApp } from '../src/app.factory.js';
import { MessagesRepository } from '../src/chats/messages.repository.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { ofType, parseSse } from './support/sse.js';
import { IdempotencyService } from '../src/idempotency/idempotency.service.js';
import { LiveStream, listen } from './support/live.js';

interface Row {
  status: string;
  error_code: string | null;
  content: string;
}

describe(RepliesService.name, () => {
  const t = useTestApp({ CHECKPOINT_INTERVAL_MS: '50', SIGNUP_TOKEN_GRANT: '10000000', DEBUG_FAULTS: 'true' });
  // A second instance on the same database: turns run on one, the client comes back to the other.
  let other: NestExpressApplication;
  let base: string;
  let otherBase: string;
  let token: string;
  let userId: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const demo = () => t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);

  beforeAll(async () => {
    other = await createApp(t().config, { logger: false });
    await other.init();
    base = await listen(t().app);
    otherBase = await listen(other);
    const registered = await registerUser(t());
    token = registered.accessToken;
    userId = registered.user.id;
  });
  afterAll(() => other.close());
  beforeEach(() => {
    demo().reset();
    // Slow enough to act mid-reply: about 20 chunks, 60 ms apart.
    demo().pace = { firstByteDelayMs: 50, chunkDelayMs: 60 };
  });

  const reply = async (id: string): Promise<Row> =>
    (await t().dataSource.query('SELECT status, error_code, content FROM messages WHERE id = $1', [id]))[0];
  const net = async (id: string): Promise<number> =>
    (
      await t().dataSource.query(
        'SELECT coalesce(sum(amount), 0)::int AS net FROM token_ledger WHERE message_id = $1',
        [id],
      )
    )[0].net;
  const until = async (check: () => Promise<boolean>, timeoutMs = 10_000) => {
    const deadline = Date.now() + timeoutMs;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const startTurn = (chat: Chat, content = 'Tell me about the signal.') =>
    new LiveStream(`${base}/api/v1/chats/${chat.id}/messages/stream`, {
      method: 'POST',
      headers: auth(),
      body: { content },
    });
  const replyIdOf = (stream: LiveStream) => String(ofType(stream.events, 'turn_started')[0]?.assistantMessage.id);

  describe('disconnect', () => {
    it('is not a stop: the reply is finished and committed after the client goes away', async () => {
      const chat = await createChat(t(), token);
      const stream = startTurn(chat);
      await stream.waitFor((events) => events.some((e) => e.event === 'delta'));
      const id = replyIdOf(stream);
      stream.drop();
      await until(async () => (await reply(id)).status === 'complete');
      const stored = await reply(id);
      expect(stored.content.startsWith(stream.text())).toBe(true);
      expect(stored.content.length).toBeGreaterThan(stream.text().length);
      expect(await net(id)).toBeLessThan(0);
    });

    it('lets the client re-attach on another instance and receive exactly the missing text once', async () => {
      const chat = await createChat(t(), token);
      const stream = startTurn(chat);
      await stream.waitFor((events) => events.filter((e) => e.event === 'delta').length >= 3);
      const id = replyIdOf(stream);
      stream.drop();
      const seen = stream.text();
      const lastId = stream.events.at(-1)!.id!;
      const resumed = new LiveStream(`${otherBase}/api/v1/chats/${chat.id}/messages/${id}/stream`, {
        headers: { ...auth(), 'Last-Event-ID': lastId },
      });
      await resumed.finished;
      expect(resumed.events.map((e) => e.event)).not.toContain('turn_started');
      expect(resumed.events.at(-1)!.event).toBe('done');
      expect(resumed.events.filter((e) => e.event === 'done' || e.event === 'error')).toHaveLength(1);
      const final = await reply(id);
      expect(seen + resumed.text()).toBe(final.content);
      expect(final.status).toBe('complete');
    });

    it('replays a finished reply at once from the start, and refuses an event id from another reply', async () => {
      const chat = await createChat(t(), token);
      const done = startTurn(chat);
      await done.finished;
      const id = replyIdOf(done);
      const replay = await request(other.getHttpServer())
        .get(`/api/v1/chats/${chat.id}/messages/${id}/stream`)
        .set(auth())
        .expect(200);
      const events = replay.text.split('\n\n').filter((b) => b.includes('event:'));
      expect(events[0]).toContain('event: turn_started');
      expect(events.at(-1)).toContain('event: done');
      // The reply's id in upper case is the same reply, also for its event ids.
      const upper = await t()
        .http.get(`/api/v1/chats/${chat.id}/messages/${id.toUpperCase()}/stream`)
        .set(auth())
        .set('Last-Event-ID', done.events.at(-2)!.id!)
        .expect(200);
      expect(upper.text).toContain('event: done');
      const bad = await t()
        .http.get(`/api/v1/chats/${chat.id}/messages/${id}/stream`)
        .set(auth())
        .set('Last-Event-ID', '00000000-0000-4000-8000-000000000000:5.3')
        .expect(400);
      expect(bad.body.code).toBe('validation_failed');
    });
  });

  describe('cancel', () => {
    // The reply stops after two chunks until its request is aborted: a cancel always finds it running.
    beforeEach(() => demo().enqueueFaults({ kind: 'stall', afterChunks: 2 }));

    it('stops the upstream request, keeps the partial text as cancelled and charges nothing', async () => {
      const chat = await createChat(t(), token);
      const stream = startTurn(chat);
      await stream.waitFor((events) => events.filter((e) => e.event === 'delta').length >= 2);
      const id = replyIdOf(stream);
      const cancelled = await t().http.post(`/api/v1/chats/${chat.id}/messages/${id}/cancel`).set(auth()).expect(200);
      expect(cancelled.body).toMatchObject({ id, status: 'cancelled', errorCode: 'turn_cancelled' });
      await stream.finished;
      expect(stream.events.at(-1)).toMatchObject({ event: 'error', data: { problem: { code: 'turn_cancelled' } } });
      await until(async () => demo().requests().at(-1)?.aborted === true);
      const stored = await reply(id);
      expect(stored).toMatchObject({ status: 'cancelled', error_code: 'turn_cancelled' });
      expect(stored.content.length).toBeGreaterThan(0);
      expect(stored.content).toBe(stream.text());
      expect(await net(id)).toBe(0);
      // Cancelling again returns it unchanged; a finished reply or a user message cannot be.
      await t().http.post(`/api/v1/chats/${chat.id}/messages/${id}/cancel`).set(auth()).expect(200);
      const greeting = (await t().http.get(`/api/v1/chats/${chat.id}/messages`).set(auth())).body.items[0].id;
      const refused = await t()
        .http.post(`/api/v1/chats/${chat.id}/messages/${greeting}/cancel`)
        .set(auth())
        .expect(409);
      expect(refused.body.code).toBe('message_not_cancellable');
    });

    it('stops a reply running on another instance', async () => {
      const chat = await createChat(t(), token);
      const stream = startTurn(chat);
      await stream.waitFor((events) => events.some((e) => e.event === 'delta'));
      const id = replyIdOf(stream);
      await request(other.getHttpServer())
        .post(`/api/v1/chats/${chat.id}/messages/${id}/cancel`)
        .set(auth())
        .expect(200);
      await stream.finished;
      expect(stream.events.at(-1)).toMatchObject({ event: 'error', data: { problem: { code: 'turn_cancelled' } } });
      await until(async () => demo().requests().at(-1)?.aborted === true);
      expect((await reply(id)).status).toBe('cancelled');
      expect(await net(id)).toBe(0);
    });

    it('answers a JSON request waiting for the cancelled reply with 409 turn_cancelled', async () => {
      const chat = await createChat(t(), token);
      const pending = t().http.post(`/api/v1/chats/${chat.id}/messages`).set(auth()).send({ content: 'slow one' });
      const response = pending.then((r) => r);
      let id: string | undefined;
      await until(async () => {
        const [row] = await t().dataSource.query(
          `SELECT id FROM messages WHERE chat_id = $1 AND role = 'assistant' AND status IN ('pending', 'streaming')`,
          [chat.id],
        );
        id = row?.id;
        return id !== undefined;
      });
      await t().http.post(`/api/v1/chats/${chat.id}/messages/${id}/cancel`).set(auth()).expect(200);
      const answered = await response;
      expect(answered.status).toBe(409);
      expect(answered.body.code).toBe('turn_cancelled');
    });
  });

  describe('Idempotency-Key', () => {
    const sendWithKey = (chat: Chat, key: string, content: string, headers: Record<string, string> = {}) =>
      t()
        .http.post(`/api/v1/chats/${chat.id}/messages`)
        .set(auth())
        .set('Idempotency-Key', key)
        .set(headers)
        .send({ content });
    const streamWithKey = (chat: Chat, key: string, content: string, headers: Record<string, string> = {}) =>
      t()
        .http.post(`/api/v1/chats/${chat.id}/messages/stream`)
        .set(auth())
        .set('Idempotency-Key', key)
        .set(headers)
        .send({ content });
    const countUserMessages = async (chatId: string) =>
      (
        await t().dataSource.query(`SELECT count(*)::int AS n FROM messages WHERE chat_id = $1 AND role = 'user'`, [
          chatId,
        ])
      )[0].n;

    beforeEach(() => (demo().pace = { firstByteDelayMs: 0, chunkDelayMs: 0 }));

    it('replays the first outcome for the same key and body: one message, one reply, one charge', async () => {
      const chat = await createChat(t(), token);
      const first = await sendWithKey(chat, '"retry-1"', 'Only once, please').expect(201);
      const again = await sendWithKey(chat, 'retry-1', 'Only once, please').expect(201);
      expect(again.body).toEqual(first.body);
      expect(await countUserMessages(chat.id)).toBe(1);
      expect(demo().requests()).toHaveLength(1);
      expect(await net(first.body.assistantMessage.id)).toBe(-first.body.usage.totalTokens);
    });

    it('answers 409 while the first request is in flight, then replays it', async () => {
      // The provider holds the first request until it is stopped: in flight for as long as the
      // test needs, whatever the machine's speed.
      demo().enqueueFaults({ kind: 'stall' });
      const chat = await createChat(t(), token);
      const first = sendWithKey(chat, 'concurrent-1', 'Twice at once').then((response) => response);
      await until(async () => demo().requests().length === 1);

      const second = await sendWithKey(chat, 'concurrent-1', 'Twice at once').expect(409);
      expect(second.body).toMatchObject({ code: 'idempotency_key_in_flight', retryable: true });
      expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(1);

      const [pending] = await t().dataSource.query(
        `SELECT id FROM messages WHERE chat_id = $1 AND role = 'assistant' AND status = 'pending'`,
        [chat.id],
      );
      await t().http.post(`/api/v1/chats/${chat.id}/messages/${pending.id}/cancel`).set(auth()).expect(200);
      const answered = await first;
      expect(answered.status).toBe(409);
      expect(answered.body.code).toBe('turn_cancelled');
      const later = await sendWithKey(chat, 'concurrent-1', 'Twice at once').expect(409);
      expect(later.body).toMatchObject({ code: 'turn_cancelled' });
      expect(await countUserMessages(chat.id)).toBe(1);
      expect(demo().requests()).toHaveLength(1);
    });

    it('refuses the same key with a different body with 422', async () => {
      const chat = await createChat(t(), token);
      await sendWithKey(chat, 'reused-1', 'First text').expect(201);
      const reused = await sendWithKey(chat, 'reused-1', 'Another text').expect(422);
      expect(reused.body.code).toBe('idempotency_key_reused');
      expect(await countUserMessages(chat.id)).toBe(1);
    });

    it('replays a streamed turn as a stream of the stored reply, and as JSON to the JSON form', async () => {
      const chat = await createChat(t(), token);
      const first = await streamWithKey(chat, 'stream-1', 'Stream it').expect(200);
      const again = await streamWithKey(chat, 'stream-1', 'Stream it').expect(200);
      const done = (text: string) => ofType(parseSse(text), 'done')[0]!.result;
      expect(done(again.text).assistantMessage.id).toBe(done(first.text).assistantMessage.id);
      expect(done(again.text).assistantMessage.content).toBe(done(first.text).assistantMessage.content);
      const asJson = await sendWithKey(chat, 'stream-1', 'Stream it').expect(201);
      expect(asJson.body.assistantMessage).toEqual(done(first.text).assistantMessage);
      expect(await countUserMessages(chat.id)).toBe(1);
      expect(demo().requests()).toHaveLength(1);
    });

    it('follows the running reply when a streaming request is repeated while the first is in flight', async () => {
      demo().pace = { firstByteDelayMs: 50, chunkDelayMs: 40 };
      const chat = await createChat(t(), token);
      const first = new LiveStream(`${base}/api/v1/chats/${chat.id}/messages/stream`, {
        method: 'POST',
        headers: { ...auth(), 'Idempotency-Key': 'cut-1' },
        body: { content: 'A story, please' },
      });
      await first.waitFor((events) => ofType(events, 'delta').length >= 2);
      first.drop();
      // A client whose connection was cut repeats the request, as generated clients do.
      const repeat = await streamWithKey(chat, 'cut-1', 'A story, please')
        .set('Last-Event-ID', first.events.at(-1)!.id!)
        .expect(200);
      const events = parseSse(repeat.text);
      expect(events.map((e) => e.data.type)).not.toContain('turn_started');
      expect(events.at(-1)!.data.type).toBe('done');
      const final = ofType(events, 'done')[0]!.result.assistantMessage;
      expect(final.id).toBe(replyIdOf(first));
      expect(
        first.text() +
          ofType(events, 'delta')
            .map((d) => d.text)
            .join(''),
      ).toBe(final.content);
      expect(await countUserMessages(chat.id)).toBe(1);
      expect(demo().requests()).toHaveLength(1);
    });

    it('answers a repeat after a crash with the reply the sweep ended, never generating again', async () => {
      const chat = await createChat(t(), token);
      // What a process killed mid-turn leaves: the key names a reply still streaming.
      const [user, stale] = await t().dataSource.transaction((manager) =>
        t()
          .app.get(MessagesRepository)
          .append(manager, chat.id, [
            { role: 'user', content: 'Crash on me', status: 'complete' },
            { role: 'assistant', content: 'half', status: 'streaming' },
          ]),
      );
      await t().dataSource.query('UPDATE messages SET reply_to_id = $2 WHERE id = $1', [stale!.id, user!.id]);
      const idempotency = t().app.get(IdempotencyService);
      const fingerprint = idempotency.fingerprint('sendMessage', { chatId: chat.id }, { content: 'Crash on me' });
      await t().dataSource.query(
        `INSERT INTO idempotency_records (user_id, key, fingerprint, state, message_id, created_at, expires_at)
         VALUES ($1, 'crashed-1', $2, 'in_flight', $3, now() - interval '1 hour', now() + interval '1 day')`,
        [userId, fingerprint, stale!.id],
      );
      // Before the sweep: still in flight (the reply may yet finish elsewhere).
      const early = await sendWithKey(chat, 'crashed-1', 'Crash on me').expect(409);
      expect(early.body.code).toBe('idempotency_key_in_flight');
      await t().dataSource.query(`UPDATE messages SET updated_at = now() - interval '1 hour' WHERE id = $1`, [
        stale!.id,
      ]);
      await t().app.get(InterruptedTurnsService).sweep();
      const answered = await sendWithKey(chat, 'crashed-1', 'Crash on me', { 'Accept-Language': 'zh' }).expect(503);
      expect(answered.body).toMatchObject({ code: 'turn_interrupted', retryable: true });
      expect(answered.body.requestId).toBe(answered.headers['x-request-id']);
      const streamed = parseSse((await streamWithKey(chat, 'crashed-1', 'Crash on me').expect(200)).text);
      expect(streamed.at(-1)!.data).toMatchObject({
        type: 'error',
        messageId: stale!.id,
        problem: { code: 'turn_interrupted' },
      });
      expect(await countUserMessages(chat.id)).toBe(1);
      expect(demo().requests()).toHaveLength(0);
    });

    it('replays a failed turn as its problem, already stored when the stream reports it', async () => {
      const chat = await createChat(t(), token);
      const streamed = await streamWithKey(chat, 'failed-1', 'Fail me', {
        'X-Debug-Force-Error': 'provider_503',
      }).expect(200);
      expect(streamed.text).toContain('event: error');
      const again = await sendWithKey(chat, 'failed-1', 'Fail me').expect(503);
      expect(again.body).toMatchObject({ code: 'provider_unavailable' });
      // The replay is this request's answer: its own request id, not the first one's.
      const firstProblem = ofType(parseSse(streamed.text), 'error')[0]!.problem;
      expect(again.body.requestId).toBe(again.headers['x-request-id']);
      expect(again.body.requestId).not.toBe(firstProblem.requestId);
      expect(await countUserMessages(chat.id)).toBe(1);
    });

    it('gives the key back when the request failed before storing anything', async () => {
      const chat = await createChat(t(), token);
      await sendWithKey(chat, 'after-outage', 'Hello', { 'X-Debug-Force-Error': 'db_unavailable' }).expect(503);
      await sendWithKey(chat, 'after-outage', 'Hello').expect(201);
      expect(await countUserMessages(chat.id)).toBe(1);
    });

    it('scopes keys to the user', async () => {
      const chat = await createChat(t(), token);
      await sendWithKey(chat, 'shared-key', 'Mine').expect(201);
      const stranger = (await registerUser(t())).accessToken;
      const theirs = await createChat(t(), stranger);
      await t()
        .http.post(`/api/v1/chats/${theirs.id}/messages`)
        .set('Authorization', `Bearer ${stranger}`)
        .set('Idempotency-Key', 'shared-key')
        .send({ content: 'Mine' })
        .expect(201);
    });
  });

  describe('token reservation', () => {
    it('never lets concurrent sends drive the balance below zero, and charges exactly the successful replies', async () => {
      demo().pace = { firstByteDelayMs: 0, chunkDelayMs: 0 };
      const { accessToken, user } = await registerUser(t());
      const headers = { Authorization: `Bearer ${accessToken}` };
      const calibration = await createChat(t(), accessToken);
      await t()
        .http.post(`/api/v1/chats/${calibration.id}/messages`)
        .set(headers)
        .send({ content: 'same size' })
        .expect(201);
      const [{ amount }] = await t().dataSource.query(
        `SELECT -amount AS amount FROM token_ledger WHERE user_id = $1 AND kind = 'reservation'`,
        [user.id],
      );
      const reserve = Number(amount);
      // A balance that covers ten reservations at once.
      await t().dataSource.query('UPDATE users SET token_balance = $2 WHERE id = $1', [user.id, reserve * 10 + 5]);
      const chats = await Promise.all(Array.from({ length: 50 }, () => createChat(t(), accessToken)));
      const results = await Promise.all(
        chats.map((chat) =>
          t().http.post(`/api/v1/chats/${chat.id}/messages`).set(headers).send({ content: 'same size' }),
        ),
      );
      const ok = results.filter((r) => r.status === 201);
      const refused = results.filter((r) => r.status === 402);
      expect(ok.length + refused.length).toBe(50);
      expect(ok.length).toBeGreaterThanOrEqual(10);
      expect(refused.length).toBeGreaterThan(0);
      expect(refused.every((r) => r.body.code === 'insufficient_tokens')).toBe(true);
      const spent = ok.reduce((sum, r) => sum + r.body.usage.totalTokens, 0);
      const me = await t().http.get('/api/v1/me').set(headers).expect(200);
      expect(me.body.tokenBalance).toBeGreaterThanOrEqual(0);
      expect(me.body.tokenBalance).toBe(reserve * 10 + 5 - spent);
      // A refused send stored nothing.
      const [{ users }] = await t().dataSource.query(
        `SELECT count(*)::int AS users FROM messages m JOIN chats c ON c.id = m.chat_id WHERE c.user_id = $1 AND m.role = 'user'`,
        [user.id],
      );
      expect(users).toBe(ok.length + 1);
    });

    it('releases the reservation of a reply interrupted by a crash', async () => {
      const chat = await createChat(t(), token);
      const before = (await t().http.get('/api/v1/me').set(auth())).body.tokenBalance as number;
      // What a process killed mid-turn leaves: a reply still streaming, its tokens reserved.
      const [stale] = await t().dataSource.transaction((manager) =>
        t()
          .app.get(MessagesRepository)
          .append(manager, chat.id, [{ role: 'assistant', content: 'half', status: 'streaming' }]),
      );
      await t().dataSource.query(
        `INSERT INTO token_ledger (user_id, message_id, kind, amount) VALUES ($1, $2, 'reservation', -700)`,
        [userId, stale!.id],
      );
      await t().dataSource.query('UPDATE users SET token_balance = token_balance - 700 WHERE id = $1', [userId]);
      await t().dataSource.query(`UPDATE messages SET updated_at = now() - interval '1 hour' WHERE id = $1`, [
        stale!.id,
      ]);
      expect(await t().app.get(InterruptedTurnsService).sweep()).toBe(1);
      expect(await reply(stale!.id)).toMatchObject({ status: 'failed', error_code: 'turn_interrupted' });
      expect(await net(stale!.id)).toBe(0);
      expect((await t().http.get('/api/v1/me').set(auth())).body.tokenBalance).toBe(before);
      // A second sweep changes nothing.
      expect(await t().app.get(InterruptedTurnsService).sweep()).toBe(0);
      expect(await net(stale!.id)).toBe(0);
    });
  });
});

describe('Unattended replies', () => {
  const t = useTestApp({ UNATTENDED_REPLY_MAX_MS: '300', CHECKPOINT_INTERVAL_MS: '50', SIGNUP_TOKEN_GRANT: '1000000' });

  it('runs a reply whose client went away for at most UNATTENDED_REPLY_MAX_MS', async () => {
    const demo = t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);
    demo.pace = { firstByteDelayMs: 0, chunkDelayMs: 200 };
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    const stream = new LiveStream(`${await listen(t().app)}/api/v1/chats/${chat.id}/messages/stream`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${accessToken}` },
      body: { content: 'A long story, please' },
    });
    await stream.waitFor((events) => events.some((e) => e.event === 'delta'));
    const id = String(ofType(stream.events, 'turn_started')[0]!.assistantMessage.id);
    stream.drop();
    const started = Date.now();
    let status = '';
    while (Date.now() - started < 5000) {
      [{ status }] = await t().dataSource.query('SELECT status FROM messages WHERE id = $1', [id]);
      if (status !== 'pending' && status !== 'streaming') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe('failed');
    expect(Date.now() - started).toBeLessThan(2000);
    const [{ error_code }] = await t().dataSource.query('SELECT error_code FROM messages WHERE id = $1', [id]);
    expect(error_code).toBe('turn_timeout');
  });
});
