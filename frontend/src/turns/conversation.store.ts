import { batch, createSignal, onCleanup } from 'solid-js';
import { createStore, produce } from 'solid-js/store';
import type { Message, MessagePage, StreamEvent } from '@parley/api-types';
import { withToolCall } from '../chats/tool-calls';

/** A message as shown: `local` until the server has stored it, `demo` when the demo provider wrote it. */
export type ViewMessage = Message & { local?: boolean; demo?: boolean };

/** A message's place among its versions (its siblings); one of one when the page was not told. */
export function versionsOf(message: Message): { index: number; count: number } {
  return message.alternatives ?? { index: 1, count: 1 };
}

/** The reply being generated, as the page sees it. */
export interface LiveReply {
  /** sending: the request is on its way; waiting: the turn started, no text yet; streaming: text arrives; reconnecting: the connection was lost. */
  phase: 'sending' | 'waiting' | 'streaming' | 'reconnecting';
  assistantId: string | null;
  /** The provider attempt, from `retry` events (1 until a retry). */
  attempt: number;
  /** Nothing arrived for the silence limit. */
  silent: boolean;
}

/** A failure shown in the banner, with what its "Try again" does. */
export interface TurnFailure {
  error: unknown;
  retry: (() => void) | null;
}

/** What the events of the reply in progress have said so far. */
export interface ReplyProgress {
  /** The user's message as shown until `turn_started` brings the stored one. */
  localId: string | null;
  /** The reply as `turn_started` gave it: the base of its first text. */
  reply: Message | null;
  /** Set by `turn_started`: the stream's deltas are the reply's whole text, from the start. */
  textFromStart: boolean;
  demo: boolean | undefined;
  /** Messages that leave the active path when the turn starts (the reply regenerated, the message edited and what followed it). */
  replaces: readonly string[];
  /** A continuation: the deltas add to the reply's text rather than replace it. */
  appends: boolean;
}

/** How a turn changes what is shown when it starts. */
export interface TurnShape {
  localId?: string | null;
  replaces?: readonly string[];
  appends?: boolean;
}

export const LIVE_STATUSES: ReadonlySet<Message['status']> = new Set(['pending', 'streaming']);

/**
 * One chat's conversation as the page shows it: its messages (history pages, the user's
 * optimistic message, the reply growing), the reply in progress, the failure to show and the
 * words handed back to the composer. It changes only through these methods; it does no I/O.
 */
