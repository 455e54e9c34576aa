import { batch, createSignal, onCleanup } from 'solid-js';
import { createStore, produce } from 'solid-js/store';
import type { Message, MessagePreview, StreamEvent, TurnResult } from '@parley/api-types';
import { newId } from '../api/ids';
import { ApiError, NetworkError, problemError } from '../api/problem';
import { describeError } from '../components/error-info';
import { previewOf } from '../chats/chat-list';
import { fetchMessagePage } from '../chats/chats.api';
import { cancelReply, followReply, regenerateMessage, sendMessage } from './turns.api';

/** A message as shown: `local` until the server has stored it, `demo` when the demo provider wrote it. */
export type ViewMessage = Message & { local?: boolean; demo?: boolean };

/** The reply being generated, as the page sees it. */
export interface LiveReply {
  /** sending: the request is on its way; waiting: the user's message is stored, no text yet; streaming: text arrives; reconnecting: the connection was lost. */
  phase: 'sending' | 'waiting' | 'streaming' | 'reconnecting';
  assistantId: string | null;
  /** The provider attempt, from `retry` events (1 until a retry). */
  attempt: number;
  /** Nothing arrived for `noAnswerMs`. */
  silent: boolean;
}

/** A failure shown in the banner, with what its "Try again" does. */
export interface TurnFailure {
  error: unknown;
  retry: (() => void) | null;
}

export interface ConversationOptions {
  chatId: string;
  /** A message is on its way: update the chat list at once; the returned undo runs if it is never stored. */
  onSend?: (preview: MessagePreview) => () => void;
  /** A turn finished: the stored messages and the new balance. */
  onFinished?: (result: TurnResult) => void;
  /** A reply failed or was stopped. */
  onFailed?: (message: ViewMessage) => void;
  /** Silence before the typing indicator turns into a timeout message. */
  noAnswerMs?: number;
  /** Waits between reconnection attempts (the last one repeats). */
  reconnectDelaysMs?: readonly number[];
  /** Automatic re-sends, with the same Idempotency-Key, when a send got no answer at all. */
  resendDelaysMs?: readonly number[];
}

type Turn =
  | { kind: 'send'; key: string; content: string; localId: string; undo?: () => void }
  | { kind: 'regenerate'; key: string; messageId: string }
  | { kind: 'follow'; assistantId: string };

interface Progress {
  userMessageId: string | null;
  assistantId: string | null;
  lastEventId: string | undefined;
  /** Following from the start: the first delta carries all the text so far. */
  replaceOnDelta: boolean;
  demo: boolean | undefined;
  stopRequested: boolean;
}

const LIVE_STATUSES: ReadonlySet<Message['status']> = new Set(['pending', 'streaming']);

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

/**
 * One chat's messages and its reply in progress: history pages, sending with optimistic display,
 * streaming, stop, retry (regenerate), re-attaching after a lost connection or on opening a chat
 * whose reply is still being written. Leaving (the owner's cleanup) aborts the page's requests but
 * never the reply: the server finishes it.
 */
