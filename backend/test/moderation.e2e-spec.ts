import { ModerationService } from '../src/moderation/moderation.service.js';
import { MessagesRepository } from '../src/chats/messages.repository.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { randomUUID } from 'node:crypto';
import { ofType, parseSse } from './support/sse.js';

// `zorblax-canary` is the policy's test category: a block without real harmful text.
const CANARY = 'zorblax-canary';

describe(ModerationService.name, () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '10000000', RETRY_BASE_DELAY_MS: '10', RETRY_MAX_DELAY_MS: '20' });
  let token: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const demo = () => t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);

  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
  });
  beforeEach(() => demo().reset());

  const lastReply = async (chatId: string) =>
    (
      await t().dataSource.query(
        `SELECT m.id, m.status, m.error_code, m.content, m.metadata,
           (SELECT coalesce(sum(amount), 0)::int FROM token_ledger WHERE message_id = m.id) AS net
         FROM messages m WHERE m.chat_id = $1 AND m.role = 'assistant' ORDER BY m.seq DESC LIMIT 1`,
        [chatId],
      )
    )[0];

  it('refuses a blocked input with 422 and its category before anything is stored or sent', async () => {
    const chat = await createChat(t(), token);
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set(auth())
      .send({ content: `Say ${CANARY.toUpperCase().split('').join(' ')} for me` })
      .expect(422);
    expect(response.body.code).toBe('content_blocked');
    expect(response.body.errors).toEqual([expect.objectContaining({ keyword: 'content_policy', pointer: '/content' })]);
    expect(response.body.errors[0].message).toContain('test_canary');
    expect(JSON.stringify(response.body)).not.toMatch(/zorblax/i);
    expect(demo().requests()).toHaveLength(0);
    const [{ count }] = await t().dataSource.query('SELECT count(*)::int AS count FROM messages WHERE chat_id = $1', [
      chat.id,
    ]);
    expect(count).toBe(1);
  });

  it('checks the input again on regenerate', async () => {
    const chat = await createChat(t(), token);
    // A message that passed an older policy, whose reply failed.
    const [, reply] = await t().dataSource.transaction((manager) =>
      t()
        .app.get(MessagesRepository)
        .append(manager, chat.id, [
          { role: 'user', content: `old ${CANARY}`, status: 'complete' },
          { role: 'assistant', content: '', status: 'failed', errorCode: 'provider_unavailable' },
        ]),
    );
    const [user] = await t().dataSource.query(`SELECT id FROM messages WHERE chat_id = $1 AND seq = 2`, [chat.id]);
    await t().dataSource.query('UPDATE messages SET reply_to_id = $2 WHERE id = $1', [reply!.id, user.id]);
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages/${reply!.id}/regenerate`)
      .set(auth())
      .expect(422);
    expect(response.body.code).toBe('content_blocked');
    expect(demo().requests()).toHaveLength(0);
  });

  it('fails a blocked reply uncharged, without retrying, and records the verdict', async () => {
    const chat = await createChat(t(), token);
    demo().enqueueFaults({ kind: 'reply', text: `Of course. ${CANARY} is what you asked for.` });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set(auth())
      .send({ content: 'Go on' })
      .expect(422);
    expect(response.body.code).toBe('content_blocked');
    expect(demo().requests()).toHaveLength(1);
    const reply = await lastReply(chat.id);
    expect(reply).toMatchObject({ status: 'failed', error_code: 'content_blocked', content: '', net: 0 });
    expect(reply.metadata.moderation).toEqual({
      allowed: false,
      category: 'test_canary',
      source: 'policy',
      stage: 'output',
    });
  });

  it('stops a streamed reply before the blocked words reach the client', async () => {
    const chat = await createChat(t(), token);
    demo().enqueueFaults({
      kind: 'reply',
      text: `The survey is going well and the crew is in good spirits today. Then ${CANARY} appeared on the scanner.`,
    });
    const response = await t()
      .http.post(`/api/v1/chats/${chat.id}/messages/stream`)
      .set(auth())
      .set('Idempotency-Key', randomUUID())
      .send({ content: 'Report' })
      .expect(200);
    const events = parseSse(response.text);
    const shown = ofType(events, 'delta')
      .map((e) => e.text)
      .join('');
    expect(shown.length).toBeGreaterThan(0);
    expect(shown).not.toMatch(/zorblax/i);
    expect(events.at(-1)).toMatchObject({ event: 'error', data: { problem: { code: 'content_blocked' } } });
    expect(await lastReply(chat.id)).toMatchObject({
      status: 'failed',
      error_code: 'content_blocked',
      content: '',
      net: 0,
    });
  });

  it("records a provider's own safety block as such", async () => {
    const chat = await createChat(t(), token);
    demo().enqueueFaults({ kind: 'safety_block' });
    await t().http.post(`/api/v1/chats/${chat.id}/messages`).set(auth()).send({ content: 'Hmm' }).expect(422);
    expect((await lastReply(chat.id)).metadata.moderation).toEqual({
      allowed: false,
      category: 'SAFETY',
      source: 'provider',
      stage: 'output',
    });
  });

  it('lets ordinary conversation through', async () => {
    const chat = await createChat(t(), token);
    await t()
      .http.post(`/api/v1/chats/${chat.id}/messages`)
      .set(auth())
      .send({ content: 'What skills does the crew have?' })
      .expect(201);
    expect((await lastReply(chat.id)).metadata.moderation).toMatchObject({ allowed: true });
  });
});
