import { randomUUID } from 'node:crypto';
import type { TurnResult } from '@parley/api-types';
import { RetryPolicy } from '../src/resilience/retry-policy.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { FakeOpenAiServer } from './support/fake-openai.server.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { ofType, parseSse } from './support/sse.js';

// The provider's own advice (Retry-After) outlasts our backoff here by far: the next attempt
// must not come before it, end to end (the adapter reads it, the policy waits it out). The chain
// is the in-process demo provider, then the OpenAI-compatible one; both fail the first attempt,
// the second (the retry) is answered by the demo provider.
describe(`${RetryPolicy.name} with a provider's Retry-After`, () => {
  let upstream: FakeOpenAiServer;
  beforeAll(async () => {
    upstream = await new FakeOpenAiServer().start();
  });
  afterAll(async () => {
    await upstream.close();
  });
  beforeEach(() => {
    upstream.reset();
    demo().reset();
  });

  const t = useTestApp(() => ({
    OPENAI_BASE_URL: upstream.baseUrl,
    OPENAI_MODEL: 'fake-model',
    RETRY_BASE_DELAY_MS: '10',
    RETRY_MAX_DELAY_MS: '20',
    SIGNUP_TOKEN_GRANT: '1000000',
  }));

  const demo = () => t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);

  it('waits out Retry-After (seconds) before the next attempt of a JSON turn, and records the wait', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    demo().enqueueFaults({ kind: 'http_503' });
    upstream.enqueueFaults({ type: 'http_429', retryAfter: '1' });
    const started = Date.now();
    const turn = (
      await t()
        .http.post(`/api/v1/chats/${chat.id}/messages`)
        .set('Authorization', `Bearer ${accessToken}`)
        .send({ content: 'Patience' })
        .expect(201)
    ).body as TurnResult;
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(turn).toMatchObject({ retries: 1, provider: 'demo' });
    expect(demo().requests()).toHaveLength(2);
    expect(upstream.requests()).toHaveLength(1);
    const manifest = await t()
      .http.get(`/api/v1/chats/${chat.id}/messages/${turn.assistantMessage.id}/manifest`)
      .set('Authorization', `Bearer ${accessToken}`)
      .expect(200);
    expect(manifest.body.attempts.slice(0, 2)).toEqual([
      expect.objectContaining({ provider: 'demo', errorCode: 'provider_unavailable' }),
      expect.objectContaining({ provider: 'openai-compatible', errorCode: 'provider_rate_limited' }),
    ]);
    expect(manifest.body.attempts.map((a: { retryDelayMs: number | null }) => a.retryDelayMs)).toContain(1000);
  });

  it('waits out retry-after-ms before the next attempt of a streamed turn, and tells the client', async () => {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    demo().enqueueFaults({ kind: 'http_503' });
    upstream.enqueueFaults({ type: 'http_429', retryAfterMs: 700 });
    const started = Date.now();
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages/stream`)
      .set('Authorization', `Bearer ${accessToken}`)
      .set('Idempotency-Key', randomUUID())
      .send({ content: 'Patience' })
      .expect(200);
    const events = parseSse(response.text);
    expect(ofType(events, 'retry')).toEqual([expect.objectContaining({ delayMs: 700 })]);
    expect(events.at(-1)?.data.type).toBe('done');
    expect(Date.now() - started).toBeGreaterThanOrEqual(700);
  });
});
