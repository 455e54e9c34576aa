import { afterEach, describe, expect, it, vi } from 'vitest';
import { messageFixture } from '../test-fixtures';
import { fetchChatPage, fetchMessagePage, fetchTreePage } from './chats.api';
import { allMessages, chatsIn, fileName, toArchive, toJson, toMarkdown, wholeTree } from './export';

vi.mock('./chats.api', () => ({ fetchMessagePage: vi.fn(), fetchChatPage: vi.fn(), fetchTreePage: vi.fn() }));
const fetchPage = vi.mocked(fetchMessagePage);
const fetchChats = vi.mocked(fetchChatPage);
const fetchTree = vi.mocked(fetchTreePage);
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

  it('reads the whole tree page by page after each seq, with the active leaf of the last page', async () => {
    const [greeting, question, first, second] = [1, 2, 3, 4].map((seq) => messageFixture(seq));
    fetchTree.mockImplementation(async (_chatId, after) =>
      after === undefined
        ? { items: [greeting!, question!], activeLeafId: first!.id, hasMore: true, nextAfter: 2 }
        : { items: [first!, second!], activeLeafId: second!.id, hasMore: false, nextAfter: null },
    );
    const tree = await wholeTree('chat-1');
    expect(fetchTree.mock.calls).toEqual([
      ['chat-1', undefined],
      ['chat-1', 2],
    ]);
    expect(tree.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
    expect(tree.activeLeafId).toBe(second!.id);
  });

  it('writes JSON in the documented format (version 2): every message with its parent, and the active leaf', () => {
    const greeting = messageFixture(1, { content: 'Hi *there*', parentId: null });
    const question = messageFixture(2, { role: 'user', parentId: greeting.id });
    const first = messageFixture(3, { content: 'One way', parentId: question.id, replyToId: question.id });
    const second = messageFixture(4, { content: 'Another', parentId: question.id, replyToId: question.id });
    const exported = toJson(
      chat,
      { messages: [greeting, question, first, second], activeLeafId: first.id },
      new Date('2025-01-02T00:00:00Z'),
    );
    expect(exported).toMatchObject({
      format: 'parley.chat',
      version: 2,
      exportedAt: '2025-01-02T00:00:00.000Z',
      chat: { ...chat, activeLeafId: first.id },
    });
    const written = JSON.parse(JSON.stringify(exported)) as typeof exported;
    expect(written.messages.map((m) => [m.id, m.parentId, m.content])).toEqual([
      [greeting.id, null, 'Hi *there*'],
      [question.id, greeting.id, 'Message 2'],
      [first.id, question.id, 'One way'],
      [second.id, question.id, 'Another'],
    ]);
    // Only the fields importChat takes: it refuses a file with any other.
    expect(Object.keys(written.messages[0]!).sort()).toEqual(
      ['content', 'createdAt', 'finishReason', 'id', 'parentId', 'replyToId', 'role', 'seq', 'status'].sort(),
    );
  });

  it('archives every chat of every page, each as its own chat export', async () => {
    const listed = (id: string, title: string | null, characterId: string) =>
      ({ id, title, characterId }) as Awaited<ReturnType<typeof fetchChatPage>>['items'][number];
    fetchChats.mockImplementation(async (cursor) =>
      cursor === undefined
        ? { items: [listed('c1', 'First', 'ada'), listed('c2', null, 'mira')], nextCursor: 'next' }
        : { items: [listed('c3', 'Third', 'gone')], nextCursor: null },
    );
    fetchTree.mockImplementation(async (chatId) => ({
      items: [messageFixture(1, { content: `${chatId} hello` }), messageFixture(2, { content: `${chatId} reply` })],
      activeLeafId: null,
      hasMore: false,
      nextAfter: null,
    }));
    const names: Record<string, string> = { ada: 'Ada', mira: 'Captain Mira' };
    const archive = await toArchive((id) => names[id] ?? id, new Date('2025-01-02T00:00:00Z'));
    expect(archive).toMatchObject({ format: 'parley.archive', version: 1, exportedAt: '2025-01-02T00:00:00.000Z' });
    expect(archive.chats.map((c) => [c.format, c.version, c.chat.id, c.chat.title, c.chat.characterName])).toEqual([
      ['parley.chat', 2, 'c1', 'First', 'Ada'],
      ['parley.chat', 2, 'c2', 'Captain Mira', 'Captain Mira'],
      ['parley.chat', 2, 'c3', 'Third', 'gone'],
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
