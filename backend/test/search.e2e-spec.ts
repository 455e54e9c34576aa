import type { SearchHit, SearchPage } from '@parley/api-types';
import { MessagesRepository } from '../src/chats/messages.repository.js';
import { SearchController } from '../src/chats/search.controller.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

describe(SearchController.name, () => {
  const t = useTestApp();
  let token: string;
  let chatId: string;
  const auth = (as = token) => ({ Authorization: `Bearer ${as}` });

  // Stored through the repository, as the generation pipeline stores them.
  async function addMessages(id: string, contents: string[]): Promise<void> {
    const repository = t().app.get(MessagesRepository);
    await t().dataSource.transaction((manager) =>
      repository.append(
        manager,
        id,
        contents.map((content, i) => ({ role: i % 2 ? 'assistant' : 'user', content, status: 'complete' }) as const),
      ),
    );
  }

  const search = async (q: string, extra: Record<string, string | number> = {}, as = token) =>
    (
      await t()
        .http.get('/api/v1/search')
        .query({ q, ...extra })
        .set(auth(as))
        .expect(200)
    ).body as SearchPage;
  const marked = (hit: SearchHit) => hit.highlights.map(({ start, end }) => hit.snippet.slice(start, end));

  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
    chatId = (await createChat(t(), token)).id;
    // A 1,000-message chat: filler with one English and one Chinese needle in the middle.
    const contents = Array.from({ length: 999 }, (_, i) => `Filler line number ${i} about nothing in particular.`);
    contents[400] = 'Wren has Triangulated it: the signal repeats every eleven seconds.';
    contents[600] = '我们今天在火星基地发现了一个奇怪的信号源，请大家注意。';
    await addMessages(chatId, contents);
  }, 60_000);

  it('finds an English word in a 1,000-message chat, ignoring case, and marks it', async () => {
    const page = await search('triangulated');
    expect(page.items).toHaveLength(1);
    const [hit] = page.items;
    expect(hit).toMatchObject({ chatId, role: 'user' });
    expect(marked(hit!)).toEqual(['Triangulated']);
    // The hit opens the chat there: its position is the message's.
    const messages = await t()
      .http.get(`/api/v1/chats/${chatId}/messages`)
      .query({ before: hit!.seq + 1, limit: 1 })
      .set(auth())
      .expect(200);
    expect(messages.body.items[0].id).toBe(hit!.messageId);
  });

  it('finds a word inside a Chinese sentence, which has no spaces', async () => {
    for (const word of ['信号', '奇怪的信号源', '火星']) {
      const page = await search(word);
      expect(page.items.map((hit) => hit.snippet)).toEqual([expect.stringContaining(word)]);
      expect(marked(page.items[0]!)).toEqual([word]);
    }
  });

  it("never finds another user's messages", async () => {
    const other = (await registerUser(t())).accessToken;
    expect((await search('triangulated', {}, other)).items).toEqual([]);
  });

  it('ranks a whole-word match above a newer match inside a longer word', async () => {
    const id = (await createChat(t(), token)).id;
    await addMessages(id, ['the jam is in the jar', 'Jammed doors everywhere']);
    const page = await search('jam');
    expect(page.items.map((hit) => hit.snippet)).toEqual(['the jam is in the jar', 'Jammed doors everywhere']);
  });

  it('pages with a signed cursor that belongs to its query', async () => {
    const first = await search('Filler line', { limit: 50 });
    expect(first.items).toHaveLength(50);
    expect(first.nextCursor).toEqual(expect.any(String));
    const second = await search('Filler line', { limit: 50, cursor: first.nextCursor! });
    const ids = new Set([...first.items, ...second.items].map((hit) => hit.messageId));
    expect(ids.size).toBe(100);

    const reused = await t()
      .http.get('/api/v1/search')
      .query({ q: 'signal', cursor: first.nextCursor })
      .set(auth())
      .expect(400);
    expect(reused.body.code).toBe('validation_failed');
    const forged = await t()
      .http.get('/api/v1/search')
      .query({ q: 'Filler line', cursor: `${first.nextCursor}x` })
      .set(auth())
      .expect(400);
    expect(forged.body.code).toBe('validation_failed');
  });

  it('treats %, _ and \\ as plain characters, and refuses a blank query', async () => {
    expect((await search('%')).items).toEqual([]);
    expect((await search('_')).items).toEqual([]);
    const blank = await t().http.get('/api/v1/search').query({ q: '   ' }).set(auth()).expect(400);
    expect(blank.body.code).toBe('validation_failed');
    await t().http.get('/api/v1/search').query({ q: 'x' }).expect(401);
  });
});
