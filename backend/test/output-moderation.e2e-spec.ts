import { randomUUID } from 'node:crypto';
import { ModerationService } from '../src/moderation/moderation.service.js';
import { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { FakeOpenAiServer, splitText, type FakeOpenAiFault } from './support/fake-openai.server.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { ofType, parseSse, type SseEvent } from './support/sse.js';

// `zorblax-canary` is the policy's test category. The reply is cut into chunks at every possible
// place, so a check that looks at one chunk instead of the text so far lets some cut through.
const REPLY = 'Yes: zorblax-canary, sir.';
const POSITIONS = Array.from({ length: Array.from(REPLY).length - 1 }, (_, i) => i + 1);

describe('Output moderation, whatever the chunks and whichever attempt answers', () => {
  // Gemini (the Gemini-protocol demo server) first, an OpenAI-compatible server behind it.
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
    OPENAI_BASE_URL: secondary.baseUrl,
    OPENAI_MODEL: 'fake-model',
    RETRY_BASE_DELAY_MS: '5',
    RETRY_MAX_DELAY_MS: '10',
    // Every turn here fails one way or another; the breakers must not end the walk early.
    PROVIDER_BREAKER_MIN_CALLS: '100000',
    CHAT_BREAKER_THRESHOLD: '1000',
    SIGNUP_TOKEN_GRANT: '100000000',
  }));
  let token: string;
  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
  });

  const allowed = (text: string) => t().app.get(ModerationService).check(text, 'output', 'en').allowed;

  /** Streams one turn (the first provider fails over to the second, which answers `reply`). */
  async function streamTurn(...secondaryFaults: FakeOpenAiFault[]): Promise<{ events: SseEvent[]; shown: string }> {
    primary.enqueueFaults(...secondaryFaults.map(() => ({ kind: 'http_503' as const })));
    secondary.enqueueFaults(...secondaryFaults);
    const chat = await createChat(t(), token);
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages/stream`)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', randomUUID())
      .send({ content: 'Say it' })
      .expect(200);
    const events = parseSse(response.text);
    const shown = ofType(events, 'delta')
      .map((e) => e.text)
      .join('');
    return { events, shown };
  }

  it('cuts the reply where it is asked to', () => {
    expect(splitText('abcdef', [2, 4])).toEqual(['ab', 'cd', 'ef']);
    expect(splitText('a😀b', 'characters')).toEqual(['a', '😀', 'b']);
    expect(splitText('ab', [0, 2, 5])).toEqual(['ab']);
    expect(POSITIONS.every((at) => splitText(REPLY, [at]).join('') === REPLY)).toBe(true);
    expect(allowed(REPLY)).toBe(false);
  });

  it('blocks a streamed reply cut in two at every position, before the blocked words are shown', async () => {
    const outcomes = [];
    for (const at of POSITIONS) {
      const { events, shown } = await streamTurn({ type: 'reply', text: REPLY, split: [at] });
      outcomes.push({ at, shownAllowed: allowed(shown), last: events.at(-1)?.data });
    }
    expect(outcomes).toEqual(
      POSITIONS.map((at) => ({
        at,
        shownAllowed: true,
        last: expect.objectContaining({ type: 'error', problem: expect.objectContaining({ code: 'content_blocked' }) }),
      })),
    );
  });

  it('blocks a streamed reply sent one character per chunk', async () => {
    const { events, shown } = await streamTurn({ type: 'reply', text: REPLY, split: 'characters' });
    expect(ofType(events, 'delta').length).toBeGreaterThan(1);
    expect(allowed(shown)).toBe(true);
    expect(events.at(-1)?.data).toMatchObject({ type: 'error', problem: { code: 'content_blocked' } });
  });

  it('blocks the reply of a later attempt: after a failover and after a retry, cut at every position', async () => {
    const outcomes = [];
    for (const at of POSITIONS) {
      // Attempt 1: the primary fails, the secondary fails (failover); attempt 2 (a retry): the
      // primary fails again and the secondary answers with the blocked reply.
      const { events, shown } = await streamTurn({ type: 'http_503' }, { type: 'reply', text: REPLY, split: [at] });
      outcomes.push({
        at,
        retried: ofType(events, 'retry').length,
        failedOver: ofType(events, 'provider').some((e) => e.failover),
        shownAllowed: allowed(shown),
        last: events.at(-1)?.data,
      });
    }
    expect(outcomes).toEqual(
      POSITIONS.map((at) => ({
        at,
        retried: 1,
        failedOver: true,
        shownAllowed: true,
        last: expect.objectContaining({ type: 'error', problem: expect.objectContaining({ code: 'content_blocked' }) }),
      })),
    );
  });

  it('blocks the JSON form too, after a failover, uncharged', async () => {
    const { accessToken, user } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    primary.enqueueFaults({ kind: 'http_503' });
    secondary.enqueueFaults({ type: 'reply', text: REPLY, split: 'characters' });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set('Authorization', `Bearer ${accessToken}`)
      .send({ content: 'Say it' })
      .expect(422);
    expect(response.body.code).toBe('content_blocked');
    expect(secondary.requests()).toHaveLength(1);
    const me = await t().http.get('/api/v1/me').set('Authorization', `Bearer ${accessToken}`).expect(200);
    expect(me.body.tokenBalance).toBe(user.tokenBalance);
  });
});
