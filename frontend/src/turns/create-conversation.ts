import { batch, createSignal, onCleanup } from 'solid-js';
import type { Chat, MessagePreview, RealtimeEvent, StreamEvent, TurnResult } from '@parley/api-types';
import { ApiError } from '@parley/client';
import { newId } from '../api/ids';
import { previewOf } from '../chats/chat-list';
import {
  deleteMessage,
  fetchAlternatives,
  fetchMessagePage,
  fetchToolCalls,
  forkChat,
  selectMessage,
} from '../chats/chats.api';
import { describeError } from '../components/error-info';
import {
  createConversationStore,
  LIVE_STATUSES,
  type ReplyProgress,
  type TurnShape,
  type ViewMessage,
  versionsOf,
} from './conversation.store';
import { runTurn, type TurnOutcome, type TurnRequest } from './turn-runner';
import { cancelReply } from './turns.api';
import { onRealtimeEvent, onRealtimeResync, subscribeChat } from '../realtime/realtime';

export interface ConversationOptions {
  chatId: string;
  /** A message is on its way: update the chat list at once; the returned undo runs if it is never stored. */
  onSend?: (preview: MessagePreview) => () => void;
  /** A turn finished: the stored messages and the new balance. */
  onFinished?: (result: TurnResult) => void;
  /** A reply failed or was stopped. */
  onFailed?: (message: ViewMessage) => void;
  /** The chat's path changed here (a version chosen, messages deleted): the chat as it now is. */
  onChatChanged?: (chat: Chat) => void;
  /** Silence before the typing indicator turns into a timeout message. */
  noAnswerMs?: number;
  /** Waits between reconnection attempts (the last one repeats). */
  reconnectDelaysMs?: readonly number[];
  /** Automatic re-sends, with the same Idempotency-Key, when a send got no answer at all. */
  resendDelaysMs?: readonly number[];
}

/** The user's message of a send, as shown until the server stores it. */
interface LocalSend {
  localId: string;
  content: string;
  /** Undoes the chat list's change if the message is never stored. */
  undo?: () => void;
}

/** The turn the page is carrying: its connection, and what its events said. */
interface ActiveTurn {
  request: TurnRequest;
  controller: AbortController;
  progress: ReplyProgress;
  stopRequested: boolean;
}

/**
 * One chat's conversation: the store the view reads, and the actions that change it — loading
 * history, sending with optimistic display, stop, retry (regenerate), reload, and following a
 * reply still being written when the chat opens. The turn's transport (re-sends, re-attaching)
 * is `runTurn`'s. Leaving (the owner's cleanup) aborts the page's requests but never the reply:
 * the server finishes it.
 */
