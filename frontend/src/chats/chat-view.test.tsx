import { fireEvent, render, screen } from '@solidjs/testing-library';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { messageFixture } from '../test-fixtures';
import { controlledStream, deltaEvent, turnStartedEvent } from '../turns/test-streams';
import { cancelReply, sendMessage } from '../turns/turns.api';
import { fetchMessagePage } from './chats.api';
import { ChatView } from './chat-view';
import { loadMarkdown } from './markdown-loader';

vi.mock('./chats.api', () => ({ fetchMessagePage: vi.fn() }));
// Every export becomes a vi.fn(); each test says what the server does.
vi.mock('../turns/turns.api');
const fetchPage = vi.mocked(fetchMessagePage);
const send = vi.mocked(sendMessage);
const cancel = vi.mocked(cancelReply);

function renderChat(onSend = vi.fn(() => () => undefined)) {
  render(() => <ChatView chatId="chat-1" title="Tea with Ada" characterName="Ada" onBack={() => {}} onSend={onSend} />);
  return { onSend };
}

const contents = () =>
  screen.queryAllByRole('listitem').map((item) => item.querySelector('.message-content')?.textContent?.trim());
const composer = () => screen.getByLabelText<HTMLTextAreaElement>('Message');

describe('ChatView', () => {
  beforeAll(() => loadMarkdown());
  afterEach(() => {
    vi.resetAllMocks();
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

  it('opened at a message (a search hit), loads older pages until it is there and marks it', async () => {
    const pages: Record<
      string,
      { items: ReturnType<typeof messageFixture>[]; hasMore: boolean; nextBefore: number | null }
    > = {
      newest: { items: [messageFixture(5), messageFixture(6)], hasMore: true, nextBefore: 5 },
      5: { items: [messageFixture(3), messageFixture(4)], hasMore: true, nextBefore: 3 },
      3: { items: [messageFixture(1), messageFixture(2)], hasMore: false, nextBefore: null },
    };
    fetchPage.mockImplementation(async (_chatId, before) => pages[before === undefined ? 'newest' : String(before)]!);
    render(() => <ChatView chatId="chat-1" title="Tea with Ada" characterName="Ada" onBack={() => {}} focusSeq={2} />);

    await vi.waitFor(() => expect(document.querySelector('[data-seq="2"]')?.getAttribute('data-found')).toBe('true'));
    expect(fetchPage).toHaveBeenCalledTimes(3);
    expect(contents()).toEqual(['Message 1', 'Message 2', 'Message 3', 'Message 4', 'Message 5', 'Message 6']);
  });

  it('shows the user’s words as text and renders replies as sanitized Markdown', async () => {
    const attack = '<img src=x onerror="alert(1)"><script>alert(2)</script>[link](javascript:alert(3)) **bold**';
    fetchPage.mockResolvedValue({
      items: [messageFixture(1, { content: attack }), messageFixture(2, { content: attack, provider: 'demo' })],
      hasMore: false,
      nextBefore: null,
    });
    renderChat();

    const mine = await screen.findByText(attack);
    expect(mine.querySelector('img, b, strong')).toBeNull();
    const reply = document.querySelector('[data-role="assistant"] .message-content')!;
    expect(reply.querySelector('strong')?.textContent).toBe('bold');
    expect(reply.querySelector('script')).toBeNull();
    expect(reply.innerHTML).not.toMatch(/onerror|javascript:|<script/i);
    expect(reply.querySelector('a')?.getAttribute('href')).toBeNull();
    expect(screen.getByText('Demo')).toBeTruthy();
  });

  it('sends on Enter, breaks the line on Shift+Enter, and tells the chat list at once', async () => {
    fetchPage.mockResolvedValue({ items: [], hasMore: false, nextBefore: null });
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    const { onSend } = renderChat();
    await screen.findByText('No messages yet.');
    expect(document.activeElement).toBe(screen.getByRole('heading', { name: 'Tea with Ada' }));

    fireEvent.input(composer(), { target: { value: 'Line one' } });
    fireEvent.keyDown(composer(), { key: 'Enter', shiftKey: true });
    expect(send).not.toHaveBeenCalled();
    fireEvent.keyDown(composer(), { key: 'Enter' });

    expect(send).toHaveBeenCalledWith(
      expect.objectContaining({ chatId: 'chat-1', content: 'Line one', idempotencyKey: expect.any(String) }),
    );
    expect(onSend).toHaveBeenCalledWith(expect.objectContaining({ role: 'user', content: 'Line one' }));
    expect(composer().value).toBe('');
    expect(contents()).toEqual(['Line one']);
    expect(screen.getByTestId('typing-indicator').textContent).toContain('Ada is typing…');
    // While the reply is live, Send is disabled and Stop appears beside it.
    expect(screen.getByRole<HTMLButtonElement>('button', { name: 'Send' }).disabled).toBe(true);
    expect(screen.getByRole('button', { name: 'Stop' })).toBeTruthy();
  });

  it('sends once on a double click, and the second click does not stop the reply', async () => {
    fetchPage.mockResolvedValue({ items: [], hasMore: false, nextBefore: null });
    send.mockResolvedValue(controlledStream().events);
    renderChat();
    await screen.findByText('No messages yet.');
    fireEvent.input(composer(), { target: { value: 'Hello' } });

    const sendButton = screen.getByRole('button', { name: 'Send' });
    fireEvent.click(sendButton);
    fireEvent.click(sendButton);

    expect(send).toHaveBeenCalledTimes(1);
    expect(cancel).not.toHaveBeenCalled();
    expect(contents()).toEqual(['Hello']);
    // What is under the pointer stays Send, disabled: Stop never takes its place.
    expect(sendButton.isConnected).toBe(true);
    expect((sendButton as HTMLButtonElement).disabled).toBe(true);
  });

  it('stops a streaming reply: the text stays, marked as stopped', async () => {
    fetchPage.mockResolvedValue({ items: [], hasMore: false, nextBefore: null });
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    renderChat();
    await screen.findByText('No messages yet.');
    fireEvent.input(composer(), { target: { value: 'A story, please' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    const user = messageFixture(1, { content: 'A story, please' });
    stream.push(turnStartedEvent(user));
    stream.push(deltaEvent('Once upon'));
    await screen.findByText('Once upon');
    cancel.mockResolvedValue(
      messageFixture(2, {
        id: '22222222-2222-4222-8222-222222222222',
        role: 'assistant',
        content: 'Once upon',
        status: 'cancelled',
        replyToId: user.id,
      }),
    );

    const stop = screen.getByRole('button', { name: 'Stop' });
    stop.focus();
    fireEvent.click(stop);

    expect(await screen.findByText('Stopped')).toBeTruthy();
    expect(screen.queryByTestId('typing-indicator')).toBeNull();
    expect(contents()).toEqual(['A story, please', 'Once upon']);
    expect(screen.queryByRole('button', { name: 'Stop' })).toBeNull();
    // Stop is gone with the reply: focus waits in the composer, not on the page's start.
    expect(document.activeElement).toBe(composer());
  });

  it('stops a reply on Escape', async () => {
    fetchPage.mockResolvedValue({ items: [], hasMore: false, nextBefore: null });
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    renderChat();
    await screen.findByText('No messages yet.');
    fireEvent.input(composer(), { target: { value: 'A story, please' } });
    fireEvent.click(screen.getByRole('button', { name: 'Send' }));
    const user = messageFixture(1, { content: 'A story, please' });
    stream.push(turnStartedEvent(user));
    stream.push(deltaEvent('Once upon'));
    await screen.findByText('Once upon');
    cancel.mockResolvedValue(
      messageFixture(2, {
        id: '33333333-3333-4333-8333-333333333333',
        role: 'assistant',
        content: 'Once upon',
        status: 'cancelled',
        replyToId: user.id,
      }),
    );

    const heading = screen.getByRole('heading', { name: 'Tea with Ada' });
    heading.focus();
    fireEvent.keyDown(heading, { key: 'Escape' });

    expect(await screen.findByText('Stopped')).toBeTruthy();
    expect(cancel).toHaveBeenCalled();
    expect(document.activeElement).toBe(composer());
  });
});
