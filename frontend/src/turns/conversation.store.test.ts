import { createRoot } from 'solid-js';
import type { Message, StreamEvent, ToolCall } from '@parley/api-types';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { messageFixture } from '../test-fixtures';
import { createConversationStore, versionsOf } from './conversation.store';
import { ASSISTANT_ID, deltaEvent, doneEvent, errorEvent, pendingReply, turnStartedEvent } from './test-streams';

const CHAT = 'chat-1';
const NO_ANSWER_MS = 30_000;

let disposers: (() => void)[] = [];

function open() {
  return createRoot((dispose) => {
    disposers.push(dispose);
    return createConversationStore({ chatId: CHAT, noAnswerMs: NO_ANSWER_MS });
  });
}

type Store = ReturnType<typeof open>;

const ids = (store: Store) => store.state.messages.map((m) => m.id);
const event = (e: { event: StreamEvent }) => e.event;

const greeting = messageFixture(1, { role: 'assistant', content: 'Welcome aboard.' });
const question = messageFixture(2, { id: 'user-2', role: 'user', content: 'Where to?' });
const answer = messageFixture(3, { role: 'assistant', content: 'North.', replyToId: question.id });
// A store changes the objects it holds in place: each page gets copies, so the fixtures stay as they are.
const page = (items: Message[], hasMore = false, nextBefore: number | null = null) => ({
  items: items.map((m) => ({ ...m })),
  hasMore,
  nextBefore,
});

function toolCall(overrides: Partial<ToolCall> = {}): ToolCall {
  return {
    id: 'call-1',
    chatId: CHAT,
    messageId: ASSISTANT_ID,
    step: 1,
    index: 0,
    toolName: 'roll_dice',
    arguments: {},
    status: 'running',
    result: null,
    error: null,
    idempotent: true,
    provider: 'demo',
    attempt: 1,
    startedAt: null,
    finishedAt: null,
    durationMs: null,
    createdAt: greeting.createdAt,
    ...overrides,
  };
}

