import type { Chat, Message } from '@parley/api-types';
import { MessagesRepository } from '../src/chats/messages.repository.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

// The export is made by the web app (frontend/src/chats/export.ts) from listMessages; the same
// shape is built here from the API.
describe('importChat', () => {
  const t = useTestApp();
  let token: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
  });

  async function messagesOf(chatId: string): Promise<Message[]> {
    const response = await t()
      .http.get(`/api/v1/chats/${chatId}/messages`)
      .query({ limit: 100 })
      .set(auth())
      .expect(200);
    return response.body.items as Message[];
  }

  it('round-trips every message of an exported chat', async () => {
    const chat = await createChat(t(), token);
    const repository = t().app.get(MessagesRepository);
    const contents = [
      'Where is the signal?',
      'From the ice moon. **Bold** and `code`.',
      '信号从哪里来？',
      'Emoji 🚀 ok',
    ];
    await t().dataSource.transaction((manager) =>
      repository.append(
        manager,
        chat.id,
        contents.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content, status: 'complete' }) as const),
      ),
    );
    await t().http.patch(`/api/v1/chats/${chat.id}`).set(auth()).send({ title: 'Exported' }).expect(200);
    const original = await messagesOf(chat.id);
    const exported = {
      format: 'parley.chat',
      version: 1,
      exportedAt: new Date().toISOString(),
      chat: { id: chat.id, title: 'Exported', characterId: chat.characterId, characterName: 'Captain Mira Voss' },
      messages: original.map(({ seq, role, content, status, createdAt, replyToId }) => ({
        seq,
        role,
        content,
        status,
        createdAt,
        replyToId,
      })),
    };

    const response = await t().http.post('/api/v1/chats/import').set(auth()).send(exported).expect(201);
    const imported = response.body as Chat;
    expect(imported.id).not.toBe(chat.id);
    expect(imported.title).toBe('Exported');
    expect(response.headers.location).toBe(`/api/v1/chats/${imported.id}`);
    const copy = await messagesOf(imported.id);
    expect(copy.map((m) => [m.seq, m.role, m.content, m.status])).toEqual(
      original.map((m) => [m.seq, m.role, m.content, 'complete']),
    );
  });

  it('keeps a stopped reply stopped and a cut-off reply continuable', async () => {
    const chat = await createChat(t(), token);
    const file = {
      format: 'parley.chat',
      version: 1,
      chat: { characterId: chat.characterId },
      messages: [
        { role: 'user', content: 'Where is the signal?', status: 'complete' },
        { role: 'assistant', content: 'The signal', status: 'cancelled', finishReason: 'stopped' },
        { role: 'user', content: 'Go on.', status: 'cancelled', finishReason: 'max_tokens' },
        { role: 'assistant', content: 'Fine.', status: 'failed', finishReason: 'error' },
        { role: 'user', content: 'Tell me a long story.', status: 'complete' },
        { role: 'assistant', content: 'Once, on the ice moon,', status: 'complete', finishReason: 'max_tokens' },
      ],
    };
    const imported = (await t().http.post('/api/v1/chats/import').set(auth()).send(file).expect(201)).body as Chat;
    const copy = await messagesOf(imported.id);
    expect(copy.map((m) => [m.role, m.status, m.finishReason])).toEqual([
      ['user', 'complete', null],
      ['assistant', 'cancelled', 'stopped'],
      // Only a reply is stopped or cut off; a failed reply is imported with its text, complete.
      ['user', 'complete', null],
      ['assistant', 'complete', 'stop'],
      ['user', 'complete', null],
      ['assistant', 'complete', 'max_tokens'],
    ]);

    // The cut-off reply, at the end of the path, is continued in place.
    const cut = copy[5]!;
    const continued = await t()
      .http.post(`/api/v1/chats/${imported.id}/messages/${cut.id}/continue`)
      .set(auth())
      .expect(201);
    expect(continued.body.assistantMessage.id).toBe(cut.id);
    expect(continued.body.assistantMessage.content.startsWith(cut.content)).toBe(true);
    expect(continued.body.assistantMessage.content.length).toBeGreaterThan(cut.content.length);
  });

  it('refuses what is not an export, and an unknown character, with clear codes', async () => {
    const base = { format: 'parley.chat', version: 1, chat: { characterId: 'captain-mira' } };
    const cases: [unknown, number, string][] = [
      [{ ...base, messages: [] }, 400, 'validation_failed'],
      [{ ...base, format: 'other', messages: [{ role: 'user', content: 'x' }] }, 400, 'validation_failed'],
      [{ ...base, messages: [{ role: 'system', content: 'x' }] }, 400, 'validation_failed'],
      [{ ...base, messages: [{ role: 'user', content: 'a\u0000b' }] }, 400, 'validation_failed'],
      [
        { ...base, chat: { characterId: 'no-such-character' }, messages: [{ role: 'user', content: 'x' }] },
        404,
        'character_not_found',
      ],
    ];
    for (const [body, status, code] of cases) {
      const response = await t()
        .http.post('/api/v1/chats/import')
        .set(auth())
        .send(body as object);
      expect({ status: response.status, code: response.body.code }).toEqual({ status, code });
    }
  });
});
