import { fireEvent, render, screen, within } from '@solidjs/testing-library';
import type { Message } from '@parley/api-types';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { ApiError } from '@parley/client';
import { chatFixture, messageFixture, problemFixture } from '../test-fixtures';
import {
  ASSISTANT_ID,
  controlledStream,
  deltaEvent,
  doneEvent,
  pendingReply,
  turnStartedEvent,
} from '../turns/test-streams';
import { continueMessage, editMessage, regenerateMessage } from '../turns/turns.api';
import { deleteMessage, fetchAlternatives, fetchMessagePage, forkChat, selectMessage } from './chats.api';
import { ChatView } from './chat-view';
import { loadMarkdown } from './markdown-loader';

vi.mock('./chats.api', () => ({
  fetchMessagePage: vi.fn(),
  fetchAlternatives: vi.fn(),
  selectMessage: vi.fn(),
  deleteMessage: vi.fn(),
  forkChat: vi.fn(),
}));
// Every export becomes a vi.fn(); each test says what the server does.
vi.mock('../turns/turns.api');
const fetchPage = vi.mocked(fetchMessagePage);

const greeting = messageFixture(1, { role: 'assistant', parentId: null, content: 'Welcome aboard.' });
const question = messageFixture(2, { role: 'user', content: 'Where to?' });
const answer = (overrides: Partial<Message> = {}) =>
  messageFixture(3, { role: 'assistant', content: 'North.', replyToId: question.id, ...overrides });
const page = (items: Message[]) => ({ items, hasMore: false, nextBefore: null });

function renderChat(onForked = vi.fn()) {
  render(() => <ChatView chatId="chat-1" title="Voyage" characterName="Mira" onBack={() => {}} onForked={onForked} />);
  return { onForked };
}

const contents = () =>
  screen.queryAllByRole('listitem').map((item) => item.querySelector('.message-content')?.textContent?.trim());
const composer = () => screen.getByLabelText<HTMLTextAreaElement>('Message');
const item = (text: string) => screen.getByText(text).closest('li')!;

