import { createRoot } from 'solid-js';
import type { Message, MessagePage } from '@parley/api-types';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, NetworkError } from '../api/problem';
import { fetchMessagePage } from '../chats/chats.api';
import { messageFixture, problemFixture } from '../test-fixtures';
import { createConversation, type ConversationOptions } from './create-conversation';
import {
  ASSISTANT_ID,
  controlledStream,
  deltaEvent,
  doneEvent,
  errorEvent,
  providerEvent,
  userMessageEvent,
} from './test-streams';
import { cancelReply, followReply, regenerateMessage, sendMessage } from './turns.api';

vi.mock('../chats/chats.api', () => ({ fetchMessagePage: vi.fn() }));
// Every export becomes a vi.fn(); each test says what the server does.
vi.mock('./turns.api');

const fetchPage = vi.mocked(fetchMessagePage);
const send = vi.mocked(sendMessage);
const regenerate = vi.mocked(regenerateMessage);
const follow = vi.mocked(followReply);
const cancel = vi.mocked(cancelReply);

const CHAT = 'chat-1';
const greeting = messageFixture(1, { role: 'assistant', content: 'Welcome aboard.' });
const page = (items: Message[]): MessagePage => ({ items, hasMore: false, nextBefore: null });
const stored = (content: string) => messageFixture(2, { id: 'user-2', role: 'user', content });

