import { randomUUID } from 'node:crypto';
import type { TurnResult } from '@parley/api-types';
import { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { ReplyCache } from '../src/resilience/reply-cache/reply-cache.js';
import { useTestApp, type TestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { ofType, parseSse } from './support/sse.js';
import { startRedis } from './support/redis.js';
import { Redis } from 'ioredis';

// "Gemini" is a Gemini-protocol server in this test, which can be made to fail every call; the
// in-process demo provider is the configured last resort (FALLBACK_MODE=demo). Order when every
// real provider fails: a cached reply to the identical request, then the demo fallback.
describe(`${ReplyCache.name}: the cached degraded fallback`, () => {
  let gemini: DemoGeminiServer;
  beforeAll(async () => {
    gemini = await DemoGeminiServer.start();
  });
  afterAll(async () => {
    await gemini.close();
  });
  beforeEach(() => gemini.reset());

  const env = (extra: Record<string, string>) => () => ({
    GEMINI_API_KEY: 'test-key',
    GEMINI_BASE_URL: gemini.baseUrl,
    FALLBACK_MODE: 'demo',
    RETRY_MAX_ATTEMPTS: '2',
    RETRY_BASE_DELAY_MS: '10',
    RETRY_MAX_DELAY_MS: '20',
    SIGNUP_TOKEN_GRANT: '100000',
    ...extra,
  });

  describe.each([['PostgreSQL'], ['Redis']])('on (PROVIDER_CACHED_FALLBACK=true), kept in %s', (kind) => {
    let redis: Awaited<ReturnType<typeof startRedis>> | undefined;
    let client: Redis | undefined;
    beforeAll(async () => {
      if (kind !== 'Redis') return;
      redis = await startRedis();
      client = new Redis(redis.url);
    });
    const t = useTestApp(() => ({
      ...env({ PROVIDER_CACHED_FALLBACK: 'true', PROVIDER_CACHED_FALLBACK_ENTRIES: '3' })(),
      ...(redis ? { REDIS_URL: redis.url } : {}),
    }));
    // After the app (hooks run in the order they are declared): its client quits first.
    afterAll(async () => {
      await client?.quit();
      await redis?.stop();
    });
    // How many replies the store holds.
    const stored = async (): Promise<number> =>
      client
        ? client.hlen('parley:replies')
        : (
            (await t().dataSource.query('SELECT count(*)::int AS count FROM provider_reply_cache')) as [
              { count: number },
            ]
          )[0].count;
    const cacheHolds = (_: TestApp, rows: number) => waitUntil(stored, rows);

    it('answers an identical prompt from the cache when every provider fails: degraded, same text, not charged', async () => {
      const { accessToken } = await registerUser(t());
      const first = await send(t(), accessToken, 'Where is the signal coming from?');
      expect(first).toMatchObject({ provider: 'gemini', degraded: false });
      await cacheHolds(t(), 1);
      const balanceBefore = await balance(t(), accessToken);

      gemini.setFailureRate(1, ['http_503']);
      const repeat = await send(t(), accessToken, 'Where is the signal coming from?');
      expect(repeat).toMatchObject({ provider: 'cache', degraded: true, usage: { totalTokens: 0 } });
      expect(repeat.assistantMessage).toMatchObject({ content: first.assistantMessage.content, degraded: true });
      expect(repeat.tokenBalance).toBe(balanceBefore);
      expect(await balance(t(), accessToken)).toBe(balanceBefore);
      // The reservation was released, never settled.
      const ledger = (await t().dataSource.query(
        'SELECT kind, sum(amount)::int AS delta FROM token_ledger WHERE message_id = $1 GROUP BY kind ORDER BY kind',
        [repeat.assistantMessage.id],
      )) as Array<{ kind: string; delta: number }>;
      expect(ledger.map((row) => row.kind)).toEqual(['release', 'reservation']);
      expect(ledger.reduce((sum, row) => sum + row.delta, 0)).toBe(0);
      // Gemini was tried (and failed) before the cache answered; the demo fallback was not needed.
      expect(gemini.requests().length).toBeGreaterThanOrEqual(2);

      // A different prompt has no cached reply: the demo fallback answers, degraded as ever.
      const other = await send(t(), accessToken, 'Something nobody asked before');
      expect(other).toMatchObject({ provider: 'demo', degraded: true });
      expect(other.assistantMessage.content).not.toBe(first.assistantMessage.content);
    });

    it('streams a cached reply as its text, then done, marked degraded', async () => {
      const { accessToken } = await registerUser(t());
      const first = await send(t(), accessToken, 'Hail the ice moon');
      await cacheHolds(t(), 2);
      gemini.setFailureRate(1, ['http_503']);
      const chat = await createChat(t(), accessToken);
      const response = await t()
        .http.post(`/api/v1/chats/${chat.id}/messages/stream`)
        .set('Authorization', `Bearer ${accessToken}`)
        .set('Idempotency-Key', randomUUID())
        .send({ content: 'Hail the ice moon' })
        .expect(200);
      const events = parseSse(response.text);
      expect(
        ofType(events, 'delta')
          .map((e) => e.text)
          .join(''),
      ).toBe(first.assistantMessage.content);
      expect(events.at(-1)?.data).toMatchObject({ type: 'done', result: { provider: 'cache', degraded: true } });
    });

    it('keeps only the newest PROVIDER_CACHED_FALLBACK_ENTRIES replies', async () => {
      const { accessToken } = await registerUser(t());
      const prompts = ['One', 'Two', 'Three', 'Four'];
      for (const prompt of prompts) await send(t(), accessToken, prompt);
      await cacheHolds(t(), 3);
      await new Promise((r) => setTimeout(r, 200));
      expect(await stored()).toBe(3);
      // The oldest of the four went: asked again with every provider failing, it gets the demo fallback.
      gemini.setFailureRate(1, ['http_503']);
      expect(await send(t(), accessToken, 'One')).toMatchObject({ provider: 'demo' });
      expect(await send(t(), accessToken, 'Four')).toMatchObject({ provider: 'cache' });
    });
  });

  describe('off (the default)', () => {
    const t = useTestApp(env({}));

    it('never answers from a cache: the demo fallback answers the identical prompt', async () => {
      const { accessToken } = await registerUser(t());
      const first = await send(t(), accessToken, 'Where is the signal coming from?');
      expect(first).toMatchObject({ provider: 'gemini', degraded: false });
      gemini.setFailureRate(1, ['http_503']);
      const repeat = await send(t(), accessToken, 'Where is the signal coming from?');
      expect(repeat).toMatchObject({ provider: 'demo', degraded: true });
      const [{ count }] = (await t().dataSource.query(
        'SELECT count(*)::int AS count FROM provider_reply_cache',
      )) as Array<{ count: number }>;
      expect(count).toBe(0);
    });
  });

  describe('on, with no demo fallback', () => {
    const t = useTestApp(env({ PROVIDER_CACHED_FALLBACK: 'true', FALLBACK_MODE: 'none' }));

    it('answers an identical prompt from the cache; a different one fails as before (503 provider_unavailable)', async () => {
      const { accessToken } = await registerUser(t());
      const first = await send(t(), accessToken, 'Report, helmsman');
      await cacheHolds(t(), 1);
      gemini.setFailureRate(1, ['http_503']);
      expect(await send(t(), accessToken, 'Report, helmsman')).toMatchObject({
        provider: 'cache',
        degraded: true,
        assistantMessage: { content: first.assistantMessage.content },
      });
      const chat = await createChat(t(), accessToken);
      const failed = await t()
        .http.post(`/api/v1/chats/${chat.id}/messages`)
        .set('Authorization', `Bearer ${accessToken}`)
        .send({ content: 'A question never answered' });
      expect(failed.status).toBe(503);
      expect(failed.body).toMatchObject({ code: 'provider_unavailable' });
    });
  });
});

// Each prompt in a new chat with the same character: the provider request is then identical.
async function send(t: TestApp, token: string, content: string): Promise<TurnResult> {
  const chat = await createChat(t, token);
  const response = await t.http
    .post(`/api/v1/chats/${chat.id}/messages`)
    .set('Authorization', `Bearer ${token}`)
    .send({ content })
    .expect(201);
  return response.body as TurnResult;
}

async function balance(t: TestApp, token: string): Promise<number> {
  const me = await t.http.get('/api/v1/me').set('Authorization', `Bearer ${token}`).expect(200);
  return (me.body as { tokenBalance: number }).tokenBalance;
}

// The cache is written in the background after a successful reply.
async function waitUntil(stored: () => Promise<number>, rows: number): Promise<void> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const count = await stored();
    if (count >= rows) return;
    if (Date.now() > deadline) throw new Error(`the reply cache holds ${count} replies, not ${rows}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function cacheHolds(t: TestApp, rows: number): Promise<void> {
  await waitUntil(async () => {
    const [{ count }] = (await t.dataSource.query('SELECT count(*)::int AS count FROM provider_reply_cache')) as Array<{
      count: number;
    }>;
    return count;
  }, rows);
}
