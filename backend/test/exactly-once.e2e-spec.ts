import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Chat, Message, MessagePage } from '@parley/api-types';
import { freePort, startEmbeddedPostgres, type EmbeddedDatabase } from '../src/database/embedded-postgres.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { call, exited, start, type Running } from './support/process-app.js';
import { LiveStream, listen } from './support/live.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

// The sweep of interrupted turns ends a dead reply once it is past any turn's deadline (plus
// 10 s) and runs every 10 s: with a short deadline a repeat learns the outcome within ~30 s.
const OUTCOME_WITHIN_MS = 60_000;

/**
 * Exactly once across crashes (issue 17, item 1): a request with an Idempotency-Key whose first
 * attempt was cut off — by kill -9 of the app, or by PostgreSQL stopping — and that is repeated
 * with the same key as the 409's Retry-After says, is answered with the first attempt's outcome
 * (its reply, ended as interrupted), never with a second generation.
 */
describe('exactly once after a crash', () => {
  describe('kill -9 of the app mid-turn, then the same key on a fresh instance', () => {
    let dataDir: string;
    let running: Running | undefined;

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'parley-exactly-once-'));
      await chmod(dataDir, 0o755);
    });
    afterAll(async () => {
      if (running?.child.exitCode === null) {
        running.child.kill('SIGKILL');
        await exited(running.child);
      }
      await rm(dataDir, { recursive: true, force: true });
    });

    it('replays the interrupted reply for the JSON and the streaming form; the chat holds each message once', async () => {
      // Slow replies (a 3 s wait for the provider's first byte), so both turns are surely stored
      // and unfinished when the process dies.
      const slow = { DEMO_FIRST_BYTE_DELAY_MS: '3000', DEMO_CHUNK_DELAY_MS: '100', TURN_RATE_LIMIT_PER_MINUTE: '0' };
      running = await start(dataDir, slow);
      const base = running.base;
      const registered = await call(base, '/api/v1/auth/register', {
        method: 'POST',
        body: { email: `crash-${randomUUID()}@example.com`, password: 'exactly once please' },
      });
      const token = registered.body.accessToken as string;
      const balance = (await call(base, '/api/v1/me', { token })).body.tokenBalance as number;
      const newChat = async () =>
        (await call(base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } })).body.id;
      const [jsonChat, streamChat] = [await newChat(), await newChat()];
      const [jsonKey, streamKey] = [randomUUID(), randomUUID()];
      const send = (where: string, chatId: string, key: string, content: string) =>
        fetch(`${where}/api/v1/chats/${chatId}/messages${key === streamKey ? '/stream' : ''}`, {
          method: 'POST',
          headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json', 'Idempotency-Key': key },
          body: JSON.stringify({ content }),
        });
      const first = [
        send(base, jsonChat, jsonKey, 'Are we still on course?').catch(() => undefined),
        send(base, streamChat, streamKey, 'Report, captain.')
          .then((r) => r.text())
          .catch(() => undefined),
      ];
      // Both replies stored and not finished when the process dies.
      const stored = async (chatId: string) =>
        ((await call(base, `/api/v1/chats/${chatId}/messages`, { token })).body as MessagePage).items;
      await until(async () => {
        const last = await Promise.all([jsonChat, streamChat].map(async (chatId) => (await stored(chatId)).at(-1)));
        return last.every((m) => m?.role === 'assistant' && ['pending', 'streaming'].includes(m.status));
      }, 20_000);
      running.child.kill('SIGKILL');
      await exited(running.child);
      await Promise.all(first);

      running = await start(dataDir, { ...slow, TURN_TIMEOUT_MS: '2000' });
      const again = running.base;
      // The JSON form: 409 in flight while the dead reply is not yet ended, then its outcome.
      const statuses: number[] = [];
      let answer: Response | undefined;
      const deadline = Date.now() + OUTCOME_WITHIN_MS;
      for (;;) {
        answer = await send(again, jsonChat, jsonKey, 'Are we still on course?');
        statuses.push(answer.status);
        if (answer.status !== 409 || Date.now() > deadline) break;
        expect(answer.headers.get('retry-after')).toMatch(/^\d+$/);
        await answer.body?.cancel();
        await sleep(Number(answer.headers.get('retry-after')) * 1000);
      }
      const outcome = (await answer.json()) as { code: string; status: number };
      expect(answer.status).toBe(503);
      expect(outcome.code).toBe('turn_interrupted');
      // The outcome is recorded: the same again, at once.
      const repeated = await send(again, jsonChat, jsonKey, 'Are we still on course?');
      expect(repeated.status).toBe(503);
      expect(((await repeated.json()) as { code: string }).code).toBe('turn_interrupted');

      // The streaming form follows the first attempt's reply to its end.
      const streamed = await (await send(again, streamChat, streamKey, 'Report, captain.')).text();
      expect(streamed).toContain('event: turn_started');
      expect(streamed.match(/event: (done|error)/g)).toEqual(['event: error']);
      expect(streamed).toContain('"code":"turn_interrupted"');

      const expectOnce = async (chatId: string, content: string) => {
        const messages: Message[] = (
          (await call(again, `/api/v1/chats/${chatId}/messages`, { token })).body as MessagePage
        ).items;
        // The greeting, the user's message once, and the one reply it got (interrupted).
        expect(messages.map((m) => [m.role, m.status, m.role === 'user' ? m.content : m.errorCode])).toEqual([
          ['assistant', 'complete', null],
          ['user', 'complete', content],
          ['assistant', 'failed', 'turn_interrupted'],
        ]);
      };
      await expectOnce(jsonChat, 'Are we still on course?');
      await expectOnce(streamChat, 'Report, captain.');
      // Nothing charged for the interrupted replies.
      expect((await call(again, '/api/v1/me', { token })).body.tokenBalance).toBe(balance);
      process.stdout.write(
        `exactly-once: kill -9 then retry: ${statuses.filter((s) => s === 409).length} × 409, then the first outcome\n`,
      );
    });
  });

  describe('PostgreSQL stops at the end of a keyed turn, then the same key after it is back', () => {
    let dir: string;
    let port: number;
    let database: EmbeddedDatabase | undefined;
    const startDatabase = async () => {
      database = await startEmbeddedPostgres(dir, { persistent: true, port });
    };
    const stopDatabase = async () => {
      const running = database;
      database = undefined;
      await running?.stop();
    };

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'parley-exactly-once-db-'));
      await chmod(dir, 0o755);
      port = await freePort();
      await startDatabase();
    });
    afterAll(async () => {
      await stopDatabase();
      await rm(dir, { recursive: true, force: true });
    });

    describe('on that database', () => {
      const t = useTestApp(() => ({
        DATABASE_URL: database!.url,
        DATABASE_CONNECT_TIMEOUT_MS: '1000',
        DATABASE_QUERY_TIMEOUT_MS: '3000',
        TURN_TIMEOUT_MS: '6000',
        CHECKPOINT_INTERVAL_MS: '50',
      }));
      const demo = () => t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);

      it('ends the stream with an error event, then replays the interrupted reply: no second generation', async () => {
        const base = await listen(t().app);
        const { accessToken: token } = await registerUser(t());
        const auth = { Authorization: `Bearer ${token}` };
        const chat: Chat = await createChat(t(), token);
        const key = randomUUID();
        // The provider holds its answer back, so PostgreSQL stops after the messages are stored and
        // before the reply is committed: the end of the turn meets a database that is gone.
        demo().enqueueFaults({ kind: 'first_byte_delay', delayMs: 3000 });
        const stream = new LiveStream(`${base}/api/v1/chats/${chat.id}/messages/stream`, {
          method: 'POST',
          headers: { ...auth, 'Idempotency-Key': key },
          body: { content: 'Hold the line' },
        });
        await stream.waitFor((events) => events.some((e) => e.data.type === 'turn_started'));
        await stopDatabase();
        await stream.finished;
        // Exactly one terminal event, an error, and the stream ended.
        const terminal = stream.events.filter((e) => e.event === 'done' || e.event === 'error');
        expect(terminal.map((e) => e.event)).toEqual(['error']);
        expect(stream.events.at(-1)).toBe(terminal[0]);

        await startDatabase();
        const statuses: number[] = [];
        let last: { status: number; body: { code?: string } };
        const deadline = Date.now() + OUTCOME_WITHIN_MS;
        for (;;) {
          const response = await t()
            .http.post(`/api/v1/chats/${chat.id}/messages`)
            .set(auth)
            .set('Idempotency-Key', key)
            .send({ content: 'Hold the line' });
          last = { status: response.status, body: response.body as { code?: string } };
          statuses.push(response.status);
          // 503 database_unavailable while the pool reconnects, 409 while the reply is not ended.
          if (![409, 503].includes(response.status) || last.body.code === 'turn_interrupted') break;
          if (Date.now() > deadline) break;
          await sleep(1000);
        }
        expect(last).toMatchObject({ status: 503, body: { code: 'turn_interrupted' } });
        const messages = (
          (await t().http.get(`/api/v1/chats/${chat.id}/messages`).set(auth).expect(200)).body as MessagePage
        ).items;
        expect(messages.map((m) => [m.role, m.status])).toEqual([
          ['assistant', 'complete'],
          ['user', 'complete'],
          ['assistant', 'failed'],
        ]);
        // The provider was asked once for this chat's turn (the reply to the held request).
        expect(demo().requests().length).toBe(1);
        process.stdout.write(`exactly-once: database stop then retry: answers ${statuses.join(',')}\n`);
      });
    });
  });
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
