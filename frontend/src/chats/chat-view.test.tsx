import { fireEvent, render, screen } from '@solidjs/testing-library';
import { Suspense } from 'solid-js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { messageFixture } from '../test-fixtures';
import { fetchMessagePage } from './chats.api';
import { ChatView } from './chat-view';

vi.mock('./chats.api', () => ({ fetchMessagePage: vi.fn() }));
const fetchPage = vi.mocked(fetchMessagePage);

function renderChat() {
  return render(() => (
    <Suspense fallback={<p>loading</p>}>
      <ChatView chatId="chat-1" title="Tea with Ada" characterName="Ada" onBack={() => {}} />
    </Suspense>
  ));
}

const contents = () =>
  screen.queryAllByRole('listitem').map((item) => item.querySelector('.message-content')?.textContent);

describe('ChatView', () => {
  afterEach(() => {
    fetchPage.mockReset();
  });

  it('shows the newest page, then prepends older messages on "load older"', async () => {
    fetchPage.mockImplementation(async (_chatId, before) =>
      before === undefined
        ? { items: [messageFixture(3), messageFixture(4)], hasMore: true, nextBefore: 3 }
        : { items: [messageFixture(1), messageFixture(2)], hasMore: false, nextBefore: null },
    );
    renderChat();

    await screen.findByText('Message 4');
    expect(contents()).toEqual(['Message 3', 'Message 4']);

    fireEvent.click(screen.getByRole('button', { name: 'Load older messages' }));

    await screen.findByText('Message 1');
    expect(contents()).toEqual(['Message 1', 'Message 2', 'Message 3', 'Message 4']);
    expect(fetchPage).toHaveBeenLastCalledWith('chat-1', 3);
    expect(screen.queryByRole('button', { name: 'Load older messages' })).toBeNull();
  });

  it('renders message content as text, never as HTML', async () => {
    const content = '<img src=x onerror="alert(1)"><b>bold</b>';
    fetchPage.mockResolvedValue({
      items: [messageFixture(1, { content })],
      hasMore: false,
      nextBefore: null,
    });
    renderChat();

    const message = await screen.findByText(content);
    expect(message.querySelector('img, b')).toBeNull();
    expect(screen.getByText('You')).toBeTruthy();
  });

  it('keeps the composer disabled and says why', async () => {
    fetchPage.mockResolvedValue({ items: [], hasMore: false, nextBefore: null });
    renderChat();

    await screen.findByText('No messages yet.');
    expect(document.activeElement).toBe(screen.getByRole('heading', { name: 'Tea with Ada' }));
    const input = screen.getByLabelText<HTMLTextAreaElement>('Message');
    expect(input.disabled).toBe(true);
    expect(input.getAttribute('aria-describedby')).toBe(screen.getByText('Replies arrive in a coming version.').id);
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Send' }).disabled).toBe(true);
  });
});
