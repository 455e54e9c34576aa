import { createRoot } from 'solid-js';
import type { Message, MessagePage } from '@parley/api-types';
import { ApiError, NetworkError, type RealtimeEvent } from '@parley/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { fetchMessagePage } from '../chats/chats.api';
import { messageFixture, problemFixture } from '../test-fixtures';
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
import { cancelReply, continueMessage, followReply, regenerateMessage, sendMessage } from './turns.api';

vi.mock('../chats/chats.api', () => ({
  fetchMessagePage: vi.fn(),
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
  });
});
