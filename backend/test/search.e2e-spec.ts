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

  describe('the newest 500 matches, ranked', () => {
    /** Every page of a search, one after another. */
    async function allPages(q: string, as: string): Promise<SearchHit[]> {
      const hits: SearchHit[] = [];
      let cursor: string | undefined;
      do {
        const page = await search(q, { limit: 50, ...(cursor ? { cursor } : {}) }, as);
        hits.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor);
      return hits;
    }

    /** What the ranking promises, computed from the table: newest 500 matches, whole words first. */
    async function expected(chatIds: string[], like: string, whole: RegExp): Promise<string[]> {
      const rows: { id: string; content: string }[] = await t().dataSource.query(
        `SELECT id, content FROM messages WHERE chat_id = ANY($1::uuid[]) AND content ILIKE $2
          ORDER BY created_at DESC, id DESC LIMIT 500`,
        [chatIds, like],
      );
      return [...rows.filter((r) => whole.test(r.content)), ...rows.filter((r) => !whole.test(r.content))].map(
        (r) => r.id,
      );
    }

    it('for a common word (found among the newest messages)', async () => {
      const owner = (await registerUser(t())).accessToken;
      const older = (await createChat(t(), owner)).id;
      const newer = (await createChat(t(), owner)).id;
      const lines = (from: number) =>
        Array.from({ length: 700 }, (_, i) =>
          i % 7 === 0 ? `log ${from + i}: beacons lit` : `log ${from + i}: beacon on`,
        );
      await addMessages(older, lines(0));
      await addMessages(newer, lines(700));
      const hits = await allPages('Beacon', owner);
      expect(hits).toHaveLength(500);
      expect(hits.map((hit) => hit.messageId)).toEqual(await expected([older, newer], '%beacon%', /\bbeacon\b/i));
      // All from the newer chat (the 500 newest), whole words before the plural.
      expect(new Set(hits.map((hit) => hit.chatId))).toEqual(new Set([newer]));
      expect(hits.at(-1)!.snippet).toContain('beacons');
    }, 60_000);

    it('for a word only in older messages (found through the index)', async () => {
      const owner = (await registerUser(t())).accessToken;
      const id = (await createChat(t(), owner)).id;
      await addMessages(
        id,
        Array.from({ length: 600 }, (_, i) =>
          i % 5 === 0 ? `old ${i}: the relic (sealed)` : `old ${i}: relic-hunting`,
        ),
      );
      await addMessages(
        id,
        Array.from({ length: 4000 }, (_, i) => `new ${i}: nothing to see`),
      );
      const hits = await allPages('relic', owner);
      expect(hits).toHaveLength(500);
      expect(hits.map((hit) => hit.messageId)).toEqual(await expected([id], '%relic%', /(^|[^\w])relic($|[^\w])/i));
      // Characters a regular expression would read are plain text here too.
      for (const q of ['(sealed)', 'relic (seal', '(sealed', 'sealed)']) {
        expect((await search(q, {}, owner)).items[0]?.snippet).toContain(q);
      }
      expect((await search('relic)', {}, owner)).items).toEqual([]);
    }, 60_000);

    it('for two characters only in older messages (Han: through the index; ASCII: every message read)', async () => {
      const owner = (await registerUser(t())).accessToken;
      const id = (await createChat(t(), owner)).id;
      await addMessages(
        id,
        Array.from({ length: 600 }, (_, i) =>
          i % 100 === 0 ? `旧 ${i}：麒麟出现了 (code QZ)` : `旧 ${i}：平静的一天`,
        ),
      );
      await addMessages(
        id,
        Array.from({ length: 4000 }, (_, i) => `新 ${i}：什么也没有`),
      );
      for (const [q, whole] of [
        ['麒麟', /麒麟/],
        ['qz', /\bqz\b/i],
      ] as const) {
        const hits = await allPages(q, owner);
        expect(hits.map((hit) => hit.messageId)).toEqual(await expected([id], `%${q}%`, whole));
        expect(hits).toHaveLength(6);
      }
    }, 60_000);

    it('for a word common in the statistics but rare among the newest messages', async () => {
      const owner = (await registerUser(t())).accessToken;
      const id = (await createChat(t(), owner)).id;
      await addMessages(
        id,
        Array.from({ length: 3000 }, (_, i) => `ember ${i}: the embers glow`),
      );
      await addMessages(
        id,
        Array.from({ length: 4000 }, (_, i) => (i % 100 === 0 ? `late ${i}: one ember left` : `late ${i}: cold ash`)),
      );
      // The planner now expects "ember" in a fifth of all messages: the newest ones are read
      // first, hold only 40, and the index must still find the newest 500.
      await t().dataSource.query('ANALYZE messages');
      const hits = await allPages('ember', owner);
      expect(hits).toHaveLength(500);
      expect(hits.map((hit) => hit.messageId)).toEqual(await expected([id], '%ember%', /(^|[^\w])ember($|[^\w])/i));
    }, 60_000);
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
