import { ProviderRegistry } from '../src/providers/provider-registry.js';
import { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { FakeOpenAiServer } from './support/fake-openai.server.js';
import { useTestApp } from './support/test-app.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import { createChat, registerUser } from './support/factories.js';
import { randomUUID } from 'node:crypto';
import { ofType, parseSse } from './support/sse.js';

describe(ProviderRegistry.name, () => {
  // Gemini (a Gemini-protocol server here) first, an OpenAI-compatible server behind it.
  let primary: DemoGeminiServer;
  let secondary: FakeOpenAiServer;
  beforeAll(async () => {
    primary = await DemoGeminiServer.start({ host: '127.0.0.1', port: 0 });
    secondary = await new FakeOpenAiServer().start();
  });
  afterAll(async () => {
    await primary.close();
    await secondary.close();
  });
  beforeEach(() => {
    primary.reset();
    secondary.reset();
  });

  const t = useTestApp(() => ({
    GEMINI_API_KEY: 'test-key',
    GEMINI_BASE_URL: primary.baseUrl,
    GEMINI_MODEL: 'gemini-test',
    OPENAI_BASE_URL: secondary.baseUrl,
    OPENAI_MODEL: 'fake-model',
    RETRY_BASE_DELAY_MS: '10',
    RETRY_MAX_DELAY_MS: '40',
    PROVIDER_BREAKER_MIN_CALLS: '3',
    PROVIDER_BREAKER_RESET_MS: '60000',
    SIGNUP_TOKEN_GRANT: '1000000',
  }));

  it('fails over from a failing primary to the secondary within the same turn', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    primary.enqueueFaults({ kind: 'http_503' });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages/stream`)
      .set('Authorization', `Bearer ${accessToken}`)
      .set('Idempotency-Key', randomUUID())
      .send({ content: 'Anyone out there?' })
      .expect(200);
    const events = parseSse(response.text);
    expect(ofType(events, 'provider').map((e) => [e.provider, e.failover])).toEqual([
      ['gemini', false],
      ['openai-compatible', true],
    ]);
    expect(events.map((e) => e.data.type)).not.toContain('retry');
    const done = events.at(-1)!.data;
    expect(done.type).toBe('done');
    const turn = ofType(events, 'done')[0]!.result;
    expect(turn).toMatchObject({ provider: 'openai-compatible', model: 'fake-model', retries: 0 });
    expect(turn.assistantMessage.content).toBe(
      ofType(events, 'delta')
        .map((e) => e.text)
        .join(''),
    );
    expect(primary.requests()).toHaveLength(1);
    expect(secondary.requests()).toHaveLength(1);
    expect(secondary.requests()[0]!.messages.at(-1)).toEqual({ role: 'user', content: 'Anyone out there?' });

    const manifest = await t()
      .http.get(`/api/v1/chats/${chat.id}/messages/${turn.assistantMessage.id}/manifest`)
      .set('Authorization', `Bearer ${accessToken}`)
      .expect(200);
    expect(
      manifest.body.attempts.map(
        (a: { provider: string; outcome: string; errorCode: string | null; failover: boolean }) => [
          a.provider,
          a.outcome,
          a.errorCode,
          a.failover,
        ],
      ),
    ).toEqual([
      ['gemini', 'error', 'provider_unavailable', false],
      ['openai-compatible', 'success', null, true],
    ]);
  });

  it('does not fail over a content block', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    primary.enqueueFaults({ kind: 'safety_block' });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ content: 'Something risky' })
      .expect(422);
    expect(response.body.code).toBe('content_blocked');
    expect(secondary.requests()).toHaveLength(0);
  });

  it('takes a provider out of rotation once its breaker opens, so turns go straight to the next', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    primary.enqueueFaults({ kind: 'http_500' }, { kind: 'http_500' }, { kind: 'http_500' });
    for (let i = 0; i < 3; i++) {
      const ok = await t()
        .http.post(`/api/v1/chats/${chat.id}/messages`)
        .set('Authorization', `Bearer ${accessToken}`)
        .send({ content: `turn ${i}` })
        .expect(201);
      expect(ok.body.provider).toBe('openai-compatible');
    }
    const health = t().app.get(ProviderRegistry).health();
    expect(health.find((h) => h.name === 'gemini')).toMatchObject({ breakerState: 'open', status: 'unhealthy' });
    const calls = primary.requests().length;
    await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ content: 'straight to the secondary' })
      .expect(201);
    expect(primary.requests()).toHaveLength(calls);
  });

  it('ignores X-Debug-Force-Error when DEBUG_FAULTS is off', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${accessToken}`)
      .set('X-Debug-Force-Error', 'provider_503')
      .send({ content: 'no faults here' })
      .expect(201);
  });
});

