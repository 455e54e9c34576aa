import { createRoot } from 'solid-js';
import type { Message, MessagePage } from '@parley/api-types';
import { ApiError, NetworkError, type RealtimeEvent } from '@parley/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { deleteMessage, fetchAlternatives, fetchMessagePage, forkChat, selectMessage } from '../chats/chats.api';
import { chatFixture, messageFixture, problemFixture } from '../test-fixtures';
import { createConversation, type ConversationOptions } from './create-conversation';
import {
  ASSISTANT_ID,
  controlledStream,
  deltaEvent,
  doneEvent,
  errorEvent,
  pendingReply,
  providerEvent,
  retryEvent,
  turnStartedEvent,
} from './test-streams';
import { cancelReply, continueMessage, editMessage, followReply, regenerateMessage, sendMessage } from './turns.api';

vi.mock('../chats/chats.api', () => ({
  fetchMessagePage: vi.fn(),
  fetchAlternatives: vi.fn(),
  selectMessage: vi.fn(),
  deleteMessage: vi.fn(),
  forkChat: vi.fn(),
}));
// The realtime channel: each test hands the page the events another tab would cause.
const realtime = vi.hoisted(() => ({ listeners: new Set<(event: RealtimeEvent) => void>() }));
vi.mock('../realtime/realtime', () => ({
  onRealtimeEvent: (listener: (event: RealtimeEvent) => void) => {
    realtime.listeners.add(listener);
    return () => realtime.listeners.delete(listener);
  },
  onRealtimeResync: () => () => undefined,
  subscribeChat: () => () => undefined,
}));
const fromChannel = (event: RealtimeEvent) => {
  for (const listener of realtime.listeners) listener(event);
};
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
const sendCall = (n: number) => send.mock.calls[n]![0];

/** A promise the test settles when it chooses (a request still on its way until then). */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Lets pending promises and stream reads run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

let disposers: (() => void)[] = [];

function open(options: Partial<ConversationOptions> = {}) {
  return createRoot((dispose) => {
    disposers.push(dispose);
    return { conversation: createConversation({ chatId: CHAT, ...options }), dispose };
  });
}

type Opened = ReturnType<typeof open>['conversation'];

const texts = (c: Opened) => c.state.messages.map((m) => [m.role, m.content, m.status]);

/** Opens the chat, sends `content` and lets the server start the turn; returns the stream. */
async function started(content: string, options: Partial<ConversationOptions> = {}) {
  const stream = controlledStream();
  send.mockResolvedValue(stream.events);
  const { conversation, dispose } = open(options);
  await settle();
  conversation.send(content);
  const user = stored(content);
  stream.push(turnStartedEvent(user));
  await settle();
  return { conversation, dispose, stream, user };
}

const cancelledReply = (user: Message, content: string) =>
  messageFixture(3, {
    id: ASSISTANT_ID,
    role: 'assistant',
    content,
    status: 'cancelled',
    errorCode: 'turn_cancelled',
    replyToId: user.id,
  });

