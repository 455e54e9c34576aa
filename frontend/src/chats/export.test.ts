import { afterEach, describe, expect, it, vi } from 'vitest';
import { messageFixture } from '../test-fixtures';
import { fetchMessagePage } from './chats.api';
import { allMessages, fileName, toJson, toMarkdown } from './export';

vi.mock('./chats.api', () => ({ fetchMessagePage: vi.fn() }));
const fetchPage = vi.mocked(fetchMessagePage);
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