export function createConversation(options: ConversationOptions) {
  const chatId = options.chatId;
  const store = createConversationStore({ chatId, noAnswerMs: options.noAnswerMs ?? 30_000 });
  const { state } = store;

  const life = new AbortController();
  let active: ActiveTurn | null = null;
  // Select, delete and fork change the tree in one request; while one is on its way the page
  // starts nothing else, and events about the change wait for the reload that shows it.
  const [changing, setChanging] = createSignal(false);
  onCleanup(() => {
    active?.controller.abort();
    life.abort();
  });

  // ----- what other tabs and devices do (the realtime channel) -----

  onCleanup(subscribeChat(chatId));
  onCleanup(onRealtimeEvent((event) => remote(event)));
  onCleanup(onRealtimeResync(() => void reload()));

  /**
   * An event of the user's: shown when it concerns this chat and is not the page's own turn
   * (whose stream brings the same). A reply started elsewhere appears and streams here.
   */
  function remote(event: RealtimeEvent): void {
    if (!('chatId' in event) || event.chatId !== chatId || state.loading) return;
    const own = active?.progress;
    // Events can arrive after this page has seen the same message end (its own stream is faster
    // than the channel): a message that has ended never becomes live again (a new attempt is a
    // new message), so an older event about it changes nothing.
    // A continuation (elsewhere) is the one way an ended reply goes live again: it says so with a
    // later `updatedAt` than the end the page saw.
    const ended = (id: string, updatedAt?: string) => {
      const shown = store.find(id);
      if (shown === undefined || shown.local || LIVE_STATUSES.has(shown.status)) return false;
      return updatedAt === undefined || Date.parse(updatedAt) <= Date.parse(shown.updatedAt);
    };
    switch (event.type) {
      case 'message.created': {
        const { message } = event;
        if (ended(message.id)) return;
        // This page's own send: its stream's `turn_started` replaces the message shown.
        if (message.role === 'user' && state.messages.some((m) => m.local && m.content === message.content)) return;
        if (message.role === 'assistant' && own && (own.reply === null || own.reply.id === message.id)) return;
        store.upsert(message);
        if (!active && message.role === 'assistant' && LIVE_STATUSES.has(message.status)) {
          store.began(message.id);
        }
        return;
      }
      case 'reply.delta': {
        if (own?.reply?.id === event.messageId || ended(event.messageId)) return;
        const shown = store.find(event.messageId);
        // Texts apply at their offset: one received twice changes nothing.
        if (!shown || event.offset > shown.content.length) return;
        store.upsert({ ...shown, content: shown.content.slice(0, event.offset) + event.text, status: 'streaming' });
        if (!active) store.heard();
        return;
      }
      case 'message.updated': {
        if (own?.reply?.id === event.message.id) return;
        const { message } = event;
        if (ended(message.id, message.updatedAt) && LIVE_STATUSES.has(message.status)) return;
        store.upsert(message);
        const live = LIVE_STATUSES.has(message.status);
        if (!active && live && message.role === 'assistant' && !store.live()) store.began(message.id);
        if (!active && store.live()?.assistantId === message.id && !live) store.settled();
        return;
      }
      // Another tab or device moved the active path (select, edit, regenerate) or deleted
      // messages: the page shows the path again. The page's own turn or change shows its own.
      case 'chat.path_changed': {
        if (active || changing()) return;
        const last = state.messages.at(-1);
        if (last && !last.local && last.id === event.activeLeafId) return;
        return void reload();
      }
      case 'message.deleted':
        if (active || changing()) return;
        if (event.messageIds.some((id) => store.find(id))) void reload();
        return;
      default:
        return;
    }
  }

  // ----- history -----

  async function load(): Promise<void> {
    store.loading();
    try {
      const page = await fetchMessagePage(chatId, undefined);
      if (life.signal.aborted) return;
      store.loaded(page);
      void showToolCalls();
      const writing = page.items.findLast((m) => m.role === 'assistant' && LIVE_STATUSES.has(m.status));
      if (writing && !active) void run({ kind: 'follow', chatId, messageId: writing.id });
    } catch (error) {
      if (!life.signal.aborted) store.loadFailed(error);
    }
  }

  /** The replies' tool calls, once the history is shown; without them the replies still read. */
  async function showToolCalls(): Promise<void> {
    try {
      const page = await fetchToolCalls(chatId);
      if (!life.signal.aborted) store.toolCallsLoaded(page.items);
    } catch {
      // Best effort: the calls stay listed by the API.
    }
  }

  /** Brings the newest page in line with the server (after an error). */
  async function refreshLatest(): Promise<void> {
    const page = await fetchMessagePage(chatId, undefined);
    if (!life.signal.aborted) store.refreshed(page);
  }

  async function loadOlder(): Promise<void> {
    const before = state.nextBefore;
    if (!state.hasMore || before === null || state.loadingOlder) return;
    store.loadingOlder(true);
    try {
      const page = await fetchMessagePage(chatId, before);
      if (!life.signal.aborted) store.olderLoaded(page);
    } catch (error) {
      if (!life.signal.aborted) store.setFailure({ error, retry: () => void loadOlder() });
    } finally {
      store.loadingOlder(false);
    }
  }

  // ----- turns -----

  /** Carries a turn to its end and shows how it ended. */
  async function run(request: TurnRequest, local?: LocalSend, shape: TurnShape = {}): Promise<void> {
    active?.controller.abort();
    const following = request.kind === 'follow' || request.kind === 'continue' ? request.messageId : null;
    const turn: ActiveTurn = {
      request,
      controller: new AbortController(),
      progress: store.began(following, { ...shape, localId: local?.localId ?? null }),
      stopRequested: false,
    };
    active = turn;
    const outcome = await runTurn(request, {
      signal: turn.controller.signal,
      onEvent: (event) => onEvent(event, turn),
      onReconnecting: store.reconnecting,
      resendDelaysMs: options.resendDelaysMs ?? [500, 1500],
      reconnectDelaysMs: options.reconnectDelaysMs ?? [500, 1000, 2000, 4000, 8000],
    });
    if (active === turn) active = null;
    ended(outcome, request, local);
  }

  function onEvent(event: StreamEvent, turn: ActiveTurn): void {
    batch(() => {
      store.apply(event, turn.progress);
      if (event.type === 'error' && event.problem.code !== 'turn_cancelled') {
        // A continuation that failed left the reply as it was: "Try again" continues it again.
        const { request } = turn;
        const retry =
          request.kind === 'continue' ? () => void continueReply(request.messageId) : () => void retryLatest();
        store.setFailure({ error: ApiError.fromProblem(event.problem), retry });
      }
    });
    switch (event.type) {
      case 'turn_started':
        // Stop was pressed before the reply had an id: it goes out now.
        if (turn.stopRequested) void stop();
        return;
      case 'done':
        options.onFinished?.(event.result);
        // A new version: the turn's messages say where each stands among its versions (‹ n/m ›);
        // a server that does not say so is asked for the path again.
        if (
          (turn.request.kind === 'regenerate' || turn.request.kind === 'edit') &&
          event.result.assistantMessage.alternatives === undefined
        ) {
          void refreshLatest().catch(() => undefined);
        }
        return;
      case 'error':
        // The stored state says how the reply ended (its text may be ahead of what arrived).
        void refreshLatest()
          .then(() => {
            const reply = store.find(event.messageId);
            if (reply && !LIVE_STATUSES.has(reply.status)) options.onFailed?.(reply);
          })
          .catch(() => undefined);
        return;
    }
  }

  function ended(outcome: TurnOutcome, request: TurnRequest, local: LocalSend | undefined): void {
    switch (outcome.kind) {
      case 'ended':
      case 'aborted':
        return;
      case 'unsent':
        return failUnsent(request, local, outcome.error, outcome.answered);
      case 'lost':
        store.settled();
        store.setFailure({ error: outcome.error, retry: () => void reload() });
        return;
    }
  }

  /** The request failed before anything was stored. */
  function failUnsent(request: TurnRequest, local: LocalSend | undefined, error: unknown, answered: boolean): void {
    store.settled();
    if (request.kind === 'edit' || request.kind === 'continue') {
      // Refused before anything changed (a turn elsewhere, blocked words): the page shows the
      // server's state, and edited words go back into the editor.
      store.setFailure({ error, retry: null });
      if (request.kind === 'edit') store.setReturnedEdit({ messageId: request.messageId, content: request.content });
      void refreshLatest().catch(() => undefined);
      return;
    }
    if (request.kind !== 'send' || !local) {
      store.setFailure({ error, retry: () => void retryLatest() });
      return;
    }
    if (!describeError(error).retryable) {
      // Only the user can fix it (blocked content, no tokens): their words go back to the composer.
      batch(() => {
        store.remove(local.localId);
        local.undo?.();
        store.setReturnedDraft(local.content);
        store.setFailure({ error, retry: null });
      });
      return;
    }
    if (answered) local.undo?.();
    store.patch(local.localId, { status: 'failed' });
    // The message stays on screen, not sent; "Try again" sends it again. After no answer at all the
    // same key goes again (the server may have it); after a refusal it is a new attempt.
    store.setFailure({
      error,
      retry: () => {
        store.patch(local.localId, { status: 'pending' });
        const idempotencyKey = answered ? newId() : request.idempotencyKey;
        const undo = answered ? options.onSend?.(preview(local.content)) : local.undo;
        void run({ ...request, idempotencyKey }, { ...local, undo });
      },
    });
  }

  const preview = (content: string) =>
    previewOf({ id: newId(), role: 'user', content, status: 'complete', createdAt: new Date().toISOString() });

  // ----- actions -----

  /** Sends a message; false when it was not taken (empty, or a reply is still in progress). */
  function send(content: string): boolean {
    const text = content.trim();
    if (!text || store.live() || changing()) return false;
    const idempotencyKey = newId();
    const localId = `local-${idempotencyKey}`;
    store.addLocal(localId, text);
    store.setReturnedDraft(null);
    const undo = options.onSend?.(preview(text));
    void run({ kind: 'send', chatId, content: text, idempotencyKey }, { localId, content: text, undo });
    return true;
  }

  /** Generates the latest reply again (after a failure or a stop); a new Idempotency-Key per retry. */
  async function retryLatest(): Promise<void> {
    if (store.live() || state.messages.some((m) => m.local)) return;
    const latest = state.messages.findLast((m) => m.role === 'assistant');
    if (!latest || latest.replyToId === null) return;
    await regenerate(latest.id);
  }

  const busy = () => store.live() !== null || changing() || state.messages.some((m) => m.local);

  /**
   * A new version of the reply `messageId` (the end of the path, any status), or a first reply
   * to a user message that ends the path. The old version leaves the transcript (it stays an
   * alternative) the moment the new one starts.
   */
  async function regenerate(messageId: string): Promise<void> {
    if (busy()) return;
    const target = store.find(messageId);
    const replaces = target?.role === 'assistant' ? store.from(messageId, true) : store.from(messageId, false);
    await run({ kind: 'regenerate', chatId, messageId, idempotencyKey: newId() }, undefined, { replaces });
  }

  /** Sends an edited copy of a user message: it and what followed leave the path for the new branch. */
  function edit(messageId: string, content: string): boolean {
    const text = content.trim();
    if (!text || busy()) return false;
    const replaces = store.from(messageId, true);
    void run({ kind: 'edit', chatId, messageId, content: text, idempotencyKey: newId() }, undefined, { replaces });
    return true;
  }

  /** Asks for more of a cut-off or stopped reply; the text is added to it. */
  async function continueReply(messageId: string): Promise<void> {
    if (busy()) return;
    await run({ kind: 'continue', chatId, messageId, idempotencyKey: newId() }, undefined, { appends: true });
  }

  /** Runs one tree-changing request (nothing else starts meanwhile); a refusal shows in the banner. */
  async function change<T>(action: () => Promise<T>, after: 'reload' | 'none'): Promise<T | undefined> {
    if (busy()) return undefined;
    setChanging(true);
    try {
      const result = await action();
      if (after === 'reload') await load();
      return result;
    } catch (error) {
      if (!life.signal.aborted) store.setFailure({ error, retry: null });
      return undefined;
    } finally {
      setChanging(false);
    }
  }

  /** Shows the previous (-1) or next (+1) version of a message: the server moves the active path. */
  async function showAlternative(messageId: string, step: -1 | 1): Promise<void> {
    const message = store.find(messageId);
    if (!message) return;
    const { index, count } = versionsOf(message);
    const wanted = index + step;
    if (count < 2 || wanted < 1 || wanted > count) return;
    const chat = await change(async () => {
      const { items } = await fetchAlternatives(chatId, messageId);
      const sibling = items[wanted - 1];
      return sibling && (await selectMessage(chatId, sibling.id));
    }, 'reload');
    if (chat) options.onChatChanged?.(chat);
  }

  /** Deletes a message and what follows it on its branches. */
  async function remove(messageId: string): Promise<void> {
    const chat = await change(() => deleteMessage(chatId, messageId), 'reload');
    if (chat) options.onChatChanged?.(chat);
  }

  /** A new chat holding the conversation up to this message; answers it (or nothing when refused). */
  function fork(messageId: string): Promise<Chat | undefined> {
    return change(() => forkChat(chatId, messageId), 'none');
  }

  /** Stops the reply in progress: its text so far stays, marked as stopped. */
  async function stop(): Promise<void> {
    const turn = active;
    if (!turn) return;
    const replyId = turn.progress.reply?.id ?? store.live()?.assistantId;
    if (!replyId) {
      // The turn has not started yet: the stop goes out with `turn_started`.
      turn.stopRequested = true;
      return;
    }
    try {
      const message = await cancelReply(chatId, replyId);
      store.upsert(message);
      if (active === turn && !LIVE_STATUSES.has(message.status)) {
        // The page's stream ends with `turn_cancelled`; don't wait for it to show the stop.
        active = null;
        store.settled();
        turn.controller.abort();
      }
    } catch (error) {
      // It finished before the stop arrived: show it as it is.
      if (error instanceof ApiError && error.code === 'message_not_cancellable') return void refreshLatest();
      store.setFailure({ error, retry: () => void stop() });
    }
  }

  /** Reloads the conversation from the server (and re-attaches to a reply in progress). */
  async function reload(): Promise<void> {
    active?.controller.abort();
    active = null;
    batch(() => {
      store.settled();
      store.setFailure(null);
    });
    await load();
  }

  void load();

  return {
    state,
    live: store.live,
    /** A turn, or a change to the tree, is under way: the message actions wait. */
    busy,
    failure: store.failure,
    returnedDraft: store.returnedDraft,
    returnedEdit: store.returnedEdit,
    send,
    regenerate,
    edit,
    continueReply,
    showAlternative,
    remove,
    fork,
    retry: () => store.failure()?.retry?.(),
    stop,
    reload,
    loadOlder,
    dismissFailure: () => store.setFailure(null),
  };
}

export type Conversation = ReturnType<typeof createConversation>;
