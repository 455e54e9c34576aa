import { afterEach, describe, expect, it, vi } from 'vitest';
import { messageFixture } from '../test-fixtures';
import { fetchChatPage, fetchMessagePage } from './chats.api';
import { allMessages, chatsIn, fileName, toArchive, toJson, toMarkdown } from './export';

vi.mock('./chats.api', () => ({ fetchMessagePage: vi.fn(), fetchChatPage: vi.fn() }));
const fetchPage = vi.mocked(fetchMessagePage);
const fetchChats = vi.mocked(fetchChatPage);
const chat = { id: 'chat-1', title: 'Tea with Ada', characterId: 'ada-lovelace', characterName: 'Ada' };

describe('chat export', () => {
  afterEach(() => vi.resetAllMocks());

  it('reads every page, oldest first', async () => {
    fetchPage.mockImplementation(async (_chatId, before) =>
      before === undefined
        ? { items: [messageFixture(3), messageFixture(4)], hasMore: true, nextBefore: 3 }
        : { items: [messageFixture(1), messageFixture(2)], hasMore: false, nextBefore: null },
    );
    expect((await allMessages('chat-1')).map((m) => m.seq)).toEqual([1, 2, 3, 4]);
  });

  it('writes JSON in the documented format, every message kept', () => {
    const messages = [messageFixture(1, { content: 'Hi *there*' }), messageFixture(2)];
    const exported = toJson(chat, messages, new Date('2025-01-02T00:00:00Z'));
    expect(exported).toMatchObject({ format: 'parley.chat', version: 1, exportedAt: '2025-01-02T00:00:00.000Z', chat });
    expect(JSON.parse(JSON.stringify(exported)).messages.map((m: { content: string }) => m.content)).toEqual([
      'Hi *there*',
      'Message 2',
    ]);
  });

  it('archives every chat of every page, each as its own chat export', async () => {
    const listed = (id: string, title: string | null, characterId: string) =>
      ({ id, title, characterId }) as Awaited<ReturnType<typeof fetchChatPage>>['items'][number];
    fetchChats.mockImplementation(async (cursor) =>
      cursor === undefined
        ? { items: [listed('c1', 'First', 'ada'), listed('c2', null, 'mira')], nextCursor: 'next' }
        : { items: [listed('c3', 'Third', 'gone')], nextCursor: null },
    );
    fetchPage.mockImplementation(async (chatId) => ({
      items: [messageFixture(1, { content: `${chatId} hello` }), messageFixture(2, { content: `${chatId} reply` })],
      hasMore: false,
      nextBefore: null,
    }));
    const names: Record<string, string> = { ada: 'Ada', mira: 'Captain Mira' };
    const archive = await toArchive((id) => names[id] ?? id, new Date('2025-01-02T00:00:00Z'));
    expect(archive).toMatchObject({ format: 'parley.archive', version: 1, exportedAt: '2025-01-02T00:00:00.000Z' });
    expect(archive.chats.map((c) => [c.format, c.chat.id, c.chat.title, c.chat.characterName])).toEqual([
      ['parley.chat', 'c1', 'First', 'Ada'],
      ['parley.chat', 'c2', 'Captain Mira', 'Captain Mira'],
      ['parley.chat', 'c3', 'Third', 'gone'],
    ]);
    expect(archive.chats[2]!.messages.map((m) => m.content)).toEqual(['c3 hello', 'c3 reply']);
    // An archive is imported as its chats; a single export as itself.
    expect(chatsIn(JSON.parse(JSON.stringify(archive)))).toHaveLength(3);
    expect(chatsIn(archive.chats[0])).toEqual([archive.chats[0]]);
    expect(chatsIn({ format: 'parley.archive', version: 2, chats: [] })).toBeNull();
    expect(chatsIn({ format: 'parley.archive', version: 1 })).toBeNull();
  });

  it('writes Markdown with who wrote each message', () => {
    const markdown = toMarkdown(chat, [messageFixture(1), messageFixture(2)], 'You');
    expect(markdown).toContain('# Tea with Ada');
    expect(markdown).toMatch(/## You · .*\n\nMessage 1/);
    expect(markdown).toMatch(/## Ada · .*\n\nMessage 2/);
  });

  it('makes a safe file name', () => {
    expect(fileName('a/b:c?', 'md')).toBe('a b c.md');
    expect(fileName('   ', 'json')).toBe('chat.json');
  });
});