/** Lets pending promises and stream reads run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

let disposers: (() => void)[] = [];

function open(options: Partial<ConversationOptions> = {}) {
  return createRoot((dispose) => {
    disposers.push(dispose);
    return { conversation: createConversation({ chatId: CHAT, ...options }), dispose };
  });
}

const texts = (c: ReturnType<typeof open>['conversation']) =>
  c.state.messages.map((m) => [m.role, m.content, m.status]);

describe('createConversation', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    fetchPage.mockResolvedValue(page([greeting]));
  });
  afterEach(() => {
    for (const dispose of disposers) dispose();
    disposers = [];
    vi.useRealTimers();
    vi.resetAllMocks();
  });

  it('shows the message at once, streams the reply, and clears the indicator on done', async () => {
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    const onFinished = vi.fn();
    const undo = vi.fn();
    const { conversation } = open({ onFinished, onSend: () => undo });
    await settle();

    expect(conversation.send('  Hello there  ')).toBe(true);
    expect(texts(conversation)).toEqual([
      ['assistant', 'Welcome aboard.', 'complete'],
      ['user', 'Hello there', 'pending'],
    ]);
    expect(conversation.live()?.phase).toBe('sending');
    const [chatId, content, key] = send.mock.calls[0]!;
    expect([chatId, content]).toEqual([CHAT, 'Hello there']);
    expect(key).toMatch(/^[0-9a-f-]{36}$/);

    const user = stored('Hello there');
    stream.push(userMessageEvent(user));
    await settle();
    expect(conversation.live()?.phase).toBe('waiting');
    expect(conversation.state.messages.map((m) => m.id)).toEqual([greeting.id, 'user-2']);

    stream.push(providerEvent(true));
    stream.push(deltaEvent('Aye, '));
    stream.push(deltaEvent('captain.'));
    await settle();
    expect(conversation.live()?.phase).toBe('streaming');
    expect(conversation.state.messages.at(-1)).toMatchObject({
      id: ASSISTANT_ID,
      content: 'Aye, captain.',
      status: 'streaming',
      demo: true,
    });

    stream.push(doneEvent(user, 'Aye, captain.'));
    await settle();
    expect(conversation.live()).toBeNull();
    expect(texts(conversation).at(-1)).toEqual(['assistant', 'Aye, captain.', 'complete']);
    expect(onFinished).toHaveBeenCalledWith(expect.objectContaining({ tokenBalance: 985 }));
    expect(undo).not.toHaveBeenCalled();
  });

  it('takes one message at a time: a second send while a reply is live is ignored', async () => {
    send.mockResolvedValue(controlledStream().events);
    const { conversation } = open();
    await settle();

    expect(conversation.send('first')).toBe(true);
    expect(conversation.send('first')).toBe(false);
    expect(conversation.send('   ')).toBe(false);
    expect(send).toHaveBeenCalledTimes(1);
  });

  it('turns the indicator into a timeout message after 30 s of silence, and back when text arrives', async () => {
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    const { conversation } = open();
    await settle();
    conversation.send('Are you there?');
    stream.push(userMessageEvent(stored('Are you there?')));
    await settle();

    await vi.advanceTimersByTimeAsync(29_900);
    expect(conversation.live()?.silent).toBe(false);
    await vi.advanceTimersByTimeAsync(200);
    expect(conversation.live()?.silent).toBe(true);

    stream.push(deltaEvent('Here.'));
    await settle();
    expect(conversation.live()).toMatchObject({ silent: false, phase: 'streaming' });
  });

  it('ends the turn on an error event: indicator cleared, reply failed, banner with its code', async () => {
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    const onFailed = vi.fn();
    const { conversation } = open({ onFailed });
    await settle();
    conversation.send('Hello');
    const user = stored('Hello');
    stream.push(userMessageEvent(user));
    stream.push(deltaEvent('Half a'));
    await settle();
    const failedReply = messageFixture(3, {
      id: ASSISTANT_ID,
      role: 'assistant',
      content: 'Half a',
      status: 'failed',
      errorCode: 'stream_stalled',
      replyToId: user.id,
    });
    fetchPage.mockResolvedValue(page([greeting, user, failedReply]));

    stream.push(errorEvent({ status: 504, code: 'stream_stalled', retryable: true }));
    await settle();

    expect(conversation.live()).toBeNull();
    expect(conversation.state.messages.at(-1)).toMatchObject({ status: 'failed', content: 'Half a' });
    expect((conversation.failure()?.error as ApiError).code).toBe('stream_stalled');
    expect(onFailed).toHaveBeenCalledWith(expect.objectContaining({ id: ASSISTANT_ID, status: 'failed' }));
  });

  it('retries a failed reply by regenerating it, with a new Idempotency-Key and without re-sending the message', async () => {
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    const { conversation } = open();
    await settle();
    conversation.send('Hello');
    const user = stored('Hello');
    stream.push(userMessageEvent(user));
    const failedReply = messageFixture(3, {
      id: ASSISTANT_ID,
      role: 'assistant',
      content: '',
      status: 'failed',
      errorCode: 'provider_unavailable',
      replyToId: user.id,
    });
    fetchPage.mockResolvedValue(page([greeting, user, failedReply]));
    stream.push(errorEvent({ status: 503, code: 'provider_unavailable', retryable: true }));
    await settle();

    const again = controlledStream();
    regenerate.mockResolvedValue(again.events);
    conversation.retry();
    await settle();

    expect(send).toHaveBeenCalledTimes(1);
    const [chatId, messageId, key] = regenerate.mock.calls[0]!;
    expect([chatId, messageId]).toEqual([CHAT, ASSISTANT_ID]);
    expect(key).not.toBe(send.mock.calls[0]![2]);
    expect(conversation.failure()).toBeNull();
    expect(conversation.live()?.phase).toBe('sending');

    const newReply = '33333333-3333-4333-8333-333333333333';
    again.push(userMessageEvent(user));
    again.push(deltaEvent('Better now.', newReply));
    await settle();
    expect(conversation.state.messages.filter((m) => m.role === 'user')).toHaveLength(1);
    expect(conversation.state.messages.at(-1)).toMatchObject({ id: newReply, content: 'Better now.' });
  });

  it('re-sends with the same Idempotency-Key when a send got no answer at all', async () => {
    const stream = controlledStream();
    send.mockRejectedValueOnce(new NetworkError('offline')).mockResolvedValueOnce(stream.events);
    const { conversation } = open();
    await settle();

    conversation.send('Hello');
    await vi.advanceTimersByTimeAsync(600);

    expect(send).toHaveBeenCalledTimes(2);
    expect(send.mock.calls[1]![2]).toBe(send.mock.calls[0]![2]);
    stream.push(userMessageEvent(stored('Hello')));
    await settle();
    expect(conversation.state.messages.filter((m) => m.role === 'user')).toHaveLength(1);
  });

  it('gives the words back to the composer and undoes the chat list when the send is refused for good', async () => {
    send.mockRejectedValue(
      new ApiError(422, problemFixture({ status: 422, code: 'content_blocked', retryable: false }), 'req-1'),
    );
    const undo = vi.fn();
    const { conversation } = open({ onSend: () => undo });
    await settle();

    conversation.send('something blocked');
    await settle();

    expect(conversation.state.messages.map((m) => m.id)).toEqual([greeting.id]);
    expect(conversation.returnedDraft()).toBe('something blocked');
    expect(undo).toHaveBeenCalledTimes(1);
    expect(conversation.live()).toBeNull();
    expect(conversation.failure()?.retry).toBeNull();
  });

  it('keeps a message refused for now (breaker open) on screen as not sent; retry sends it with a new key', async () => {
    send.mockRejectedValueOnce(
      new ApiError(
        503,
        problemFixture({ status: 503, code: 'breaker_open', retryable: true, retryAfterSeconds: 3 }),
        'r',
      ),
    );
    const undo = vi.fn();
    const onSend = vi.fn(() => undo);
    const { conversation } = open({ onSend });
    await settle();

    conversation.send('Hello');
    await settle();
    expect(undo).toHaveBeenCalledTimes(1);
    expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Hello', status: 'failed', local: true });

    const stream = controlledStream();
    send.mockResolvedValueOnce(stream.events);
    conversation.retry();
    await settle();
    expect(send).toHaveBeenCalledTimes(2);
    expect(send.mock.calls[1]![2]).not.toBe(send.mock.calls[0]![2]);
    expect(onSend).toHaveBeenCalledTimes(2);
    stream.push(userMessageEvent(stored('Hello')));
    await settle();
    expect(conversation.state.messages.map((m) => [m.content, m.status])).toEqual([
      ['Welcome aboard.', 'complete'],
      ['Hello', 'complete'],
    ]);
  });

  it('re-attaches after a lost connection from the last event, without repeating text', async () => {
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    const { conversation } = open({ reconnectDelaysMs: [100] });
    await settle();
    conversation.send('Hello');
    const user = stored('Hello');
    stream.push(userMessageEvent(user));
    const cut = deltaEvent('One, ');
    stream.push(cut);
    stream.push(new NetworkError('connection reset'));
    await settle();
    expect(conversation.live()?.phase).toBe('reconnecting');

    const resumed = controlledStream();
    follow.mockResolvedValue(resumed.events);
    await vi.advanceTimersByTimeAsync(100);
    expect(follow).toHaveBeenCalledWith(CHAT, ASSISTANT_ID, cut.id, expect.any(AbortSignal));

    resumed.push(deltaEvent('two.'));
    resumed.push(doneEvent(user, 'One, two.'));
    await settle();
    expect(conversation.live()).toBeNull();
    expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'One, two.', status: 'complete' });
  });

  it('stops a reply: the partial text stays, marked cancelled, and the indicator clears', async () => {
    const stream = controlledStream();
    send.mockResolvedValue(stream.events);
    const { conversation } = open();
    await settle();
    conversation.send('Tell me a story');
    const user = stored('Tell me a story');
    stream.push(userMessageEvent(user));
    stream.push(deltaEvent('Once upon'));
    await settle();
    cancel.mockResolvedValue(
      messageFixture(3, {
        id: ASSISTANT_ID,
        role: 'assistant',
        content: 'Once upon',
        status: 'cancelled',
        errorCode: 'turn_cancelled',
        replyToId: user.id,
      }),
    );

    await conversation.stop();

    expect(cancel).toHaveBeenCalledWith(CHAT, ASSISTANT_ID);
    expect(conversation.live()).toBeNull();
    expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Once upon', status: 'cancelled' });
    expect(conversation.failure()).toBeNull();
  });

  it('leaving the chat aborts the page’s request but never stops the reply', async () => {
    send.mockResolvedValue(controlledStream().events);
    const { conversation, dispose } = open();
    await settle();
    conversation.send('Hello');
    await settle();
    const signal = send.mock.calls[0]![3];
    expect(signal.aborted).toBe(false);

    dispose();

    expect(signal.aborted).toBe(true);
    expect(cancel).not.toHaveBeenCalled();
  });

  it('opening a chat whose reply is still being written follows it from the start', async () => {
    const user = stored('Hello');
    const partial = messageFixture(3, {
      id: ASSISTANT_ID,
      role: 'assistant',
      content: 'Once',
      status: 'streaming',
      replyToId: user.id,
    });
    fetchPage.mockResolvedValue(page([greeting, user, partial]));
    const stream = controlledStream();
    follow.mockResolvedValue(stream.events);
    const { conversation } = open();
    await settle();

    expect(follow).toHaveBeenCalledWith(CHAT, ASSISTANT_ID, undefined, expect.any(AbortSignal));
    expect(conversation.live()?.phase).toBe('streaming');
    stream.push(userMessageEvent(user));
    stream.push(deltaEvent('Once upon a time'));
    await settle();
    expect(conversation.state.messages.at(-1)?.content).toBe('Once upon a time');
    stream.push(deltaEvent(', the end.'));
    stream.push(doneEvent(user, 'Once upon a time, the end.'));
    await settle();
    expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Once upon a time, the end.' });
    expect(conversation.state.messages).toHaveLength(3);
  });
});
