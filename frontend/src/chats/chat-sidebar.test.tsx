import { fireEvent, render, screen } from '@solidjs/testing-library';
import { Suspense } from 'solid-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { chatFixture } from '../test-fixtures';
import { createChatList, type ChatList } from './chat-list';
import { ChatSidebar } from './chat-sidebar';
import { deleteChat, fetchChat, fetchChatPage, renameChat } from './chats.api';

vi.mock('./chats.api', () => ({
  fetchChatPage: vi.fn(),
  renameChat: vi.fn(),
  deleteChat: vi.fn(),
  fetchChat: vi.fn(),
}));

function renderSidebar(onDeleted: (chatId: string) => void = () => {}) {
  let list: ChatList | undefined;
  render(() => {
    const chats = createChatList();
    list = chats;
    return (
      <Suspense fallback={<p>loading</p>}>
        <ChatSidebar
          chats={chats}
          activeChatId={null}
          titleOf={(chat) => chat.title ?? 'Ada Lovelace'}
          onOpen={() => {}}
          onDeleted={onDeleted}
        />
      </Suspense>
    );
  });
  return { chats: () => list! };
}

const titles = () => screen.queryAllByRole('listitem').map((item) => item.querySelector('.chat-title')?.textContent);

describe('ChatSidebar', () => {
  beforeEach(() => {
    vi.mocked(fetchChatPage).mockResolvedValue({
      items: [
        chatFixture('chat-1', {
          title: 'Engines',
          lastMessage: {
            id: 'm-1',
            role: 'assistant',
            content: 'The Analytical Engine weaves patterns.',
            status: 'complete',
            createdAt: '2025-01-01T12:00:00.000Z',
          },
        }),
        chatFixture('chat-2'),
      ],
      nextCursor: null,
    });
  });

  afterEach(() => {
    vi.resetAllMocks();
    vi.restoreAllMocks();
  });

  it('lists chats by title or character name, with the last message', async () => {
    renderSidebar();

    await screen.findByText('Engines');
    expect(titles()).toEqual(['Engines', 'Ada Lovelace']);
    expect(screen.getByText('The Analytical Engine weaves patterns.')).toBeTruthy();
    expect(screen.getByText('No messages yet')).toBeTruthy();
  });

  it('renames a chat with the title the API returns', async () => {
    vi.mocked(renameChat).mockImplementation(async (chatId, title) => chatFixture(chatId, { title }));
    renderSidebar();
    await screen.findByText('Engines');

    fireEvent.click(screen.getByRole('button', { name: 'Rename Ada Lovelace' }));
    const input = screen.getByLabelText<HTMLInputElement>('Chat title');
    fireEvent.input(input, { target: { value: '  Poetical science ' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save' }));

    await screen.findByText('Poetical science');
    expect(renameChat).toHaveBeenCalledWith('chat-2', 'Poetical science');
    expect(screen.queryByLabelText('Chat title')).toBeNull();
    expect(document.activeElement).toBe(screen.getByRole('button', { name: 'Rename Poetical science' }));
  });

  it('deletes a chat only after confirmation', async () => {
    vi.mocked(deleteChat).mockResolvedValue(undefined);
    const confirm = vi.spyOn(window, 'confirm').mockReturnValueOnce(false).mockReturnValueOnce(true);
    const deleted: string[] = [];
    renderSidebar((chatId) => deleted.push(chatId));
    await screen.findByText('Engines');

    fireEvent.click(screen.getByRole('button', { name: 'Delete Engines' }));
    expect(deleteChat).not.toHaveBeenCalled();

    fireEvent.click(screen.getByRole('button', { name: 'Delete Engines' }));
    await vi.waitFor(() => expect(titles()).toEqual(['Ada Lovelace']));
    // Focus moves to the chat now in its place, not to the page's start.
    await vi.waitFor(() => expect(document.activeElement?.textContent).toContain('Ada Lovelace'));
    expect(confirm).toHaveBeenCalledTimes(2);
    expect(deleteChat).toHaveBeenCalledWith('chat-1');
    expect(deleted).toEqual(['chat-1']);
  });

  it('moves a chat to the top with the message the moment it is sent, and rolls back if it never stored', async () => {
    const { chats } = renderSidebar();
    await screen.findByText('Engines');
    expect(titles()).toEqual(['Engines', 'Ada Lovelace']);

    const undo = chats().touched('chat-2', {
      id: 'local',
      role: 'user',
      content: 'Shall we compute Bernoulli numbers?',
      status: 'complete',
      createdAt: '2025-01-02T12:00:00.000Z',
    });

    expect(titles()).toEqual(['Ada Lovelace', 'Engines']);
    expect(screen.getByText('Shall we compute Bernoulli numbers?')).toBeTruthy();

    undo();

    expect(titles()).toEqual(['Engines', 'Ada Lovelace']);
    expect(screen.queryByText('Shall we compute Bernoulli numbers?')).toBeNull();
    expect(screen.getAllByText('No messages yet')).toHaveLength(1);
  });

  it('keeps a newer change when an older send is rolled back', async () => {
    const { chats } = renderSidebar();
    await screen.findByText('Engines');
    const preview = (content: string) => ({
      id: content,
      role: 'user' as const,
      content,
      status: 'complete' as const,
      createdAt: '2025-01-02T12:00:00.000Z',
    });

    const undoFirst = chats().touched('chat-2', preview('first'));
    chats().touched('chat-2', preview('second'));
    undoFirst();

    expect(titles()).toEqual(['Ada Lovelace', 'Engines']);
    expect(screen.getByText('second')).toBeTruthy();
  });

  describe("when another tab or device moves a chat's path", () => {
    const preview = (id: string, content: string, status: 'complete' | 'pending' = 'complete') => ({
      id,
      role: 'assistant' as const,
      content,
      status,
      createdAt: '2025-01-01T10:30:00.000Z',
    });
    const previews = () =>
      screen
        .queryAllByRole('listitem')
        .map((item) => [
          item.querySelector('.chat-title')?.textContent,
          item.textContent?.includes('Version two') ? 'Version two' : undefined,
        ]);

    beforeEach(() => {
      vi.mocked(fetchChatPage).mockResolvedValue({
        items: [
          chatFixture('chat-1', { title: 'Engines', updatedAt: '2025-01-01T12:00:00.000Z' }),
          chatFixture('chat-2', { updatedAt: '2025-01-01T11:00:00.000Z', lastMessage: preview('m-1', 'Version one') }),
        ],
        nextCursor: null,
      });
    });

    it('shows the new end of the path as the preview; a select keeps the chat where it was', async () => {
      const { chats } = renderSidebar();
      await screen.findByText('Version one');

      await chats().pathEvent({
        type: 'chat.path_changed',
        seq: 7,
        chatId: 'chat-2',
        activeLeafId: 'm-2',
        lastMessage: preview('m-2', 'Version two'),
        updatedAt: '2025-01-01T11:00:00.000Z',
        branch: { messageId: 'm-2', parentId: 'u-1', alternatives: { index: 2, count: 2 } },
      });

      expect(await screen.findByText('Version two')).toBeTruthy();
      expect(screen.queryByText('Version one')).toBeNull();
      expect(titles()).toEqual(['Engines', 'Ada Lovelace']);
    });

    it('moves the chat by its new activity (a regenerate) and keeps the preview until the new reply has text', async () => {
      const { chats } = renderSidebar();
      await screen.findByText('Version one');

      await chats().pathEvent({
        type: 'chat.path_changed',
        seq: 8,
        chatId: 'chat-2',
        activeLeafId: 'm-3',
        lastMessage: preview('m-3', '', 'pending'),
        updatedAt: '2025-01-01T13:00:00.000Z',
      });

      await vi.waitFor(() => expect(titles()).toEqual(['Ada Lovelace', 'Engines']));
      expect(screen.getByText('Version one')).toBeTruthy();
      expect(previews()).toEqual([
        ['Ada Lovelace', undefined],
        ['Engines', undefined],
      ]);
    });

    it('changes nothing on a delete alone; an event without the preview is answered by reading the chat', async () => {
      vi.mocked(fetchChat).mockResolvedValue(
        chatFixture('chat-2', { updatedAt: '2025-01-01T11:00:00.000Z', lastMessage: preview('m-0', 'The greeting') }),
      );
      const { chats } = renderSidebar();
      await screen.findByText('Version one');

      await chats().pathEvent({ type: 'message.deleted', seq: 9, chatId: 'chat-2', messageIds: ['m-9'] });
      expect(screen.getByText('Version one')).toBeTruthy();
      expect(fetchChat).not.toHaveBeenCalled();

      await chats().pathEvent({ type: 'chat.path_changed', seq: 10, chatId: 'chat-2', activeLeafId: 'm-0' });

      expect(await screen.findByText('The greeting')).toBeTruthy();
      expect(fetchChat).toHaveBeenCalledWith('chat-2');
      expect(titles()).toEqual(['Engines', 'Ada Lovelace']);
    });
  });
});