export function createConversation(options: ConversationOptions) {
  const chatId = options.chatId;
  const noAnswerMs = options.noAnswerMs ?? 30_000;
  const reconnectDelays = options.reconnectDelaysMs ?? [500, 1000, 2000, 4000, 8000];
  const resendDelays = options.resendDelaysMs ?? [500, 1500];

  const [state, setState] = createStore({
    messages: [] as ViewMessage[],
    hasMore: false,
    nextBefore: null as number | null,
    loading: true,
    loadError: null as unknown,
    loadingOlder: false,
  });
  const [live, setLive] = createSignal<LiveReply | null>(null);
  const [failure, setFailure] = createSignal<TurnFailure | null>(null);
  /** Text handed back to the composer when a message could not be sent and must be edited. */
  const [returnedDraft, setReturnedDraft] = createSignal<string | null>(null);

  // The one request the page holds open for this chat; leaving aborts it.
  const life = new AbortController();
  let current: AbortController | null = null;
  let progress: Progress | null = null;
  let silenceTimer: ReturnType<typeof setTimeout> | undefined;

  onCleanup(() => {
    clearTimeout(silenceTimer);
    current?.abort();
    life.abort();
  });

  // ----- messages -----

  const indexOf = (id: string) => state.messages.findIndex((m) => m.id === id);

  function upsert(message: ViewMessage): void {
    setState(
      'messages',
      produce((messages) => {
        const at = messages.findIndex((m) => m.id === message.id);
        if (at >= 0) {
          messages[at] = { ...messages[at], ...message };
          return;
        }
        // Stored messages in seq order; local (not yet stored) ones stay last.
        const before = messages.findIndex((m) => m.local || m.seq > message.seq);
        if (message.local || before < 0) messages.push(message);
        else messages.splice(before, 0, message);
      }),
    );
  }

  function patch(id: string, change: Partial<ViewMessage>): void {
    const at = indexOf(id);
    if (at >= 0) setState('messages', at, change);
  }

  function remove(id: string): void {
    setState('messages', (messages) => messages.filter((m) => m.id !== id));
  }

  async function load(): Promise<void> {
    setState({ loading: true, loadError: null });
    try {
      const page = await fetchMessagePage(chatId, undefined);
      if (life.signal.aborted) return;
      setState({ messages: page.items, hasMore: page.hasMore, nextBefore: page.nextBefore, loading: false });
      const streaming = [...page.items].reverse().find((m) => m.role === 'assistant' && LIVE_STATUSES.has(m.status));
      if (streaming && !current) void run({ kind: 'follow', assistantId: streaming.id });
    } catch (error) {
      if (!life.signal.aborted) setState({ loading: false, loadError: error });
    }
  }

  /** Brings the newest page in line with the server (after an error, or to find a reply). */
  async function refreshLatest(): Promise<void> {
    const page = await fetchMessagePage(chatId, undefined);
    if (life.signal.aborted) return;
    batch(() => {
      for (const message of page.items) upsert(message);
    });
  }

  async function loadOlder(): Promise<void> {
    const before = state.nextBefore;
    if (!state.hasMore || before === null || state.loadingOlder) return;
    setState('loadingOlder', true);
    try {
      const page = await fetchMessagePage(chatId, before);
      if (life.signal.aborted) return;
      batch(() => {
        for (const message of page.items) if (indexOf(message.id) < 0) upsert(message);
        setState({ hasMore: page.hasMore, nextBefore: page.nextBefore });
      });
    } catch (error) {
      if (!life.signal.aborted) setFailure({ error, retry: () => void loadOlder() });
    } finally {
      setState('loadingOlder', false);
    }
  }

  // ----- the reply in progress -----

  function heard(): void {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => setLive((l) => l && { ...l, silent: true }), noAnswerMs);
    setLive((l) => (l && l.silent ? { ...l, silent: false } : l));
  }

  function settle(): void {
    clearTimeout(silenceTimer);
    setLive(null);
    current = null;
    progress = null;
  }

  /** A message the server has not sent yet, with the fields it will have. */
  function draft(fields: Pick<ViewMessage, 'id' | 'seq' | 'role' | 'content' | 'status' | 'replyToId'>): ViewMessage {
    const now = new Date().toISOString();
    return {
      chatId,
      errorCode: null,
      provider: null,
      model: null,
      degraded: false,
      usage: null,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      ...fields,
    };
  }

  function assistantPlaceholder(id: string, p: Progress): ViewMessage {
    const replyTo = p.userMessageId ? state.messages.find((m) => m.id === p.userMessageId) : undefined;
    return {
      ...draft({
        id,
        seq: (replyTo?.seq ?? state.messages.at(-1)?.seq ?? 0) + 1,
        role: 'assistant',
        content: '',
        status: 'streaming',
        replyToId: p.userMessageId,
      }),
      demo: p.demo,
    };
  }

  /** Applies one event; true when it ended the turn. */
  function apply(event: StreamEvent, turn: Turn, p: Progress): boolean {
    if (event.id) p.lastEventId = event.id;
    heard();
    switch (event.event) {
      case 'user_message': {
        const message = event.data.message;
        p.userMessageId = message.id;
        batch(() => {
          if (turn.kind === 'send') remove(turn.localId);
          upsert(message);
          setLive((l) => l && { ...l, phase: l.phase === 'sending' ? 'waiting' : l.phase });
        });
        if (p.stopRequested) void stop();
        return false;
      }
      case 'provider':
        p.demo = event.data.demo;
        if (p.assistantId) patch(p.assistantId, { demo: event.data.demo });
        return false;
      case 'retry':
        setLive((l) => l && { ...l, attempt: event.data.attempt });
        return false;
      case 'delta': {
        const id = event.data.messageId;
        batch(() => {
          if (p.assistantId !== id) {
            p.assistantId = id;
            if (indexOf(id) < 0) upsert(assistantPlaceholder(id, p));
          }
          const at = indexOf(id);
          const before = p.replaceOnDelta ? '' : (state.messages[at]?.content ?? '');
          p.replaceOnDelta = false;
          setState('messages', at, { content: before + event.data.text, status: 'streaming' });
          if (p.demo !== undefined) setState('messages', at, 'demo', p.demo);
          setLive((l) => l && { ...l, phase: 'streaming', assistantId: id });
        });
        if (p.stopRequested) void stop();
        return false;
      }
      case 'tool_call':
        return false;
      case 'done': {
        const result = event.data;
        batch(() => {
          upsert(result.userMessage);
          upsert({ ...result.assistantMessage, demo: p.demo ?? result.assistantMessage.provider === 'demo' });
          settle();
        });
        options.onFinished?.(result);
        return true;
      }
      case 'error': {
        const problem = event.data;
        const cancelled = problem.code === 'turn_cancelled';
        const assistantId = p.assistantId;
        batch(() => {
          if (assistantId) patch(assistantId, { status: cancelled ? 'cancelled' : 'failed', errorCode: problem.code });
          settle();
          if (!cancelled) setFailure({ error: problemError(problem), retry: () => void retryLatest() });
        });
        // The stored state says which reply failed (the error may come before any text).
        void refreshLatest()
          .then(() => {
            const failed = state.messages.findLast((m) => m.role === 'assistant');
            if (failed && !LIVE_STATUSES.has(failed.status)) options.onFailed?.(failed);
          })
          .catch(() => undefined);
        return true;
      }
    }
  }

  async function open(turn: Turn, p: Progress, signal: AbortSignal) {
    switch (turn.kind) {
      case 'send':
        return sendMessage(chatId, turn.content, turn.key, signal);
      case 'regenerate':
        return regenerateMessage(chatId, turn.messageId, turn.key, signal);
      case 'follow':
        return followReply(chatId, turn.assistantId, p.lastEventId, signal);
    }
  }

  /** Runs a turn to its terminal event, reconnecting when the connection is lost. */
  async function run(turn: Turn): Promise<void> {
    current?.abort();
    const controller = new AbortController();
    current = controller;
    const { signal } = controller;
    const p: Progress = {
      userMessageId: null,
      assistantId: turn.kind === 'follow' ? turn.assistantId : null,
      lastEventId: undefined,
      replaceOnDelta: turn.kind === 'follow',
      demo: undefined,
      stopRequested: false,
    };
    progress = p;
    setFailure(null);
    setLive({
      phase: turn.kind === 'follow' ? 'streaming' : 'sending',
      assistantId: p.assistantId,
      attempt: 1,
      silent: false,
    });
    heard();

    let resends = 0;
    let reconnects = 0;
    let next: Turn = turn;
    for (;;) {
      try {
        const events = await open(next, p, signal);
        reconnects = 0;
        for await (const event of events) {
          if (signal.aborted) return;
          if (apply(event, turn, p)) return;
        }
        throw new NetworkError('the stream ended without a terminal event');
      } catch (error) {
        if (signal.aborted) return;
        const stored = p.userMessageId !== null || turn.kind === 'follow';
        if (error instanceof NetworkError && !stored && next.kind !== 'follow') {
          // No answer at all: the server may or may not have the message. The same key makes a
          // re-send safe: it is stored once, and a finished turn is replayed.
          if (resends < resendDelays.length) {
            await sleep(resendDelays[resends++]!, signal);
            continue;
          }
          return failUnsent(turn, error, { keepKey: true });
        }
        if (error instanceof NetworkError) {
          // The reply goes on without us: re-attach where we left off.
          setLive((l) => l && { ...l, phase: 'reconnecting' });
          await online(signal);
          await sleep(reconnectDelays[Math.min(reconnects++, reconnectDelays.length - 1)]!, signal);
          if (signal.aborted) return;
          const assistantId = p.assistantId ?? (await findReply(p.userMessageId).catch(() => null));
          if (signal.aborted) return;
          if (!assistantId) continue;
          p.assistantId = assistantId;
          if (!p.lastEventId) p.replaceOnDelta = true;
          next = { kind: 'follow', assistantId };
          continue;
        }
        if (!stored) return failUnsent(turn, error, { keepKey: false });
        // Re-attaching failed for good (the reply is gone, or access was lost).
        settle();
        setFailure({ error, retry: () => void reload() });
        return;
      }
    }
  }

  function online(signal: AbortSignal): Promise<void> {
    if (typeof navigator === 'undefined' || navigator.onLine !== false) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        window.removeEventListener('online', done);
        resolve();
      };
      window.addEventListener('online', done);
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** The reply to a user message, as stored. */
  async function findReply(userMessageId: string | null): Promise<string | null> {
    if (!userMessageId) return null;
    await refreshLatest();
    return state.messages.findLast((m) => m.role === 'assistant' && m.replyToId === userMessageId)?.id ?? null;
  }

  /** The request failed before the message was stored. */
  function failUnsent(turn: Turn, error: unknown, how: { keepKey: boolean }): void {
    settle();
    if (turn.kind !== 'send') {
      setFailure({ error, retry: () => void retryLatest() });
      return;
    }
    if (!describeError(error).retryable) {
      // Only the user can fix it (blocked content, no tokens): their words go back to the composer.
      remove(turn.localId);
      turn.undo?.();
      setReturnedDraft(turn.content);
      setFailure({ error, retry: null });
      return;
    }
    if (!how.keepKey) turn.undo?.();
    patch(turn.localId, { status: 'failed' });
    // The message stays on screen, not sent; "Try again" sends it again. After no answer at all the
    // same key goes again (the server may have it); after a refusal it is a new attempt.
    setFailure({
      error,
      retry: () => {
        patch(turn.localId, { status: 'pending' });
        const key = how.keepKey ? turn.key : newId();
        const undo = how.keepKey ? turn.undo : options.onSend?.(preview(turn.content));
        void run({ ...turn, key, undo });
      },
    });
  }

  const preview = (content: string) =>
    previewOf({ id: newId(), role: 'user', content, status: 'complete', createdAt: new Date().toISOString() });

  // ----- actions -----

  /** Sends a message; false when it was not taken (empty, or a reply is still in progress). */
  function send(content: string): boolean {
    const text = content.trim();
    if (!text || live()) return false;
    const key = newId();
    const localId = `local-${key}`;
    upsert({
      ...draft({
        id: localId,
        seq: (state.messages.at(-1)?.seq ?? 0) + 1,
        role: 'user',
        content: text,
        status: 'pending',
        replyToId: null,
      }),
      local: true,
    });
    setReturnedDraft(null);
    const undo = options.onSend?.(preview(text));
    void run({ kind: 'send', key, content: text, localId, undo });
    return true;
  }

  /** Generates the latest reply again (after a failure or a stop); a new Idempotency-Key per retry. */
  async function retryLatest(): Promise<void> {
    if (live()) return;
    const unsent = state.messages.find((m) => m.local);
    if (unsent) return;
    const latest = state.messages.findLast((m) => m.role === 'assistant');
    if (!latest || latest.replyToId === null) return;
    await run({ kind: 'regenerate', key: newId(), messageId: latest.id });
  }

  /** Stops the reply in progress: its text so far stays, marked as stopped. */
  async function stop(): Promise<void> {
    const p = progress;
    if (!p) return;
    p.stopRequested = true;
    const id = p.assistantId ?? (await findReply(p.userMessageId).catch(() => null));
    // Not stored yet: the stop goes out as soon as the reply exists.
    if (!id) return;
    p.assistantId = id;
    try {
      const message = await cancelReply(chatId, id);
      upsert(message);
      if (progress === p && !LIVE_STATUSES.has(message.status)) {
        // The page's stream ends with `turn_cancelled`; don't wait for it to show the stop.
        const stream = current;
        settle();
        stream?.abort();
      }
    } catch (error) {
      // It finished before the stop arrived: show it as it is.
      if (error instanceof ApiError && error.code === 'message_not_cancellable') return void refreshLatest();
      setFailure({ error, retry: () => void stop() });
    }
  }

  /** Reloads the conversation from the server (and re-attaches to a reply in progress). */
  async function reload(): Promise<void> {
    current?.abort();
    settle();
    setFailure(null);
    await load();
  }

  void load();

  return {
    state,
    live,
    failure,
    returnedDraft,
    send,
    retry: () => failure()?.retry?.(),
    stop,
    reload,
    loadOlder,
    dismissFailure: () => setFailure(null),
  };
}

export type Conversation = ReturnType<typeof createConversation>;