describe(createConversation.name, () => {
  beforeEach(() => {
    vi.useFakeTimers();
    fetchPage.mockResolvedValue(page([greeting]));
  });
  afterEach(() => {
    for (const dispose of disposers) dispose();
    disposers = [];
    realtime.listeners.clear();
    vi.useRealTimers();
    vi.resetAllMocks();
  });

  describe('send', () => {
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
      expect(sendCall(0)).toMatchObject({ chatId: CHAT, content: 'Hello there', lastEventId: undefined });
      expect(sendCall(0).idempotencyKey).toMatch(/^[0-9a-f-]{36}$/);

      const user = stored('Hello there');
      stream.push(turnStartedEvent(user));
      await settle();
      expect(conversation.live()).toMatchObject({ phase: 'waiting', assistantId: ASSISTANT_ID });
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
        replyToId: user.id,
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

    it('shows the provider attempt from retry events', async () => {
      const { conversation, stream } = await started('Hello');

      stream.push(retryEvent(2));
      await settle();

      expect(conversation.live()).toMatchObject({ phase: 'waiting', attempt: 2 });
    });

    it('turns the indicator into a timeout message after 30 s of silence, and back when text arrives', async () => {
      const { conversation, stream } = await started('Are you there?');

      await vi.advanceTimersByTimeAsync(29_900);
      expect(conversation.live()?.silent).toBe(false);
      await vi.advanceTimersByTimeAsync(200);
      expect(conversation.live()?.silent).toBe(true);

      stream.push(deltaEvent('Here.'));
      await settle();
      expect(conversation.live()).toMatchObject({ silent: false, phase: 'streaming' });
    });
  });

  describe('failures', () => {
    it('ends the turn on an error event: indicator cleared, reply failed, banner with its code', async () => {
      const onFailed = vi.fn();
      const { conversation, stream, user } = await started('Hello', { onFailed });
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

    it('keeps the failure when the channel reports the same reply late (it never becomes live again)', async () => {
      const { conversation, stream, user } = await started('Hello');
      const failedReply = messageFixture(3, {
        id: ASSISTANT_ID,
        role: 'assistant',
        content: '',
        status: 'failed',
        errorCode: 'turn_timeout',
        replyToId: user.id,
      });
      fetchPage.mockResolvedValue(page([greeting, user, failedReply]));
      stream.push(errorEvent({ status: 504, code: 'turn_timeout', retryable: true }));
      await settle();
      expect(conversation.state.messages.at(-1)).toMatchObject({ id: ASSISTANT_ID, status: 'failed' });

      // The channel is behind the page's own stream: the reply's start arrives after its end.
      fromChannel({ type: 'message.created', seq: 4, chatId: CHAT, message: pendingReply(user) });
      fromChannel({ type: 'reply.delta', seq: 5, chatId: CHAT, messageId: ASSISTANT_ID, offset: 0, text: 'late' });
      fromChannel({ type: 'message.updated', seq: 6, chatId: CHAT, message: { ...failedReply, status: 'streaming' } });
      await settle();

      expect(conversation.live()).toBeNull();
      expect((conversation.failure()?.error as ApiError).code).toBe('turn_timeout');
      expect(conversation.state.messages.at(-1)).toMatchObject({ id: ASSISTANT_ID, status: 'failed', content: '' });
    });

    it('retries a failed reply by regenerating it, with a new Idempotency-Key and without re-sending the message', async () => {
      const { conversation, stream, user } = await started('Hello');
      // The reply failed before any text: the page still knows it from `turn_started`.
      fetchPage.mockRejectedValue(new NetworkError('offline'));
      stream.push(errorEvent({ status: 503, code: 'provider_unavailable', retryable: true }));
      await settle();
      expect(conversation.state.messages.at(-1)).toMatchObject({ id: ASSISTANT_ID, status: 'failed' });

      const again = controlledStream();
      regenerate.mockResolvedValue(again.events);
      conversation.retry();
      await settle();

      expect(send).toHaveBeenCalledTimes(1);
      expect(regenerate.mock.calls[0]![0]).toMatchObject({ chatId: CHAT, messageId: ASSISTANT_ID });
      expect(regenerate.mock.calls[0]![0].idempotencyKey).not.toBe(sendCall(0).idempotencyKey);
      expect(conversation.failure()).toBeNull();
      expect(conversation.live()?.phase).toBe('sending');

      const newReply = pendingReply(messageFixture(3, { id: 'user-2' }), '33333333-3333-4333-8333-333333333333');
      again.push(turnStartedEvent(user, newReply));
      again.push(deltaEvent('Better now.', newReply.id));
      await settle();
      expect(conversation.state.messages.filter((m) => m.role === 'user')).toHaveLength(1);
      expect(conversation.state.messages.at(-1)).toMatchObject({ id: newReply.id, content: 'Better now.' });
    });

    it('re-sends with the same Idempotency-Key when a send got no answer at all', async () => {
      const stream = controlledStream();
      send.mockRejectedValueOnce(new NetworkError('offline')).mockResolvedValueOnce(stream.events);
      const { conversation } = open();
      await settle();

      conversation.send('Hello');
      await vi.advanceTimersByTimeAsync(600);

      expect(send).toHaveBeenCalledTimes(2);
      expect(sendCall(1).idempotencyKey).toBe(sendCall(0).idempotencyKey);
      stream.push(turnStartedEvent(stored('Hello')));
      await settle();
      expect(conversation.state.messages.filter((m) => m.role === 'user')).toHaveLength(1);
    });

    it('keeps the message when the re-sends get no answer either; Try again reuses the key', async () => {
      send.mockRejectedValue(new NetworkError('offline'));
      const undo = vi.fn();
      const { conversation } = open({ onSend: () => undo, resendDelaysMs: [100] });
      await settle();

      conversation.send('Hello');
      await vi.advanceTimersByTimeAsync(100);

      expect(send).toHaveBeenCalledTimes(2);
      expect(conversation.live()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Hello', status: 'failed', local: true });
      // The server may have the message: the chat list keeps it.
      expect(undo).not.toHaveBeenCalled();
      conversation.retry();
      expect(sendCall(2).idempotencyKey).toBe(sendCall(0).idempotencyKey);
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Hello', status: 'pending' });
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

      send.mockResolvedValue(controlledStream().events);
      conversation.send('something else');
      expect(conversation.returnedDraft()).toBeNull();
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
      expect(onSend).toHaveBeenCalledWith(
        expect.objectContaining({ role: 'user', content: 'Hello', status: 'complete' }),
      );
      expect(undo).toHaveBeenCalledTimes(1);
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Hello', status: 'failed', local: true });

      const stream = controlledStream();
      send.mockResolvedValueOnce(stream.events);
      conversation.retry();
      await settle();
      expect(send).toHaveBeenCalledTimes(2);
      expect(sendCall(1).idempotencyKey).not.toBe(sendCall(0).idempotencyKey);
      expect(onSend).toHaveBeenCalledTimes(2);
      stream.push(turnStartedEvent(stored('Hello')));
      await settle();
      expect(conversation.state.messages.map((m) => [m.content, m.status])).toEqual([
        ['Welcome aboard.', 'complete'],
        ['Hello', 'complete'],
      ]);
    });
  });

  describe('re-attaching', () => {
    it('re-attaches after a lost connection from the last event, without repeating text', async () => {
      const { conversation, stream, user } = await started('Hello', { reconnectDelaysMs: [100] });
      const cut = deltaEvent('One, ');
      stream.push(cut);
      stream.push(new NetworkError('connection reset'));
      await settle();
      expect(conversation.live()?.phase).toBe('reconnecting');

      const resumed = controlledStream();
      follow.mockResolvedValue(resumed.events);
      await vi.advanceTimersByTimeAsync(100);
      expect(follow).toHaveBeenCalledWith(
        expect.objectContaining({ chatId: CHAT, messageId: ASSISTANT_ID, lastEventId: cut.id }),
      );

      resumed.push(deltaEvent('two.'));
      await settle();
      expect(conversation.live()?.phase).toBe('streaming');
      expect(conversation.state.messages.at(-1)?.content).toBe('One, two.');
      resumed.push(doneEvent(user, 'One, two.'));
      await settle();
      expect(conversation.live()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'One, two.', status: 'complete' });
    });

    it('re-attaches to the reply named by turn_started when the connection drops before any text', async () => {
      const { conversation, stream } = await started('Hello', { reconnectDelaysMs: [100] });
      stream.push(new NetworkError('connection reset'));
      await settle();

      follow.mockResolvedValue(controlledStream().events);
      await vi.advanceTimersByTimeAsync(100);

      expect(follow).toHaveBeenCalledWith(expect.objectContaining({ messageId: ASSISTANT_ID }));
      expect(follow.mock.calls[0]![0].lastEventId).toMatch(new RegExp(`^${ASSISTANT_ID}:`));
      expect(send).toHaveBeenCalledTimes(1);
      expect(conversation.live()?.phase).toBe('reconnecting');
    });

    it('shows a failure with Reload when the reply cannot be re-attached', async () => {
      const { conversation, stream } = await started('Hello', { reconnectDelaysMs: [100] });
      stream.push(new NetworkError('connection reset'));
      await settle();

      follow.mockRejectedValue(new ApiError(404, problemFixture({ code: 'message_not_found' }), 'r'));
      await vi.advanceTimersByTimeAsync(100);

      expect(conversation.live()).toBeNull();
      expect((conversation.failure()?.error as ApiError).code).toBe('message_not_found');
      fetchPage.mockClear();
      conversation.retry();
      expect(fetchPage).toHaveBeenCalledTimes(1);
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

      expect(follow).toHaveBeenCalledWith(
        expect.objectContaining({ chatId: CHAT, messageId: ASSISTANT_ID, lastEventId: undefined }),
      );
      expect(conversation.live()?.phase).toBe('streaming');
      // The server starts with the turn (the reply as stored) and then all the text so far.
      stream.push(turnStartedEvent(user, { ...partial, content: 'Once upon' }));
      await settle();
      expect(conversation.state.messages.at(-1)?.content).toBe('Once');
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

  describe('stop', () => {
    it('stops a reply: the partial text stays, marked cancelled, and the indicator clears', async () => {
      const { conversation, stream, user } = await started('Tell me a story');
      stream.push(deltaEvent('Once upon'));
      await settle();
      cancel.mockResolvedValue(cancelledReply(user, 'Once upon'));

      await conversation.stop();

      expect(cancel).toHaveBeenCalledWith(CHAT, ASSISTANT_ID);
      expect(conversation.live()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Once upon', status: 'cancelled' });
      expect(conversation.failure()).toBeNull();
    });

    it('stops a reply while the provider is being retried, before any text', async () => {
      const { conversation, stream, user } = await started('Hello');
      stream.push(retryEvent(2));
      await settle();
      cancel.mockResolvedValue(cancelledReply(user, ''));

      await conversation.stop();

      expect(cancel).toHaveBeenCalledWith(CHAT, ASSISTANT_ID);
      expect(conversation.live()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({ id: ASSISTANT_ID, status: 'cancelled' });
    });

    it('sends a stop pressed before the turn started as soon as turn_started names the reply', async () => {
      const stream = controlledStream();
      send.mockResolvedValue(stream.events);
      const { conversation } = open();
      await settle();
      conversation.send('Hello');
      const user = stored('Hello');
      cancel.mockResolvedValue(cancelledReply(user, ''));

      await conversation.stop();
      expect(cancel).not.toHaveBeenCalled();
      stream.push(turnStartedEvent(user));
      await settle();

      expect(cancel).toHaveBeenCalledWith(CHAT, ASSISTANT_ID);
      expect(conversation.live()).toBeNull();
    });

    it('a reply that ended before the stop arrived is shown as the server has it', async () => {
      const { conversation, stream, user } = await started('Hello');
      stream.push(deltaEvent('All'));
      await settle();
      cancel.mockRejectedValue(
        new ApiError(409, problemFixture({ status: 409, code: 'message_not_cancellable' }), 'r'),
      );
      const finished = messageFixture(3, {
        id: ASSISTANT_ID,
        role: 'assistant',
        content: 'All done.',
        replyToId: user.id,
      });
      fetchPage.mockResolvedValue(page([greeting, user, finished]));

      await conversation.stop();
      await settle();

      expect(conversation.failure()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'All done.', status: 'complete' });
    });

    it('a stop that did not get through shows a failure whose Try again stops again', async () => {
      const { conversation, stream, user } = await started('Hello');
      stream.push(deltaEvent('Once'));
      await settle();
      cancel.mockRejectedValueOnce(new NetworkError('offline')).mockResolvedValueOnce(cancelledReply(user, 'Once'));

      await conversation.stop();
      expect(conversation.failure()?.error).toBeInstanceOf(NetworkError);
      expect(conversation.live()?.phase).toBe('streaming');

      conversation.retry();
      await settle();
      expect(cancel).toHaveBeenCalledTimes(2);
      expect(conversation.live()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({ status: 'cancelled' });
    });

    it('stops a reply followed on opening the chat before any of its events arrived', async () => {
      const user = stored('Hello');
      const writing = { ...pendingReply(user), status: 'streaming' as const, content: 'Once' };
      fetchPage.mockResolvedValue(page([greeting, user, writing]));
      follow.mockResolvedValue(controlledStream().events);
      cancel.mockResolvedValue(cancelledReply(user, 'Once'));
      const { conversation } = open();
      await settle();

      await conversation.stop();

      expect(cancel).toHaveBeenCalledWith(CHAT, ASSISTANT_ID);
      expect(conversation.live()).toBeNull();
      expect(follow.mock.calls[0]![0].signal?.aborted).toBe(true);
    });

    it('keeps following a reply the stop left running (the server still writes it)', async () => {
      const { conversation, stream, user } = await started('Hello');
      stream.push(deltaEvent('Once'));
      await settle();
      cancel.mockResolvedValue({ ...pendingReply(user), content: 'Once', status: 'streaming' });

      await conversation.stop();

      expect(conversation.live()?.phase).toBe('streaming');
      expect(sendCall(0).signal?.aborted).toBe(false);
    });

    it('a reply stopped elsewhere ends here as stopped, without a failure', async () => {
      const { conversation, stream, user } = await started('Hello');
      stream.push(deltaEvent('Once'));
      fetchPage.mockResolvedValue(page([greeting, user, cancelledReply(user, 'Once')]));
      stream.push(errorEvent({ status: 409, code: 'turn_cancelled' }));
      await settle();

      expect(conversation.live()).toBeNull();
      expect(conversation.failure()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'Once', status: 'cancelled' });
    });

    it('does nothing when no reply is in progress', async () => {
      const { conversation } = open();
      await settle();

      await conversation.stop();

      expect(cancel).not.toHaveBeenCalled();
    });

    it('leaving the chat aborts the page’s request but never stops the reply', async () => {
      send.mockResolvedValue(controlledStream().events);
      const { conversation, dispose } = open();
      await settle();
      conversation.send('Hello');
      await settle();
      const { signal } = sendCall(0);
      expect(signal?.aborted).toBe(false);

      dispose();

      expect(signal?.aborted).toBe(true);
      expect(cancel).not.toHaveBeenCalled();
    });
  });

  describe('the conversation tree', () => {
    const question = messageFixture(2, { role: 'user', content: 'Where to?' });
    const answer = messageFixture(3, { role: 'assistant', content: 'North.', replyToId: question.id });
    const other = messageFixture(4, {
      id: 'other-version',
      role: 'assistant',
      content: 'South.',
      replyToId: question.id,
      parentId: question.id,
      alternatives: { index: 2, count: 2 },
    });

    it('shows the path again when another tab moves it, but not when the page already ends there', async () => {
      fetchPage
        .mockResolvedValueOnce(page([greeting, question, answer]))
        .mockResolvedValue(page([greeting, question, other]));
      const { conversation } = open();
      await settle();

      fromChannel({ type: 'chat.path_changed', seq: 7, chatId: CHAT, activeLeafId: answer.id });
      fromChannel({ type: 'chat.path_changed', seq: 8, chatId: 'another-chat', activeLeafId: null });
      await settle();
      expect(fetchPage).toHaveBeenCalledTimes(1);

      fromChannel({ type: 'chat.path_changed', seq: 9, chatId: CHAT, activeLeafId: other.id });
      await settle();

      expect(fetchPage).toHaveBeenCalledTimes(2);
      expect(texts(conversation)).toEqual([
        ['assistant', 'Welcome aboard.', 'complete'],
        ['user', 'Where to?', 'complete'],
        ['assistant', 'South.', 'complete'],
      ]);
    });

    it('shows the path again when messages it shows were deleted elsewhere, and only then', async () => {
      fetchPage.mockResolvedValueOnce(page([greeting, question, answer])).mockResolvedValue(page([greeting]));
      const { conversation } = open();
      await settle();

      fromChannel({ type: 'message.deleted', seq: 7, chatId: CHAT, messageIds: ['not-shown'] });
      await settle();
      expect(fetchPage).toHaveBeenCalledTimes(1);

      fromChannel({ type: 'message.deleted', seq: 8, chatId: CHAT, messageIds: [question.id, answer.id] });
      await settle();
      expect(texts(conversation)).toEqual([['assistant', 'Welcome aboard.', 'complete']]);
    });

    it('ignores a path change while its own turn streams (the stream shows the same)', async () => {
      const { stream } = await started('Hello');
      stream.push(deltaEvent('Hi'));
      await settle();
      const loads = fetchPage.mock.calls.length;

      fromChannel({ type: 'chat.path_changed', seq: 7, chatId: CHAT, activeLeafId: ASSISTANT_ID });
      fromChannel({ type: 'chat.path_changed', seq: 8, chatId: CHAT, activeLeafId: 'elsewhere' });
      await settle();

      expect(fetchPage).toHaveBeenCalledTimes(loads);
    });

    it(`shows the tool calls of a reply written in another tab as they happen, each by its id`, async () => {
      const writing = { ...answer, content: '', status: 'streaming' as const, finishReason: null };
      fetchPage.mockResolvedValue(page([greeting, question, writing]));
      follow.mockResolvedValue(controlledStream().events);
      const { conversation } = open();
      await settle();
      const call = {
        id: 'call-1',
        chatId: CHAT,
        messageId: answer.id,
        step: 1,
        index: 0,
        toolName: 'roll_dice',
        arguments: {},
        status: 'running' as const,
        result: null,
        error: null,
        idempotent: true,
        provider: 'demo',
        attempt: 1,
        startedAt: null,
        finishedAt: null,
        durationMs: null,
        createdAt: answer.createdAt,
      };
      const ended = { ...call, status: 'complete' as const, result: { total: 4 }, durationMs: 2 };

      fromChannel({ type: 'reply.tool_call', seq: 7, chatId: CHAT, messageId: answer.id, call });
      await settle();
      expect(conversation.state.messages.at(-1)?.toolCalls).toEqual([call]);

      fromChannel({ type: 'reply.tool_result', seq: 8, chatId: CHAT, messageId: answer.id, call: ended });
      // Received twice (a resubscribed tab): the same one call.
      fromChannel({ type: 'reply.tool_result', seq: 8, chatId: CHAT, messageId: answer.id, call: ended });
      fromChannel({ type: 'reply.tool_call', seq: 9, chatId: 'another-chat', messageId: 'elsewhere', call });
      await settle();
      expect(conversation.state.messages.at(-1)?.toolCalls).toEqual([ended]);
    });

    it('a continuation started in another tab streams here, then ends', async () => {
      const cut = { ...answer, content: 'North, past', finishReason: 'max_tokens' as const };
      fetchPage.mockResolvedValue(page([greeting, question, cut]));
      const { conversation } = open();
      await settle();
      const later = new Date(Date.parse(cut.updatedAt) + 1000).toISOString();

      // A late event about the reply's first generation changes nothing.
      fromChannel({ type: 'message.updated', seq: 6, chatId: CHAT, message: { ...cut, status: 'streaming' } });
      await settle();
      expect(conversation.live()).toBeNull();

      const continuing = { ...cut, status: 'streaming' as const, finishReason: null, updatedAt: later };
      fromChannel({ type: 'message.updated', seq: 7, chatId: CHAT, message: continuing });
      fromChannel({ type: 'reply.delta', seq: 8, chatId: CHAT, messageId: answer.id, offset: 11, text: ' the reef' });
      await settle();
      expect(conversation.live()?.assistantId).toBe(answer.id);
      expect(conversation.state.messages.at(-1)).toMatchObject({
        content: 'North, past the reef',
        status: 'streaming',
      });

      const finished = { ...continuing, content: 'North, past the reef.', status: 'complete' as const };
      fromChannel({ type: 'message.updated', seq: 9, chatId: CHAT, message: { ...finished, finishReason: 'stop' } });
      await settle();
      expect(conversation.live()).toBeNull();
      expect(conversation.state.messages.at(-1)).toMatchObject({
        content: 'North, past the reef.',
        finishReason: 'stop',
      });
    });

    it('a continuation adds to the reply, also after re-attaching from the last event it received', async () => {
      const cut = { ...answer, content: 'North, past', finishReason: 'max_tokens' as const };
      fetchPage.mockResolvedValue(page([greeting, question, cut]));
      const first = controlledStream();
      vi.mocked(continueMessage).mockResolvedValue(first.events);
      const again = controlledStream();
      follow.mockResolvedValue(again.events);
      const { conversation } = open({ reconnectDelaysMs: [10] });
      await settle();

      void conversation.continueReply(answer.id);
      await settle();
      expect(continueMessage).toHaveBeenCalledWith(expect.objectContaining({ chatId: CHAT, messageId: answer.id }));
      first.push(turnStartedEvent(question, { ...cut, status: 'streaming', finishReason: null }));
      first.push(deltaEvent(' the reef', answer.id));
      await settle();
      expect(conversation.state.messages.at(-1)).toMatchObject({
        content: 'North, past the reef',
        status: 'streaming',
      });

      first.push(new NetworkError('connection reset'));
      await vi.advanceTimersByTimeAsync(20);
      expect(follow).toHaveBeenCalledWith(
        expect.objectContaining({ messageId: answer.id, lastEventId: expect.any(String) }),
      );
      // Resumed after the last event received: only what came after it.
      again.push(deltaEvent(' and on', answer.id));
      await settle();

      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'North, past the reef and on' });
      expect(conversation.state.messages).toHaveLength(3);
    });

    it('shows the next version: the server selects its sibling, the page shows the path again', async () => {
      const first = { ...answer, alternatives: { index: 1, count: 2 } };
      fetchPage
        .mockResolvedValueOnce(page([greeting, question, first]))
        .mockResolvedValue(page([greeting, question, other]));
      vi.mocked(fetchAlternatives).mockResolvedValue({ items: [first, other], activeId: first.id });
      const chat = chatFixture(CHAT, { activeLeafId: other.id });
      vi.mocked(selectMessage).mockResolvedValue(chat);
      const onChatChanged = vi.fn();
      const { conversation } = open({ onChatChanged });
      await settle();

      await conversation.showAlternative(first.id, 1);

      expect(fetchAlternatives).toHaveBeenCalledWith(CHAT, first.id);
      expect(selectMessage).toHaveBeenCalledWith(CHAT, other.id);
      expect(onChatChanged).toHaveBeenCalledWith(chat);
      expect(texts(conversation).at(-1)).toEqual(['assistant', 'South.', 'complete']);
      expect(conversation.busy()).toBe(false);

      await conversation.showAlternative(other.id, -1);
      expect(selectMessage).toHaveBeenLastCalledWith(CHAT, first.id);
    });

    it('does not move before the first version, past the last, or for a message with one version', async () => {
      const first = { ...answer, alternatives: { index: 1, count: 2 } };
      fetchPage.mockResolvedValue(page([greeting, question, first, other]));
      const { conversation } = open();
      await settle();

      await conversation.showAlternative(first.id, -1);
      await conversation.showAlternative(other.id, 1);
      await conversation.showAlternative(question.id, 1);
      await conversation.showAlternative('not-shown', 1);

      expect(fetchAlternatives).not.toHaveBeenCalled();
      expect(selectMessage).not.toHaveBeenCalled();
    });

    it('while a change is on its way, nothing else starts and path changes from the channel wait for it', async () => {
      const first = { ...answer, alternatives: { index: 1, count: 2 } };
      fetchPage.mockResolvedValue(page([greeting, question, first]));
      vi.mocked(fetchAlternatives).mockResolvedValue({ items: [first, other], activeId: first.id });
      const selecting = deferred<ReturnType<typeof chatFixture>>();
      vi.mocked(selectMessage).mockReturnValue(selecting.promise);
      const { conversation } = open();
      await settle();

      const shown = conversation.showAlternative(first.id, 1);
      await settle();
      expect(conversation.busy()).toBe(true);
      expect(conversation.send('Hello')).toBe(false);
      expect(conversation.edit(question.id, 'Where now?')).toBe(false);
      await conversation.regenerate(first.id);
      await conversation.continueReply(first.id);
      expect(await conversation.fork(first.id)).toBeUndefined();
      fromChannel({ type: 'chat.path_changed', seq: 7, chatId: CHAT, activeLeafId: 'elsewhere' });
      fromChannel({ type: 'message.deleted', seq: 8, chatId: CHAT, messageIds: [question.id] });
      await settle();
      expect(fetchPage).toHaveBeenCalledTimes(1);
      expect(send).not.toHaveBeenCalled();
      expect(regenerate).not.toHaveBeenCalled();
      expect(continueMessage).not.toHaveBeenCalled();
      expect(forkChat).not.toHaveBeenCalled();

      selecting.resolve(chatFixture(CHAT));
      await shown;
      expect(fetchPage).toHaveBeenCalledTimes(2);
      expect(conversation.busy()).toBe(false);
    });

    it('a refused change shows in the banner without Try again, and the page is free again', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      const refused = new ApiError(409, problemFixture({ status: 409, code: 'chat_not_found' }), 'r');
      vi.mocked(deleteMessage).mockRejectedValue(refused);
      const onChatChanged = vi.fn();
      const { conversation } = open({ onChatChanged });
      await settle();

      await conversation.remove(answer.id);

      expect(conversation.failure()).toEqual({ error: refused, retry: null });
      expect(onChatChanged).not.toHaveBeenCalled();
      expect(fetchPage).toHaveBeenCalledTimes(1);
      expect(conversation.busy()).toBe(false);
      conversation.dismissFailure();
      expect(conversation.failure()).toBeNull();
    });

    it('deletes a message and what follows it, then shows the path as the server has it', async () => {
      fetchPage.mockResolvedValueOnce(page([greeting, question, answer])).mockResolvedValue(page([greeting]));
      const chat = chatFixture(CHAT, { activeLeafId: greeting.id });
      vi.mocked(deleteMessage).mockResolvedValue(chat);
      const onChatChanged = vi.fn();
      const { conversation } = open({ onChatChanged });
      await settle();

      await conversation.remove(question.id);

      expect(deleteMessage).toHaveBeenCalledWith(CHAT, question.id);
      expect(texts(conversation)).toEqual([['assistant', 'Welcome aboard.', 'complete']]);
      expect(onChatChanged).toHaveBeenCalledWith(chat);
    });

    it('forks a new chat up to a message, leaving this one as it is; a refusal answers nothing', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      const forked = chatFixture('chat-2');
      vi.mocked(forkChat).mockResolvedValueOnce(forked).mockRejectedValueOnce(new NetworkError('offline'));
      const onChatChanged = vi.fn();
      const { conversation } = open({ onChatChanged });
      await settle();

      expect(await conversation.fork(question.id)).toEqual(forked);
      expect(forkChat).toHaveBeenCalledWith(CHAT, question.id);
      expect(fetchPage).toHaveBeenCalledTimes(1);
      expect(onChatChanged).not.toHaveBeenCalled();

      expect(await conversation.fork(question.id)).toBeUndefined();
      expect(conversation.failure()?.error).toBeInstanceOf(NetworkError);
    });
  });

  describe('history', () => {
    it('shows a failed load; reload loads again', async () => {
      fetchPage.mockRejectedValueOnce(new NetworkError('offline'));
      const { conversation } = open();
      expect(conversation.state.loading).toBe(true);
      await settle();
      expect(conversation.state.loading).toBe(false);
      expect(conversation.state.loadError).toBeInstanceOf(NetworkError);

      const reloaded = conversation.reload();
      expect(conversation.state).toMatchObject({ loading: true, loadError: null });
      await reloaded;

      expect(conversation.state).toMatchObject({ loading: false, loadError: null });
      expect(texts(conversation)).toEqual([['assistant', 'Welcome aboard.', 'complete']]);
    });

    it('loads the older messages before the oldest shown, one page at a time, until there are no more', async () => {
      const older = [messageFixture(1), messageFixture(2)];
      const newer = [messageFixture(3), messageFixture(4)];
      fetchPage.mockResolvedValueOnce({ items: newer, hasMore: true, nextBefore: 3 });
      const { conversation } = open();
      await settle();
      const loading = deferred<MessagePage>();
      fetchPage.mockReturnValueOnce(loading.promise);

      void conversation.loadOlder();
      void conversation.loadOlder();
      expect(conversation.state.loadingOlder).toBe(true);
      expect(fetchPage).toHaveBeenCalledTimes(2);
      expect(fetchPage).toHaveBeenLastCalledWith(CHAT, 3);
      // The page overlaps what is shown: a message shown already stays as it is.
      loading.resolve({ items: [...older, { ...newer[0]!, content: 'stale' }], hasMore: false, nextBefore: null });
      await settle();

      expect(conversation.state.loadingOlder).toBe(false);
      expect(conversation.state.messages.map((m) => m.content)).toEqual([1, 2, 3, 4].map((n) => `Message ${n}`));
      expect(conversation.state).toMatchObject({ hasMore: false, nextBefore: null });
      await conversation.loadOlder();
      expect(fetchPage).toHaveBeenCalledTimes(2);
    });

    it('a failed older page shows a failure whose Try again asks for it again', async () => {
      fetchPage.mockResolvedValueOnce({ items: [messageFixture(3)], hasMore: true, nextBefore: 3 });
      const { conversation } = open();
      await settle();
      fetchPage.mockRejectedValueOnce(new NetworkError('offline'));

      await conversation.loadOlder();
      expect(conversation.state.loadingOlder).toBe(false);
      expect(conversation.failure()?.error).toBeInstanceOf(NetworkError);

      fetchPage.mockResolvedValueOnce({ items: [messageFixture(1)], hasMore: false, nextBefore: null });
      conversation.retry();
      await settle();
      expect(fetchPage).toHaveBeenLastCalledWith(CHAT, 3);
      expect(conversation.state.messages.map((m) => m.seq)).toEqual([1, 3]);
    });
  });

  describe('edit', () => {
    const question = messageFixture(2, { role: 'user', content: 'Where to?' });
    const answer = messageFixture(3, { role: 'assistant', content: 'North.', replyToId: question.id });

    it('sends an edited copy; the message and what followed leave the path when the turn starts', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      const stream = controlledStream();
      vi.mocked(editMessage).mockResolvedValue(stream.events);
      const { conversation } = open();
      await settle();

      expect(conversation.edit(question.id, '  Where now?  ')).toBe(true);
      expect(vi.mocked(editMessage).mock.calls[0]![0]).toMatchObject({
        chatId: CHAT,
        messageId: question.id,
        content: 'Where now?',
      });
      expect(conversation.state.messages).toHaveLength(3);

      const edited = messageFixture(4, { id: 'edited', role: 'user', content: 'Where now?' });
      stream.push(turnStartedEvent(edited));
      await settle();
      expect(conversation.state.messages.map((m) => m.id)).toEqual([greeting.id, 'edited']);

      // The result does not say where the new version stands: the page asks for the path again.
      const result = doneEvent(edited, 'Nowhere.');
      if (result.event.type !== 'done') throw new Error('a done event');
      delete result.event.result.assistantMessage.alternatives;
      stream.push(result);
      await settle();
      expect(fetchPage).toHaveBeenCalledTimes(2);
    });

    it('takes no empty edit, and none while a reply is in progress', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      send.mockResolvedValue(controlledStream().events);
      const { conversation } = open();
      await settle();

      expect(conversation.edit(question.id, '   ')).toBe(false);
      conversation.send('Hello');
      expect(conversation.edit(question.id, 'Where now?')).toBe(false);
      expect(editMessage).not.toHaveBeenCalled();
    });

    it('gives the words of an edit refused before it was stored back to its editor', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      const refused = new ApiError(422, problemFixture({ status: 422, code: 'content_blocked' }), 'r');
      vi.mocked(editMessage).mockRejectedValue(refused);
      const { conversation } = open();
      await settle();

      conversation.edit(question.id, 'Something blocked');
      await settle();

      expect(conversation.returnedEdit()).toEqual({ messageId: question.id, content: 'Something blocked' });
      expect(conversation.failure()).toEqual({ error: refused, retry: null });
      expect(conversation.live()).toBeNull();
      expect(fetchPage).toHaveBeenCalledTimes(2);
      expect(texts(conversation)).toEqual([
        ['assistant', 'Welcome aboard.', 'complete'],
        ['user', 'Where to?', 'complete'],
        ['assistant', 'North.', 'complete'],
      ]);
    });
  });

  describe('the channel', () => {
    const question = messageFixture(2, { role: 'user', content: 'Where to?' });
    const reply = messageFixture(3, {
      id: ASSISTANT_ID,
      role: 'assistant',
      content: '',
      status: 'pending',
      replyToId: question.id,
    });

    it('shows a reply written in another tab as it streams, keeping it alive while text arrives', async () => {
      const { conversation } = open({ noAnswerMs: 30_000 });
      await settle();

      fromChannel({ type: 'message.created', seq: 2, chatId: CHAT, message: question });
      fromChannel({ type: 'message.created', seq: 3, chatId: CHAT, message: reply });
      await settle();
      expect(conversation.state.messages.map((m) => m.id)).toEqual([greeting.id, question.id, ASSISTANT_ID]);
      expect(conversation.live()).toMatchObject({ assistantId: ASSISTANT_ID, phase: 'streaming', silent: false });

      await vi.advanceTimersByTimeAsync(20_000);
      const delta = (offset: number, text: string) =>
        fromChannel({ type: 'reply.delta', seq: 4, chatId: CHAT, messageId: ASSISTANT_ID, offset, text });
      delta(0, 'North');
      // Received twice, or from beyond the text shown: applied at its offset, or not at all.
      delta(0, 'North');
      delta(9, 'lost');
      delta(5, ', past');
      await vi.advanceTimersByTimeAsync(20_000);
      expect(conversation.state.messages.at(-1)).toMatchObject({ content: 'North, past', status: 'streaming' });
      expect(conversation.live()?.silent).toBe(false);

      const finished = { ...reply, content: 'North, past the reef.', status: 'complete' as const };
      fromChannel({ type: 'message.updated', seq: 5, chatId: CHAT, message: finished });
      await settle();
      expect(conversation.live()).toBeNull();
      expect(texts(conversation).at(-1)).toEqual(['assistant', 'North, past the reef.', 'complete']);
    });

    it('a reply that goes live in another tab turns the indicator on here', async () => {
      fetchPage.mockResolvedValue(page([greeting, question]));
      const { conversation } = open();
      await settle();

      fromChannel({ type: 'message.updated', seq: 3, chatId: CHAT, message: { ...reply, status: 'streaming' } });
      await settle();

      expect(conversation.live()).toMatchObject({ assistantId: ASSISTANT_ID });
      expect(conversation.state.messages.at(-1)).toMatchObject({ id: ASSISTANT_ID, status: 'streaming' });
    });

    it('ignores what arrives while the page loads, and what concerns other chats or unknown messages', async () => {
      const loading = deferred<MessagePage>();
      fetchPage.mockReturnValueOnce(loading.promise);
      const { conversation } = open();

      fromChannel({ type: 'message.created', seq: 3, chatId: CHAT, message: reply });
      loading.resolve(page([greeting, question]));
      await settle();
      fromChannel({ type: 'message.created', seq: 4, chatId: 'another-chat', message: reply });
      fromChannel({ type: 'reply.delta', seq: 5, chatId: CHAT, messageId: 'not-shown', offset: 0, text: 'Hi' });
      fromChannel({ type: 'chat.path_changed', seq: 6, chatId: 'another-chat', activeLeafId: null });
      await settle();

      expect(conversation.live()).toBeNull();
      expect(conversation.state.messages.map((m) => m.id)).toEqual([greeting.id, question.id]);
      expect(fetchPage).toHaveBeenCalledTimes(1);
    });

    it('the page’s own turn: the channel’s copies of its message and reply change nothing', async () => {
      const stream = controlledStream();
      send.mockResolvedValue(stream.events);
      const { conversation } = open();
      await settle();
      conversation.send('Hello');
      const user = stored('Hello');

      // Before its stream names them: the channel is faster.
      fromChannel({ type: 'message.created', seq: 2, chatId: CHAT, message: user });
      fromChannel({ type: 'message.created', seq: 3, chatId: CHAT, message: pendingReply(user) });
      await settle();
      expect(texts(conversation)).toEqual([
        ['assistant', 'Welcome aboard.', 'complete'],
        ['user', 'Hello', 'pending'],
      ]);

      stream.push(turnStartedEvent(user));
      stream.push(deltaEvent('Hi'));
      await settle();
      fromChannel({ type: 'message.created', seq: 3, chatId: CHAT, message: pendingReply(user) });
      fromChannel({ type: 'reply.delta', seq: 4, chatId: CHAT, messageId: ASSISTANT_ID, offset: 0, text: 'Hey' });
      fromChannel({
        type: 'message.updated',
        seq: 5,
        chatId: CHAT,
        message: { ...pendingReply(user), content: 'Hey', status: 'streaming' },
      });
      await settle();

      expect(conversation.state.messages.at(-1)).toMatchObject({
        id: ASSISTANT_ID,
        content: 'Hi',
        status: 'streaming',
      });
      expect(conversation.state.messages).toHaveLength(3);
    });
  });

  describe('regenerate and continue', () => {
    const question = messageFixture(2, { id: 'user-2', role: 'user', content: 'Where to?' });
    const answer = messageFixture(3, { role: 'assistant', content: 'North.', replyToId: question.id });

    it('a regenerate refused for now leaves the reply shown; Try again regenerates it again', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      regenerate.mockRejectedValueOnce(
        new ApiError(503, problemFixture({ status: 503, code: 'breaker_open', retryable: true }), 'r'),
      );
      const { conversation } = open();
      await settle();

      await conversation.regenerate(answer.id);
      expect(conversation.live()).toBeNull();
      expect((conversation.failure()?.error as ApiError).code).toBe('breaker_open');
      expect(texts(conversation).at(-1)).toEqual(['assistant', 'North.', 'complete']);

      regenerate.mockResolvedValueOnce(controlledStream().events);
      conversation.retry();
      await settle();
      expect(regenerate).toHaveBeenCalledTimes(2);
      expect(regenerate.mock.calls[1]![0]).toMatchObject({ chatId: CHAT, messageId: answer.id });
      expect(conversation.live()?.phase).toBe('sending');
    });

    it('asks for the path again after a new version whose result does not say where it stands', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      const { conversation } = open();
      await settle();

      const told = controlledStream();
      regenerate.mockResolvedValueOnce(told.events);
      void conversation.regenerate(answer.id);
      await settle();
      told.push(turnStartedEvent(question));
      told.push(doneEvent(question, 'South.'));
      await settle();
      expect(fetchPage).toHaveBeenCalledTimes(1);
      expect(conversation.state.messages.map((m) => m.id)).toEqual([greeting.id, question.id, ASSISTANT_ID]);

      const untold = controlledStream();
      regenerate.mockResolvedValueOnce(untold.events);
      void conversation.regenerate(ASSISTANT_ID);
      await settle();
      untold.push(turnStartedEvent(question));
      const result = doneEvent(question, 'West.');
      if (result.event.type !== 'done') throw new Error('a done event');
      delete result.event.result.assistantMessage.alternatives;
      untold.push(result);
      await settle();
      expect(fetchPage).toHaveBeenCalledTimes(2);
    });

    it('a continuation that failed is continued again by Try again', async () => {
      const cut = { ...answer, id: ASSISTANT_ID, content: 'North, past', finishReason: 'max_tokens' as const };
      fetchPage.mockResolvedValue(page([greeting, question, cut]));
      const stream = controlledStream();
      vi.mocked(continueMessage).mockResolvedValueOnce(stream.events);
      const { conversation } = open();
      await settle();

      void conversation.continueReply(ASSISTANT_ID);
      await settle();
      expect(conversation.live()).toMatchObject({ phase: 'streaming', assistantId: ASSISTANT_ID });
      stream.push(turnStartedEvent(question, { ...cut, status: 'streaming' }));
      stream.push(errorEvent({ status: 503, code: 'provider_unavailable', retryable: true }));
      await settle();
      expect((conversation.failure()?.error as ApiError).code).toBe('provider_unavailable');

      vi.mocked(continueMessage).mockResolvedValueOnce(controlledStream().events);
      conversation.retry();
      await settle();
      expect(continueMessage).toHaveBeenCalledTimes(2);
      expect(vi.mocked(continueMessage).mock.calls[1]![0]).toMatchObject({ messageId: ASSISTANT_ID });
      expect(regenerate).not.toHaveBeenCalled();
    });

    it('a continuation refused before it started shows the reply as stored, without Try again', async () => {
      fetchPage.mockResolvedValue(page([greeting, question, answer]));
      const refused = new ApiError(409, problemFixture({ status: 409, code: 'message_not_cancellable' }), 'r');
      vi.mocked(continueMessage).mockRejectedValue(refused);
      const { conversation } = open();
      await settle();

      await conversation.continueReply(answer.id);

      expect(conversation.failure()).toEqual({ error: refused, retry: null });
      expect(conversation.returnedEdit()).toBeNull();
      expect(conversation.live()).toBeNull();
      expect(fetchPage).toHaveBeenCalledTimes(2);
    });
  });

  describe('leaving and reloading', () => {
    it('leaving while the chat loads: no reply is followed and nothing is shown', async () => {
      const user = stored('Hello');
      const writing = { ...pendingReply(user), status: 'streaming' as const };
      const loading = deferred<MessagePage>();
      fetchPage.mockReturnValueOnce(loading.promise);
      const { conversation, dispose } = open();

      dispose();
      loading.resolve(page([greeting, user, writing]));
      await settle();

      expect(follow).not.toHaveBeenCalled();
      expect(conversation.state.messages).toEqual([]);
    });

    it('leaving while the chat loads: its failure is not shown either', async () => {
      const loading = deferred<MessagePage>();
      fetchPage.mockReturnValueOnce(loading.promise);
      const { conversation, dispose } = open();

      dispose();
      loading.reject(new NetworkError('offline'));
      await settle();

      expect(conversation.state.loadError).toBeNull();
    });

    it('leaving during a change shows no failure for it', async () => {
      fetchPage.mockResolvedValue(page([greeting]));
      const deleting = deferred<ReturnType<typeof chatFixture>>();
      vi.mocked(deleteMessage).mockReturnValue(deleting.promise);
      const { conversation, dispose } = open();
      await settle();

      const removed = conversation.remove(greeting.id);
      dispose();
      deleting.reject(new NetworkError('offline'));
      await removed;

      expect(conversation.failure()).toBeNull();
    });

    it('reload during a turn lets go of its stream, clears the failure and shows the chat as stored', async () => {
      const { conversation, stream, user } = await started('Hello');
      stream.push(deltaEvent('Once'));
      await settle();
      const { signal } = sendCall(0);
      const finished = messageFixture(3, { id: ASSISTANT_ID, role: 'assistant', content: 'Once.', replyToId: user.id });
      fetchPage.mockResolvedValue(page([greeting, user, finished]));

      await conversation.reload();

      expect(signal?.aborted).toBe(true);
      expect(conversation.live()).toBeNull();
      expect(conversation.failure()).toBeNull();
      expect(texts(conversation).at(-1)).toEqual(['assistant', 'Once.', 'complete']);
    });

    it('once its own turn has ended, the page follows the channel again', async () => {
      const { conversation, stream, user } = await started('Hello');
      stream.push(doneEvent(user, 'Hi.'));
      await settle();
      expect(conversation.live()).toBeNull();

      fromChannel({ type: 'chat.path_changed', seq: 9, chatId: CHAT, activeLeafId: 'elsewhere' });
      await settle();
      expect(fetchPage).toHaveBeenCalledTimes(2);
    });
  });
});