describe('Fallback to the demo provider', () => {
  let primary: DemoGeminiServer;
  beforeAll(async () => {
    primary = await DemoGeminiServer.start({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => primary.close());

  const t = useTestApp(() => ({
    GEMINI_API_KEY: 'test-key',
    GEMINI_BASE_URL: primary.baseUrl,
    FALLBACK_MODE: 'demo',
    SIGNUP_TOKEN_GRANT: '1000000',
  }));

  it('answers from the demo provider when every real provider fails, degraded and uncharged', async () => {
    const { accessToken, user } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    primary.enqueueFaults({ kind: 'http_403' });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ content: 'Hello?' })
      .expect(201);
    expect(response.body).toMatchObject({ provider: 'demo', degraded: true, tokenBalance: user.tokenBalance });
    expect(response.body.assistantMessage).toMatchObject({ status: 'complete', degraded: true, provider: 'demo' });
    const [{ count }] = await t().dataSource.query(
      `SELECT count(*)::int AS count FROM token_ledger WHERE user_id = $1 AND kind = 'settlement'`,
      [user.id],
    );
    expect(count).toBe(0);
  });

  it('moderates the fallback reply too', async () => {
    const { accessToken, user } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    primary.enqueueFaults({ kind: 'http_403' });
    t()
      .app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER)
      .enqueueFaults({ kind: 'reply', text: 'Here: zorblax-canary.' });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ content: 'Hello?' })
      .expect(422);
    expect(response.body.code).toBe('content_blocked');
    expect((await t().http.get('/api/v1/me').set('Authorization', `Bearer ${accessToken}`)).body.tokenBalance).toBe(
      user.tokenBalance,
    );
  });
});

describe('Moderation across failover', () => {
  // The secondary answers with words the policy blocks; failing over must not route around it.
  let primary: DemoGeminiServer;
  let secondary: FakeOpenAiServer;
  beforeAll(async () => {
    primary = await DemoGeminiServer.start({ host: '127.0.0.1', port: 0 });
    secondary = await new FakeOpenAiServer({ reply: 'Ahoy! The zorblax-canary sings today.' }).start();
  });
  afterAll(async () => {
    await primary.close();
    await secondary.close();
  });

  const t = useTestApp(() => ({
    GEMINI_API_KEY: 'test-key',
    GEMINI_BASE_URL: primary.baseUrl,
    OPENAI_BASE_URL: secondary.baseUrl,
    OPENAI_MODEL: 'fake-model',
    RETRY_BASE_DELAY_MS: '10',
    RETRY_MAX_DELAY_MS: '20',
    SIGNUP_TOKEN_GRANT: '1000000',
  }));

  it('blocks a reply from the secondary after failover, without retrying or trying anything else', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    primary.enqueueFaults({ kind: 'http_503' });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ content: 'Sing for me' })
      .expect(422);
    expect(response.body.code).toBe('content_blocked');
    expect(primary.requests()).toHaveLength(1);
    expect(secondary.requests()).toHaveLength(1);
  });
});