describe(createConversationStore.name, () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    for (const dispose of disposers) dispose();
    disposers = [];
    vi.useRealTimers();
  });

  describe('messages', () => {
    it('keeps stored messages in seq order, and messages not yet stored last', () => {
      const store = open();
      store.loaded(page([greeting, answer]));
      store.addLocal('local-1', 'Hello');

      store.upsert({ ...question });
      store.upsert(messageFixture(9, { id: 'ninth' }));

      expect(ids(store)).toEqual([greeting.id, question.id, answer.id, 'ninth', 'local-1']);
    });

    it('changes a message shown in place, keeping what the change does not say', () => {
      const store = open();
      store.loaded(page([greeting, answer]));

      store.upsert({ ...answer, content: 'South.' });
      store.upsert({ ...greeting, content: 'Welcome back.' });
      store.patch(greeting.id, { status: 'failed' });
      store.patch('not-shown', { status: 'failed' });

      expect(store.state.messages.map((m) => [m.id, m.content, m.status])).toEqual([
        [greeting.id, 'Welcome back.', 'failed'],
        [answer.id, 'South.', 'complete'],
      ]);
      store.remove(greeting.id);
      expect(ids(store)).toEqual([answer.id]);
    });

    it('shows a message not yet stored with the fields it will have, after the last one', () => {
      const store = open();
      store.addLocal('local-0', 'First');
      expect(store.state.messages[0]).toMatchObject({ seq: 1, parentId: null });

      store.loaded(page([greeting, question]));
      store.addLocal('local-1', 'Hello');
      store.addLocal('local-2', 'Again');

      expect(store.find('local-1')).toEqual({
        id: 'local-1',
        chatId: CHAT,
        seq: 3,
        role: 'user',
        content: 'Hello',
        status: 'pending',
        errorCode: null,
        replyToId: null,
        parentId: question.id,
        alternatives: { index: 1, count: 1 },
        finishReason: null,
        provider: null,
        model: null,
        degraded: false,
        usage: null,
        attempts: 0,
        createdAt: new Date().toISOString(),
        updatedAt: new Date().toISOString(),
        local: true,
      });
      // Its parent is the last stored message, not the other one waiting.
      expect(store.find('local-2')).toMatchObject({ seq: 4, parentId: question.id });
    });

    it('names the messages from one on, with or without it', () => {
      const store = open();
      store.loaded(page([greeting, question, answer]));

      expect(store.from(question.id, true)).toEqual([question.id, answer.id]);
      expect(store.from(question.id, false)).toEqual([answer.id]);
      expect(store.from('not-shown', true)).toEqual([]);
    });

    it('counts a message told nothing about its versions as one of one', () => {
      expect(versionsOf({ ...answer, alternatives: { index: 2, count: 3 } })).toEqual({ index: 2, count: 3 });
      const { alternatives: _, ...untold } = answer;
      expect(versionsOf(untold as Message)).toEqual({ index: 1, count: 1 });
    });
  });

  describe('history', () => {
    it('is loading from the start, then shows the page or the error', () => {
      const store = open();
      expect(store.state).toMatchObject({ loading: true, loadError: null, messages: [] });

      store.loadFailed('offline');
      expect(store.state).toMatchObject({ loading: false, loadError: 'offline' });

      store.loading();
      expect(store.state).toMatchObject({ loading: true, loadError: null });
      store.loaded(page([question, answer], true, 2));
      expect(store.state).toMatchObject({ loading: false, hasMore: true, nextBefore: 2 });
      expect(ids(store)).toEqual([question.id, answer.id]);
    });

    it('adds older messages before those shown, keeping the ones shown', () => {
      const store = open();
      store.loaded(page([question, answer], true, 2));

      store.loadingOlder(true);
      expect(store.state.loadingOlder).toBe(true);
      store.olderLoaded(page([greeting, { ...question, content: 'stale' }]));
      store.loadingOlder(false);

      expect(store.state.messages.map((m) => m.content)).toEqual(['Welcome aboard.', 'Where to?', 'North.']);
      expect(store.state).toMatchObject({ hasMore: false, nextBefore: null, loadingOlder: false });
    });

    it('takes what the server stored over what the page assumed', () => {
      const store = open();
      store.loaded(page([greeting, question, { ...answer, status: 'streaming' }]));

      store.refreshed(page([{ ...answer, content: 'North, then east.' }, messageFixture(4, { id: 'fourth' })]));

      expect(store.state.messages.map((m) => [m.content, m.status])).toEqual([
        ['Welcome aboard.', 'complete'],
        ['Where to?', 'complete'],
        ['North, then east.', 'complete'],
        ['Message 4', 'complete'],
      ]);
    });
  });

  describe('the reply in progress', () => {
    it('begins sending, or streaming a reply it names, and clears the failure shown', () => {
      const store = open();
      store.setFailure({ error: 'old', retry: null });

      const progress = store.began(null);
      expect(store.live()).toEqual({ phase: 'sending', assistantId: null, attempt: 1, silent: false });
      expect(store.failure()).toBeNull();
      expect(progress).toEqual({
        localId: null,
        reply: null,
        textFromStart: false,
        demo: undefined,
        replaces: [],
        appends: false,
      });

      expect(store.began(ASSISTANT_ID, { localId: 'local-1', replaces: ['a'], appends: true })).toMatchObject({
        localId: 'local-1',
        replaces: ['a'],
        appends: true,
      });
      expect(store.live()).toEqual({ phase: 'streaming', assistantId: ASSISTANT_ID, attempt: 1, silent: false });
    });

    it('turns silent after the silence limit, and back when something is heard', async () => {
      const store = open();
      store.began(null);

      await vi.advanceTimersByTimeAsync(NO_ANSWER_MS - 1);
      expect(store.live()?.silent).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(store.live()?.silent).toBe(true);

      store.heard();
      expect(store.live()?.silent).toBe(false);
      await vi.advanceTimersByTimeAsync(NO_ANSWER_MS - 1);
      expect(store.live()?.silent).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(store.live()?.silent).toBe(true);
    });

    it('settles: the indicator goes, and no silence timer is left behind', () => {
      const store = open();
      store.began(null);

      store.settled();

      expect(store.live()).toBeNull();
      expect(vi.getTimerCount()).toBe(0);
      store.heard();
      store.reconnecting();
      expect(store.live()).toBeNull();
    });

    it('after reconnecting, the phase is what the next event says: streaming a reply shown, else waiting', () => {
      const store = open();
      store.loaded(page([greeting, question]));
      const p = store.began(null);
      store.apply(event(turnStartedEvent(question)), p);
      store.reconnecting();
      expect(store.live()?.phase).toBe('reconnecting');

      store.apply(
        { type: 'retry', messageId: ASSISTANT_ID, attempt: 2, delayMs: 250, reason: 'provider_unavailable' },
        p,
      );
      expect(store.live()).toMatchObject({ phase: 'waiting', attempt: 2 });

      store.apply(event(deltaEvent('North')), p);
      store.reconnecting();
      store.apply(
        { type: 'retry', messageId: ASSISTANT_ID, attempt: 3, delayMs: 250, reason: 'provider_unavailable' },
        p,
      );
      expect(store.live()).toMatchObject({ phase: 'streaming', attempt: 3 });
    });
  });

  describe('events', () => {
    /** A send under way: the page shows the user's words, the turn has not started. */
    function sending() {
      const store = open();
      store.loaded(page([greeting]));
      store.addLocal('local-1', 'Where to?');
      const p = store.began(null, { localId: 'local-1' });
      return { store, p };
    }

    it('turn_started: the stored message takes the place of the one shown, and the reply is named', () => {
      const { store, p } = sending();
      const reply = pendingReply(question);

      store.apply(event(turnStartedEvent(question, reply)), p);

      expect(ids(store)).toEqual([greeting.id, question.id]);
      expect(p).toMatchObject({ reply, textFromStart: true, appends: false });
      expect(store.live()).toMatchObject({ phase: 'waiting', assistantId: ASSISTANT_ID });
    });

    it('turn_started of a new version: what it replaces leaves, its own messages stay', () => {
      const store = open();
      const shownReply = { ...pendingReply(question), status: 'failed' as const };
      store.loaded(page([greeting, question, answer, shownReply]));
      const p = store.began(null, { replaces: [question.id, answer.id, ASSISTANT_ID] });

      store.apply(event(turnStartedEvent(question)), p);

      expect(ids(store)).toEqual([greeting.id, question.id, ASSISTANT_ID]);
    });

    it('turn_started of a reply followed keeps the phase it had; provider marks the reply shown', () => {
      const store = open();
      store.loaded(page([greeting, question, { ...answer, id: ASSISTANT_ID, status: 'streaming' }]));
      const p = store.began(ASSISTANT_ID);

      store.apply(event(turnStartedEvent(question)), p);
      expect(store.live()?.phase).toBe('streaming');

      store.apply(
        { type: 'provider', messageId: ASSISTANT_ID, provider: 'demo', model: 'm', demo: true, failover: false },
        p,
      );
      expect(store.find(ASSISTANT_ID)?.demo).toBe(true);
    });

    it('the first delta is the text from the start, then deltas add to it', () => {
      const { store, p } = sending();
      store.apply(event(turnStartedEvent(question)), p);
      store.apply(
        { type: 'provider', messageId: ASSISTANT_ID, provider: 'demo', model: 'm', demo: true, failover: false },
        p,
      );

      store.apply(event(deltaEvent('North')), p);
      expect(store.live()).toMatchObject({ phase: 'streaming', assistantId: ASSISTANT_ID });
      store.apply(event(deltaEvent(', then east.')), p);

      expect(store.find(ASSISTANT_ID)).toMatchObject({
        content: 'North, then east.',
        status: 'streaming',
        demo: true,
        replyToId: question.id,
      });
    });

    it('a followed reply: its first delta replaces the text shown (it is all the text so far)', () => {
      const store = open();
      const partial = { ...answer, id: ASSISTANT_ID, content: 'Nor', status: 'streaming' as const, demo: true };
      store.loaded(page([greeting, question, partial]));
      const p = store.began(ASSISTANT_ID);

      store.apply(event(turnStartedEvent(question, partial)), p);
      store.apply(event(deltaEvent('North')), p);

      expect(store.find(ASSISTANT_ID)).toMatchObject({ content: 'North', demo: true });
    });

    it('a continuation: the deltas add to the text the reply has', () => {
      const store = open();
      const cut = { ...answer, id: ASSISTANT_ID, content: 'North,', finishReason: 'max_tokens' as const };
      store.loaded(page([greeting, question, cut]));
      const p = store.began(ASSISTANT_ID, { appends: true });

      store.apply(event(turnStartedEvent(question, cut)), p);
      expect(store.find(ASSISTANT_ID)?.status).toBe('streaming');
      expect(p).toMatchObject({ appends: false, textFromStart: false });
      store.apply(event(deltaEvent(' then east.')), p);

      expect(store.find(ASSISTANT_ID)?.content).toBe('North, then east.');
    });

    it('ignores text and tool calls of a reply it does not know', () => {
      const { store, p } = sending();

      store.apply(event(deltaEvent('Hello', 'elsewhere')), p);
      store.apply({ type: 'tool_call', messageId: 'elsewhere', call: toolCall({ messageId: 'elsewhere' }) }, p);

      expect(ids(store)).toEqual([greeting.id, 'local-1']);
      expect(store.live()?.phase).toBe('sending');
    });

    it('shows the tool calls of the reply, each by its id, also before any text', () => {
      const { store, p } = sending();
      store.apply(event(turnStartedEvent(question)), p);
      store.apply(
        { type: 'provider', messageId: ASSISTANT_ID, provider: 'demo', model: 'm', demo: true, failover: false },
        p,
      );
      const running = toolCall();
      const finished = toolCall({ status: 'complete', result: { total: 4 } });

      store.apply({ type: 'tool_call', messageId: ASSISTANT_ID, call: running }, p);
      store.apply({ type: 'tool_result', messageId: ASSISTANT_ID, call: finished }, p);

      expect(store.find(ASSISTANT_ID)).toMatchObject({ toolCalls: [finished], demo: true });
    });

    it('done: shows the stored messages, says whether the demo wrote the reply, and settles', () => {
      const { store, p } = sending();
      store.apply(event(turnStartedEvent(question)), p);

      store.apply(event(doneEvent(question, 'North.')), p);

      expect(store.find(ASSISTANT_ID)).toMatchObject({ content: 'North.', status: 'complete', demo: true });
      expect(store.live()).toBeNull();

      const other = sending();
      other.store.apply(event(turnStartedEvent(question)), other.p);
      const byGemini = doneEvent(question, 'South.');
      if (byGemini.event.type !== 'done') throw new Error('a done event');
      byGemini.event.result.assistantMessage.provider = 'gemini';
      other.store.apply(byGemini.event, other.p);
      expect(other.store.find(ASSISTANT_ID)?.demo).toBe(false);
    });

    it('error: the reply failed (or was stopped) with its code, and settles', () => {
      const { store, p } = sending();
      store.apply(event(turnStartedEvent(question)), p);

      store.apply(event(errorEvent({ status: 503, code: 'provider_unavailable' })), p);
      expect(store.find(ASSISTANT_ID)).toMatchObject({ status: 'failed', errorCode: 'provider_unavailable' });
      expect(store.live()).toBeNull();

      const stopped = sending();
      stopped.store.apply(event(turnStartedEvent(question)), stopped.p);
      stopped.store.apply(event(deltaEvent('Nor')), stopped.p);
      stopped.store.apply(event(errorEvent({ status: 409, code: 'turn_cancelled' })), stopped.p);
      expect(stopped.store.find(ASSISTANT_ID)).toMatchObject({
        content: 'Nor',
        status: 'cancelled',
        errorCode: 'turn_cancelled',
      });
    });
  });
});