describe('ChatView message actions', () => {
  beforeAll(() => loadMarkdown());
  afterEach(() => vi.resetAllMocks());

  it('← and → show the other versions of the last reply; the page shows the path the server now has', async () => {
    const second = answer({ alternatives: { index: 2, count: 3 } });
    const first = answer({ id: 'first-version', content: 'South.', alternatives: { index: 1, count: 3 } });
    fetchPage
      .mockResolvedValueOnce(page([greeting, question, second]))
      .mockResolvedValueOnce(page([greeting, question, first]));
    vi.mocked(fetchAlternatives).mockResolvedValue({
      items: [first, second, answer({ id: 'third-version', alternatives: { index: 3, count: 3 } })],
    } as never);
    renderChat();
    await screen.findByText('North.');
    expect(within(item('North.')).getByRole('group', { name: 'Version 2 of 3' })).toBeTruthy();

    // In the composer the arrows move the caret, not through versions.
    fireEvent.keyDown(composer(), { key: 'ArrowLeft' });
    expect(fetchAlternatives).not.toHaveBeenCalled();

    fireEvent.keyDown(document.body, { key: 'ArrowLeft' });

    await screen.findByText('South.');
    expect(selectMessage).toHaveBeenCalledWith('chat-1', 'first-version');
    expect(contents()).toEqual(['Welcome aboard.', 'Where to?', 'South.']);
    expect(within(item('South.')).getByRole('group', { name: 'Version 1 of 3' })).toBeTruthy();
  });

  it('does nothing on ← when the last reply has one version', async () => {
    fetchPage.mockResolvedValue(page([greeting, question, answer()]));
    renderChat();
    await screen.findByText('North.');
    fireEvent.keyDown(document.body, { key: 'ArrowLeft' });
    fireEvent.keyDown(document.body, { key: 'ArrowRight' });
    expect(fetchAlternatives).not.toHaveBeenCalled();
    expect(selectMessage).not.toHaveBeenCalled();
  });

  it('↑ in the empty composer edits the last message in place; Escape cancels and leaves it as it was', async () => {
    fetchPage.mockResolvedValue(page([greeting, question, answer()]));
    renderChat();
    await screen.findByText('North.');

    fireEvent.keyDown(composer(), { key: 'ArrowUp' });
    const editor = screen.getByLabelText<HTMLTextAreaElement>('Edit your message');
    expect(editor.value).toBe('Where to?');
    expect(document.activeElement).toBe(editor);
    fireEvent.input(editor, { target: { value: 'Somewhere else' } });

    fireEvent.keyDown(editor, { key: 'Escape' });

    expect(screen.queryByLabelText('Edit your message')).toBeNull();
    expect(contents()).toEqual(['Welcome aboard.', 'Where to?', 'North.']);
    expect(editMessage).not.toHaveBeenCalled();
    expect(document.activeElement).toBe(composer());
  });

  it('↑ in a composer with text does not open the editor', async () => {
    fetchPage.mockResolvedValue(page([greeting, question, answer()]));
    renderChat();
    await screen.findByText('North.');
    fireEvent.input(composer(), { target: { value: 'draft' } });
    fireEvent.keyDown(composer(), { key: 'ArrowUp' });
    expect(screen.queryByLabelText('Edit your message')).toBeNull();
  });

  it('saving an edit streams the new branch in place of the old message and its reply', async () => {
    fetchPage.mockResolvedValue(page([greeting, question, answer()]));
    const stream = controlledStream();
    vi.mocked(editMessage).mockResolvedValue(stream.events);
    renderChat();
    await screen.findByText('North.');

    fireEvent.click(within(item('Where to?')).getByRole('button', { name: 'Edit' }));
    fireEvent.input(screen.getByLabelText('Edit your message'), { target: { value: 'East?' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save and send' }));

    expect(editMessage).toHaveBeenCalledWith(
      expect.objectContaining({ chatId: 'chat-1', messageId: question.id, content: 'East?' }),
    );
    const edited = messageFixture(4, {
      id: 'edited',
      role: 'user',
      content: 'East?',
      parentId: greeting.id,
      alternatives: { index: 2, count: 2 },
    });
    stream.push(turnStartedEvent(edited));
    stream.push(deltaEvent('Due east'));
    await screen.findByText('Due east');
    expect(contents()).toEqual(['Welcome aboard.', 'East?', 'Due east']);
    expect(within(item('East?')).getByRole('group', { name: 'Version 2 of 2' })).toBeTruthy();
  });

  it('regenerating a failed reply replaces it: the failure is no longer in the transcript', async () => {
    const failed = answer({ status: 'failed', content: '', errorCode: 'provider_unavailable', finishReason: 'error' });
    const retried = answer({ id: ASSISTANT_ID, content: 'North, at last.', alternatives: { index: 2, count: 2 } });
    // The path after the turn: the new version, with its place among the versions.
    fetchPage
      .mockResolvedValueOnce(page([greeting, question, failed]))
      .mockResolvedValue(page([greeting, question, retried]));
    const stream = controlledStream();
    vi.mocked(regenerateMessage).mockResolvedValue(stream.events);
    renderChat();
    await screen.findByText('Failed');

    const failedItem = document.querySelector('[data-status="failed"]')!;
    fireEvent.click(within(failedItem as HTMLElement).getByRole('button', { name: 'Regenerate' }));
    expect(regenerateMessage).toHaveBeenCalledWith(expect.objectContaining({ messageId: failed.id }));

    stream.push(turnStartedEvent(question));
    // A server whose turn results do not say the versions: the page asks for the path again.
    const done = doneEvent(question, 'North, at last.');
    if (done.event.type === 'done') delete done.event.result.assistantMessage.alternatives;
    stream.push(done);
    await screen.findByText('North, at last.');
    expect(contents()).toEqual(['Welcome aboard.', 'Where to?', 'North, at last.']);
    expect(document.querySelector('[data-status="failed"]')).toBeNull();
    expect(await within(item('North, at last.')).findByRole('group', { name: 'Version 2 of 2' })).toBeTruthy();
  });

  it('shows the place of the new version (‹ 2/2 ›) from the turn itself, without reading the history again', async () => {
    fetchPage.mockResolvedValue(page([greeting, question, answer()]));
    const stream = controlledStream();
    vi.mocked(regenerateMessage).mockResolvedValue(stream.events);
    renderChat();
    await screen.findByText('North.');

    fireEvent.click(within(item('North.')).getByRole('button', { name: 'Regenerate' }));
    const versions = { index: 2, count: 2 };
    stream.push(turnStartedEvent(question, { ...pendingReply(question), alternatives: versions }));
    stream.push(deltaEvent('North-east'));
    await screen.findByText('North-east');
    expect(within(item('North-east')).getByRole('group', { name: 'Version 2 of 2' })).toBeTruthy();

    const done = doneEvent(question, 'North-east, then north.');
    if (done.event.type === 'done') done.event.result.assistantMessage.alternatives = versions;
    stream.push(done);
    await screen.findByText('North-east, then north.');
    expect(within(item('North-east, then north.')).getByRole('group', { name: 'Version 2 of 2' })).toBeTruthy();
    expect(contents()).toEqual(['Welcome aboard.', 'Where to?', 'North-east, then north.']);
    expect(fetchPage).toHaveBeenCalledTimes(1);
  });

  it('marks a reply cut off at the length limit; Continue adds the new text to it', async () => {
    const cut = answer({ id: 'cut', content: 'North, past the', finishReason: 'max_tokens' });
    fetchPage.mockResolvedValue(page([greeting, question, cut]));
    const stream = controlledStream();
    vi.mocked(continueMessage).mockResolvedValue(stream.events);
    renderChat();
    await screen.findByText('North, past the');
    expect(within(item('North, past the')).getByText('Cut off')).toBeTruthy();

    fireEvent.click(within(item('North, past the')).getByRole('button', { name: 'Continue' }));

    expect(continueMessage).toHaveBeenCalledWith(expect.objectContaining({ chatId: 'chat-1', messageId: 'cut' }));
    stream.push(turnStartedEvent(question, { ...cut, status: 'streaming', finishReason: null }));
    stream.push(deltaEvent(' reef.', 'cut'));
    await screen.findByText('North, past the reef.');
    expect(contents()).toEqual(['Welcome aboard.', 'Where to?', 'North, past the reef.']);
  });

  it('fork opens the new chat', async () => {
    fetchPage.mockResolvedValue(page([greeting, question, answer()]));
    const forked = chatFixture('forked-chat', { title: 'Voyage (fork)' });
    vi.mocked(forkChat).mockResolvedValue(forked as never);
    const { onForked } = renderChat();
    await screen.findByText('North.');

    fireEvent.click(within(item('Where to?')).getByRole('button', { name: 'Fork' }));

    await vi.waitFor(() => expect(onForked).toHaveBeenCalledWith(forked));
    expect(forkChat).toHaveBeenCalledWith('chat-1', question.id);
  });

  it('delete, once confirmed, shows the path the server has left', async () => {
    fetchPage.mockResolvedValueOnce(page([greeting, question, answer()])).mockResolvedValueOnce(page([greeting]));
    const after = chatFixture('chat-1', { activeLeafId: greeting.id });
    vi.mocked(deleteMessage).mockResolvedValue(after);
    vi.spyOn(window, 'confirm').mockReturnValue(true);
    const onChatChanged = vi.fn();
    render(() => (
      <ChatView chatId="chat-1" title="Voyage" characterName="Mira" onBack={() => {}} onChatChanged={onChatChanged} />
    ));
    await screen.findByText('North.');

    fireEvent.click(within(item('Where to?')).getByRole('button', { name: 'Delete' }));

    await vi.waitFor(() => expect(contents()).toEqual(['Welcome aboard.']));
    expect(deleteMessage).toHaveBeenCalledWith('chat-1', question.id);
    // The chat list learns the new preview.
    expect(onChatChanged).toHaveBeenCalledWith(after);
  });

  it('an edit the server refuses goes back into the editor, words and all, with the reason shown', async () => {
    fetchPage.mockResolvedValue(page([greeting, question, answer()]));
    vi.mocked(editMessage).mockRejectedValue(
      new ApiError(422, problemFixture({ status: 422, code: 'content_blocked', retryable: false }), 'req-1'),
    );
    renderChat();
    await screen.findByText('North.');

    fireEvent.click(within(item('Where to?')).getByRole('button', { name: 'Edit' }));
    fireEvent.input(screen.getByLabelText('Edit your message'), { target: { value: 'Something blocked' } });
    fireEvent.click(screen.getByRole('button', { name: 'Save and send' }));

    await vi.waitFor(() =>
      expect(screen.getByLabelText<HTMLTextAreaElement>('Edit your message').value).toBe('Something blocked'),
    );
    expect(screen.getByTestId('error-banner').getAttribute('data-code')).toBe('content_blocked');
    // Nothing left the transcript: the question (open in its editor) and its reply are there.
    expect(contents()).toEqual(['Welcome aboard.', undefined, 'North.']);
  });
});