export function createConversationStore(options: { chatId: string; noAnswerMs: number }) {
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
  /** An edit the server refused before storing it: its words go back into the message's editor. */
  const [returnedEdit, setReturnedEdit] = createSignal<{ messageId: string; content: string } | null>(null);

  let silenceTimer: ReturnType<typeof setTimeout> | undefined;
  onCleanup(() => clearTimeout(silenceTimer));

  // ----- messages -----

  const find = (id: string) => state.messages.find((m) => m.id === id);

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
    const at = state.messages.findIndex((m) => m.id === id);
    if (at >= 0) setState('messages', at, change);
  }

  function remove(id: string): void {
    setState('messages', (messages) => messages.filter((m) => m.id !== id));
  }

  /** A message the server has not stored yet, shown at once, with the fields it will have. */
  function addLocal(id: string, content: string): void {
    const now = new Date().toISOString();
    upsert({
      id,
      chatId: options.chatId,
      seq: (state.messages.at(-1)?.seq ?? 0) + 1,
      role: 'user',
      content,
      status: 'pending',
      errorCode: null,
      replyToId: null,
      parentId: state.messages.findLast((m) => !m.local)?.id ?? null,
      alternatives: { index: 1, count: 1 },
      finishReason: null,
      provider: null,
      model: null,
      degraded: false,
      usage: null,
      attempts: 0,
      createdAt: now,
      updatedAt: now,
      local: true,
    });
  }

  // ----- history -----

  function loading(): void {
    setState({ loading: true, loadError: null });
  }

  function loaded(page: MessagePage): void {
    setState({ messages: page.items, hasMore: page.hasMore, nextBefore: page.nextBefore, loading: false });
  }

  function loadFailed(error: unknown): void {
    setState({ loading: false, loadError: error });
  }

  /** The newest page again: what the server stored replaces what the page assumed. */
  function refreshed(page: MessagePage): void {
    batch(() => {
      for (const message of page.items) upsert(message);
    });
  }

  function loadingOlder(on: boolean): void {
    setState('loadingOlder', on);
  }

  function olderLoaded(page: MessagePage): void {
    batch(() => {
      for (const message of page.items) if (!find(message.id)) upsert(message);
      setState({ hasMore: page.hasMore, nextBefore: page.nextBefore });
    });
  }

  // ----- the reply in progress -----

  function heard(): void {
    clearTimeout(silenceTimer);
    silenceTimer = setTimeout(() => setLive((l) => l && { ...l, silent: true }), options.noAnswerMs);
    setLive((l) => (l && l.silent ? { ...l, silent: false } : l));
  }

  /** A turn begins (or a reply is followed): the indicator is on, any old failure is gone. */
  function began(assistantId: string | null, shape: TurnShape = {}): ReplyProgress {
    batch(() => {
      setFailure(null);
      setLive({ phase: assistantId ? 'streaming' : 'sending', assistantId, attempt: 1, silent: false });
    });
    heard();
    return {
      localId: shape.localId ?? null,
      reply: null,
      textFromStart: false,
      demo: undefined,
      replaces: shape.replaces ?? [],
      appends: shape.appends ?? false,
    };
  }

  /** The messages after this one (and it, with `including`), in the order shown. */
  function from(id: string, including: boolean): string[] {
    const at = state.messages.findIndex((m) => m.id === id);
    return at < 0 ? [] : state.messages.slice(including ? at : at + 1).map((m) => m.id);
  }

  /** The reply is over, or no longer followed: the indicator goes, in the same update as the outcome. */
  function settled(): void {
    clearTimeout(silenceTimer);
    setLive(null);
  }

  function reconnecting(): void {
    setLive((l) => l && { ...l, phase: 'reconnecting' });
  }

  /** Applies one event of the reply's stream. */
  function apply(event: StreamEvent, p: ReplyProgress): void {
    batch(() => {
      heard();
      // Events again after a lost connection: the phase is what they say.
      setLive((l) => {
        if (l?.phase !== 'reconnecting') return l;
        return { ...l, phase: l.assistantId && find(l.assistantId) ? 'streaming' : 'waiting' };
      });
      applyEvent(event, p);
    });
  }

  // Called inside apply's batch: the view sees each event's changes at once.
  function applyEvent(event: StreamEvent, p: ReplyProgress): void {
    let appending: boolean;
    switch (event.type) {
      case 'turn_started':
        p.reply = event.assistantMessage;
        // A continuation's deltas add to the text the reply already has. Only its own stream's:
        // re-attached (`followMessage`), the first delta is the whole text again.
        appending = p.appends;
        p.appends = false;
        p.textFromStart = !appending;
        if (p.localId) remove(p.localId);
        // The new reply (or edited message) takes the place of the one it replaces on the path.
        for (const id of p.replaces) if (id !== event.userMessage.id && id !== event.assistantMessage.id) remove(id);
        upsert(event.userMessage);
        if (appending) upsert({ ...event.assistantMessage, status: 'streaming' });
        setLive(
          (l) =>
            l && { ...l, phase: l.phase === 'sending' ? 'waiting' : l.phase, assistantId: event.assistantMessage.id },
        );
        return;
      case 'provider':
        p.demo = event.demo;
        patch(event.messageId, { demo: event.demo });
        return;
      case 'retry':
        setLive((l) => l && { ...l, attempt: event.attempt });
        return;
      case 'delta': {
        const shown = find(event.messageId);
        const base = shown ?? (p.reply?.id === event.messageId ? p.reply : undefined);
        if (!base) return;
        // The first delta after `turn_started` carries the text from the start (all of it when
        // following a reply already under way): it replaces what the page had.
        const before = p.textFromStart ? '' : (shown?.content ?? '');
        p.textFromStart = false;
        upsert({ ...base, content: before + event.text, status: 'streaming', demo: p.demo ?? shown?.demo });
        setLive((l) => l && { ...l, phase: 'streaming', assistantId: event.messageId });
        return;
      }
      case 'tool_call':
      case 'tool_result': {
        // A call of the reply (before, between or after its text): shown with the reply.
        const base = find(event.messageId) ?? (p.reply?.id === event.messageId ? p.reply : undefined);
        if (!base) return;
        upsert({ ...base, toolCalls: withToolCall(base.toolCalls, event.call), demo: p.demo ?? find(base.id)?.demo });
        return;
      }
      case 'done': {
        const { userMessage, assistantMessage } = event.result;
        upsert(userMessage);
        upsert({ ...assistantMessage, demo: p.demo ?? assistantMessage.provider === 'demo' });
        settled();
        return;
      }
      case 'error': {
        const { problem } = event;
        // Known from `turn_started` even when it failed before any text, so "Try again" can name it.
        const base = find(event.messageId) ?? (p.reply?.id === event.messageId ? p.reply : undefined);
        const status = problem.code === 'turn_cancelled' ? 'cancelled' : 'failed';
        if (base) upsert({ ...base, status, errorCode: problem.code });
        settled();
        return;
      }
    }
  }

  return {
    state,
    live,
    failure,
    returnedDraft,
    returnedEdit,
    find,
    upsert,
    patch,
    remove,
    from,
    addLocal,
    loading,
    loaded,
    loadFailed,
    refreshed,
    loadingOlder,
    olderLoaded,
    began,
    heard,
    settled,
    reconnecting,
    apply,
    setFailure,
    setReturnedDraft,
    setReturnedEdit,
  };
}

export type ConversationStore = ReturnType<typeof createConversationStore>;
