import { randomUUID } from 'node:crypto';
import type { Chat, Message } from '@parley/api-types';
import { ChatsController } from '../src/chats/chats.controller.js';
import { MessagesRepository } from '../src/chats/messages.repository.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

describe(ChatsController.name, () => {
  const t = useTestApp();
  let token: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });

  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
  });

  // Adds messages the way the generation pipeline will: through the repository, in a transaction.
  async function addMessages(chatId: string, count: number): Promise<void> {
    const repository = t().app.get(MessagesRepository);
    await t().dataSource.transaction((manager) =>
      repository.append(
        manager,
        chatId,
        Array.from(
          { length: count },
          (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `message ${i}`, status: 'complete' }) as const,
        ),
      ),
    );
  }

  describe('create', () => {
    it("starts the chat with the character's greeting as message 1", async () => {
      const response = await t()
        .http.post('/api/v1/chats')
        .set(auth())
        .send({ characterId: 'captain-mira' })
        .expect(201);
      const chat = response.body as Chat;
      expect(response.headers.location).toBe(`/api/v1/chats/${chat.id}`);
      expect(chat).toMatchObject({
        characterId: 'captain-mira',
        title: null,
        lastMessage: { role: 'assistant', status: 'complete' },
      });
      const character = await t().http.get('/api/v1/characters/captain-mira').expect(200);
      const messages = await t().http.get(`/api/v1/chats/${chat.id}/messages`).set(auth()).expect(200);
      expect(messages.body.items).toHaveLength(1);
      expect(messages.body.items[0]).toMatchObject({
        seq: 1,
        role: 'assistant',
        content: character.body.greeting,
        status: 'complete',
      });
    });

    it('greets in the language of the request', async () => {
      const response = await t()
        .http.post('/api/v1/chats')
        .set(auth())
        .set('Accept-Language', 'zh')
        .send({ characterId: 'captain-mira' })
        .expect(201);
      const character = await t().http.get('/api/v1/characters/captain-mira').set('Accept-Language', 'zh').expect(200);
      expect(response.body.lastMessage.content).toBe(
        Array.from(character.body.greeting as string)
          .slice(0, 200)
          .join(''),
      );
    });

    it('answers 404 character_not_found for an unknown character', async () => {
      const response = await t().http.post('/api/v1/chats').set(auth()).send({ characterId: 'nobody' }).expect(404);
      expect(response.body.code).toBe('character_not_found');
    });

    it('answers 400 for a title over 120 characters', async () => {
      const response = await t()
        .http.post('/api/v1/chats')
        .set(auth())
        .send({ characterId: 'captain-mira', title: 'x'.repeat(121) })
        .expect(400);
      expect(response.body.code).toBe('validation_failed');
    });
  });

  describe('list', () => {
    it('pages through chats most recently active first, with last-message previews', async () => {
      const own = (await registerUser(t())).accessToken;
      const chats: Chat[] = [];
      for (let i = 0; i < 5; i++) chats.push(await createChat(t(), own));
      // Activity in the oldest chat moves it to the top.
      await addMessages(chats[0]!.id, 2);
      const seen: Chat[] = [];
      let cursor: string | null | undefined;
      do {
        const response = await t()
          .http.get('/api/v1/chats')
          .query({ limit: 2, ...(cursor ? { cursor } : {}) })
          .set('Authorization', `Bearer ${own}`)
          .expect(200);
        expect(response.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...response.body.items);
        cursor = response.body.nextCursor;
      } while (cursor);
      expect(seen.map((c) => c.id)).toEqual([chats[0], chats[4], chats[3], chats[2], chats[1]].map((c) => c!.id));
      expect(seen[0]!.lastMessage).toMatchObject({ content: 'message 1', role: 'assistant' });
      const times = seen.map((c) => Date.parse(c.updatedAt));
      expect([...times].sort((a, b) => b - a)).toEqual(times);
    });

    it('answers 400 for a cursor it did not issue', async () => {
      const response = await t().http.get('/api/v1/chats').query({ cursor: 'bogus' }).set(auth()).expect(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors[0]).toMatchObject({ location: 'query', pointer: '/cursor' });
    });

    it("answers 400 for another user's cursor and for a position built by hand", async () => {
      const owner = (await registerUser(t())).accessToken;
      for (let i = 0; i < 3; i++) await createChat(t(), owner);
      const first = await t()
        .http.get('/api/v1/chats')
        .query({ limit: 1 })
        .set('Authorization', `Bearer ${owner}`)
        .expect(200);
      const cursor = first.body.nextCursor as string;
      await t().http.get('/api/v1/chats').query({ cursor }).set('Authorization', `Bearer ${owner}`).expect(200);
      const foreign = await t().http.get('/api/v1/chats').query({ cursor }).set(auth()).expect(400);
      expect(foreign.body.errors[0]).toMatchObject({ location: 'query', pointer: '/cursor' });
      // What cursors used to be: the position in plain base64url JSON, easy to forge.
      const forged = Buffer.from(JSON.stringify(['2999-01-01T00:00:00.000Z', crypto.randomUUID()])).toString(
        'base64url',
      );
      await t().http.get('/api/v1/chats').query({ cursor: forged }).set('Authorization', `Bearer ${owner}`).expect(400);
    });

    it.each(['0', '101', '-5', '100000000000000000000', 'ten', '1.5'])('answers 400 for limit=%s', async (limit) => {
      const response = await t().http.get('/api/v1/chats').query({ limit }).set(auth()).expect(400);
      expect(response.body.code).toBe('validation_failed');
      expect(response.body.errors[0]).toMatchObject({ location: 'query', pointer: '/limit' });
    });
  });

  describe('rename', () => {
    it('sets the title', async () => {
      const chat = await createChat(t(), token);
      const response = await t()
        .http.patch(`/api/v1/chats/${chat.id}`)
        .set(auth())
        .send({ title: '  Voyage log  ' })
        .expect(200);
      expect(response.body).toMatchObject({ id: chat.id, title: 'Voyage log' });
      expect((await t().http.get(`/api/v1/chats/${chat.id}`).set(auth()).expect(200)).body.title).toBe('Voyage log');
    });

    it.each([
      ['empty', ''],
      ['too long', 'x'.repeat(121)],
    ])('answers 400 for a title that is %s', async (_name, title) => {
      const chat = await createChat(t(), token);
      const response = await t().http.patch(`/api/v1/chats/${chat.id}`).set(auth()).send({ title }).expect(400);
      expect(response.body.code).toBe('validation_failed');
    });
  });

  describe('delete', () => {
    it('removes the chat and its messages', async () => {
      const chat = await createChat(t(), token);
      await addMessages(chat.id, 3);
      await t().http.delete(`/api/v1/chats/${chat.id}`).set(auth()).expect(204);
      await t().http.get(`/api/v1/chats/${chat.id}`).set(auth()).expect(404);
      const [{ count }] = await t().dataSource.query('SELECT count(*)::int AS count FROM messages WHERE chat_id = $1', [
        chat.id,
      ]);
      expect(count).toBe(0);
      const again = await t().http.delete(`/api/v1/chats/${chat.id}`).set(auth()).expect(404);
      expect(again.body.code).toBe('chat_not_found');
    });
  });

  describe('messages', () => {
    it('pages backwards with before and limit, each page in ascending seq', async () => {
      const chat = await createChat(t(), token);
      await addMessages(chat.id, 9); // seq 2..10
      const seqs: number[][] = [];
      let before: number | null | undefined;
      do {
        const response = await t()
          .http.get(`/api/v1/chats/${chat.id}/messages`)
          .query({ limit: 4, ...(before ? { before } : {}) })
          .set(auth())
          .expect(200);
        seqs.push(response.body.items.map((m: Message) => m.seq));
        before = response.body.hasMore ? response.body.nextBefore : null;
      } while (before);
      expect(seqs).toEqual([
        [7, 8, 9, 10],
        [3, 4, 5, 6],
        [1, 2],
      ]);
    });

    it('answers 400 for before=0 and for a non-UUID chat id', async () => {
      const chat = await createChat(t(), token);
      expect((await t().http.get(`/api/v1/chats/${chat.id}/messages?before=0`).set(auth()).expect(400)).body.code).toBe(
        'validation_failed',
      );
      const bad = await t().http.get('/api/v1/chats/not-a-uuid/messages').set(auth()).expect(400);
      expect(bad.body.errors[0]).toMatchObject({ location: 'path', pointer: '/chatId' });
    });
  });

  describe('ownership', () => {
    it("answers 404 chat_not_found for another user's chat on every operation", async () => {
      const chat = await createChat(t(), token);
      const other = { Authorization: `Bearer ${(await registerUser(t())).accessToken}` };
      const attempts = [
        t().http.get(`/api/v1/chats/${chat.id}`).set(other),
        t().http.patch(`/api/v1/chats/${chat.id}`).set(other).send({ title: 'mine now' }),
        t().http.get(`/api/v1/chats/${chat.id}/messages`).set(other),
        t().http.delete(`/api/v1/chats/${chat.id}`).set(other),
      ];
      for (const attempt of attempts) {
        const response = await attempt.expect(404);
        expect(response.body.code).toBe('chat_not_found');
      }
      const missing = await t().http.get(`/api/v1/chats/${randomUUID()}`).set(other).expect(404);
      expect(missing.body.code).toBe('chat_not_found');
      expect((await t().http.get(`/api/v1/chats/${chat.id}`).set(auth()).expect(200)).body.title).toBeNull();
      const list = await t().http.get('/api/v1/chats').set(other).expect(200);
      expect(list.body.items).toEqual([]);
    });
  });
});
