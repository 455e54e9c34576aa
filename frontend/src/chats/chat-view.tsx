import { createEffect, createSignal, createUniqueId, For, on, onCleanup, onMount, Show } from 'solid-js';
import type { Chat, MessagePreview, TurnResult } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import { online } from '../state/online';
import { versionsOf, type ViewMessage } from '../turns/conversation.store';
import { createConversation, type Conversation } from '../turns/create-conversation';
import { fetchChat } from './chats.api';
import { allMessages, download, fileName, toJson, toMarkdown, wholeTree } from './export';
import { MessageItem, type MessageItemActions } from './message-item';

interface ChatViewProps {
  chatId: string;
  title: string;
  characterName: string;
  characterAvatarUrl?: string | null;
  onBack: () => void;
  /** A message is on its way to this chat; the returned undo runs if it is never stored. */
  onSend?: (preview: MessagePreview) => () => void;
  onFinished?: (result: TurnResult) => void;
  /** Open at this message (a search hit): older pages load until it is there. */
  focusSeq?: number;
  /** Silence before the typing indicator becomes a timeout message (30 s). */
  noAnswerMs?: number;
  /** A new chat was forked from one of this chat's messages: open it. */
  onForked?: (chat: Chat) => void;
  /** The chat's path changed (a version chosen, messages deleted): its new preview. */
  onChatChanged?: (chat: Chat) => void;
}

/** Focus is where arrow keys move a caret or a choice, not through versions of a reply. */
function typingTarget(target: EventTarget | null): boolean {
  return target instanceof Element && target.closest('input, textarea, select, [contenteditable="true"]') !== null;
}

const NEAR_BOTTOM_PX = 120;

function nearBottom(element: HTMLElement): boolean {
  return element.scrollHeight - element.scrollTop - element.clientHeight < NEAR_BOTTOM_PX;
}

/**
 * One chat: its messages (older ones load when scrolled to the top), the reply being written,
 * failures with their actions, and the composer. Render it keyed by chat id; leaving it aborts
 * the page's requests, never the reply.
 */
export function ChatView(props: ChatViewProps) {
  const [announcement, setAnnouncement] = createSignal('');
  const conversation = createConversation({
    // Keyed by chat id: the conversation belongs to this one chat.
    chatId: props.chatId,
    onSend: (preview) => props.onSend?.(preview) ?? (() => undefined),
    onFinished: (result) => {
      setAnnouncement(t('chat.replied', { name: props.characterName, text: result.assistantMessage.content }));
      props.onFinished?.(result);
    },
    onFailed: (message) => {
      if (message.status === 'failed') setAnnouncement(t('chat.replyFailed', { name: props.characterName }));
    },
    noAnswerMs: props.noAnswerMs,
    onChatChanged: (chat) => props.onChatChanged?.(chat),
  });
  const { state } = conversation;

  const headingId = createUniqueId();
  let heading: HTMLHeadingElement | undefined;
  let top: HTMLDivElement | undefined;
  let scroller: HTMLDivElement | undefined;
  let composerInput: HTMLTextAreaElement | undefined;
  // Opening a chat replaces the main area (and, on a phone, hides the list that had focus).
  onMount(() => heading?.focus());

  // The conversation scrolls on its own (header, list and composer stay put). It follows the
  // newest words unless the reader has scrolled up; then "Jump to latest" appears, marked when
  // something new arrived below.
  const [following, setFollowing] = createSignal(true);
  const [unread, setUnread] = createSignal(false);
  const scrollToLatest = () => {
    if (scroller) scroller.scrollTop = scroller.scrollHeight;
    setFollowing(true);
    setUnread(false);
  };
  const onScroll = () => {
    if (!scroller) return;
    const atBottom = nearBottom(scroller);
    setFollowing(atBottom);
    if (atBottom) setUnread(false);
  };
  createEffect(
    on(
      // The newest message and its text: older pages loading above change neither.
      () => [state.messages.at(-1)?.id, state.messages.at(-1)?.content, conversation.live(), conversation.failure()],
      () => {
        if (following()) scrollToLatest();
        else setUnread(true);
      },
      { defer: true },
    ),
  );

  // Opened at a message (from search): load older pages until it is there, then show it.
  const focusSeq = props.focusSeq;
  if (focusSeq !== undefined) setFollowing(false);
  let focusDone = focusSeq === undefined;
  createEffect(() => {
    if (focusDone || state.loading || state.loadingOlder || focusSeq === undefined) return;
    if (state.messages.some((message) => !message.local && message.seq === focusSeq)) {
      focusDone = true;
      queueMicrotask(() => {
        const element = scroller?.querySelector<HTMLElement>(`[data-seq="${focusSeq}"]`);
        if (!element) return;
        element.dataset.found = 'true';
        element.scrollIntoView({ block: 'center' });
      });
    } else if (state.hasMore) void conversation.loadOlder();
    else focusDone = true;
  });

  // Older messages load when the top of the list comes into view (the button does the same).
  onMount(() => {
    if (typeof IntersectionObserver === 'undefined' || !top) return;
    const observer = new IntersectionObserver(
      (entries) => {
        if (entries.some((entry) => entry.isIntersecting) && !state.loading) void loadOlderKeepingPlace();
      },
      { root: scroller },
    );
    observer.observe(top);
    onCleanup(() => observer.disconnect());
  });
  const loadOlderKeepingPlace = async () => {
    const root = scroller;
    if (!root) return;
    const fromBottom = root.scrollHeight - root.scrollTop;
    await conversation.loadOlder();
    root.scrollTop = root.scrollHeight - fromBottom;
  };

  const afterBanner = (action: () => void) => {
    action();
    composerInput?.focus();
  };

  // Export: every message, read from the server (not only the pages on screen).
  const [exporting, setExporting] = createSignal(false);
  const [exportError, setExportError] = createSignal<unknown>(null);
  const exportAs = async (format: 'md' | 'json') => {
    setExporting(true);
    setExportError(null);
    try {
      const stored = await fetchChat(props.chatId);
      const chat = {
        id: props.chatId,
        title: props.title,
        characterId: stored.characterId,
        characterName: props.characterName,
      };
      // JSON keeps every branch (version 2); Markdown is a document to read: the active path.
      if (format === 'json') {
        const tree = await wholeTree(props.chatId);
        download(fileName(props.title, 'json'), 'application/json', JSON.stringify(toJson(chat, tree), null, 2));
      } else {
        const messages = await allMessages(props.chatId);
        download(fileName(props.title, 'md'), 'text/markdown', toMarkdown(chat, messages, t('chat.you')));
      }
    } catch (error) {
      setExportError(error);
    } finally {
      setExporting(false);
    }
  };

  // Escape stops a reply being written, wherever focus is in the chat.
  const stop = async () => {
    await conversation.stop();
    composerInput?.focus();
  };

  // ----- message actions (specs/009-conversation-tree) -----

  // The user message open for editing in place (one at a time).
  const [editingId, setEditingId] = createSignal<string | null>(null);
  // Words the editor opens with instead of the message's (an edit the server refused).
  const [editDraft, setEditDraft] = createSignal<string | null>(null);
  const lastStored = () => state.messages.findLast((message) => !message.local);
  const startEdit = (messageId: string) => {
    if (conversation.busy()) return;
    setEditDraft(null);
    setEditingId(messageId);
  };
  createEffect(
    on(conversation.returnedEdit, (returned) => {
      if (!returned) return;
      setEditDraft(returned.content);
      setEditingId(returned.messageId);
    }),
  );
  const cancelEdit = () => {
    setEditingId(null);
    composerInput?.focus();
  };
  const actionsFor = (message: ViewMessage): MessageItemActions => ({
    step: (step) => void conversation.showAlternative(message.id, step),
    regenerate: () => {
      void conversation.regenerate(message.id);
      queueMicrotask(scrollToLatest);
    },
    continue: () => {
      void conversation.continueReply(message.id);
      queueMicrotask(scrollToLatest);
    },
    edit: () => startEdit(message.id),
    save: (content) => {
      if (!conversation.edit(message.id, content)) return false;
      setEditingId(null);
      composerInput?.focus();
      queueMicrotask(scrollToLatest);
      return true;
    },
    cancelEdit,
    delete: () => {
      void conversation.remove(message.id).then(() => composerInput?.focus());
    },
    fork: () => {
      void conversation.fork(message.id).then((chat) => {
        if (chat) props.onForked?.(chat);
      });
    },
  });

  // ←/→ show the other versions of the last reply, when focus is not in a text field.
  onMount(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.key !== 'ArrowLeft' && event.key !== 'ArrowRight') return;
      if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
      if (typingTarget(event.target) || editingId() !== null || conversation.busy()) return;
      const last = lastStored();
      if (!last || last.role !== 'assistant' || versionsOf(last).count < 2) return;
      event.preventDefault();
      void conversation.showAlternative(last.id, event.key === 'ArrowLeft' ? -1 : 1);
    };
    document.addEventListener('keydown', onKey);
    onCleanup(() => document.removeEventListener('keydown', onKey));
  });

  // ↑ in the empty composer opens the user's last message for editing.
  const editLast = (): boolean => {
    const mine = state.messages.findLast((message) => message.role === 'user' && !message.local);
    if (!mine || conversation.busy()) return false;
    startEdit(mine.id);
    return true;
  };

  return (
    <section
      class="chat-view"
      aria-labelledby={headingId}
      onKeyDown={(event) => {
        if (event.key === 'Escape' && conversation.live() && !event.isComposing) {
          event.preventDefault();
          void stop();
        }
      }}
    >
      <header class="chat-header">
        <button type="button" class="back small" onClick={() => props.onBack()}>
          ← {t('chat.back')}
        </button>
        <h2 id={headingId} ref={(element) => (heading = element)} tabIndex={-1}>
          {props.title}
        </h2>
        <div class="chat-export" role="group" aria-label={t('chat.export')}>
          <button type="button" class="small" disabled={exporting()} onClick={() => void exportAs('md')}>
            {t('chat.exportMarkdown')}
          </button>
          <button type="button" class="small" disabled={exporting()} onClick={() => void exportAs('json')}>
            {t('chat.exportJson')}
          </button>
        </div>
      </header>
      <Show when={exportError()}>
        {(error) => <ErrorBanner error={error()} onRetry={() => setExportError(null)} />}
      </Show>
      <div class="chat-body">
        {/* Focusable so the keyboard can scroll it too. */}
        <div
          class="chat-scroll"
          ref={(element) => (scroller = element)}
          onScroll={onScroll}
          tabIndex={0}
          role="region"
          aria-label={t('chat.conversation')}
        >
          <div ref={(element) => (top = element)} class="history-top" />
          <Show when={state.hasMore}>
            <button
              type="button"
              class="load-older"
              disabled={state.loadingOlder}
              onClick={() => void loadOlderKeepingPlace()}
            >
              {state.loadingOlder ? t('common.loading') : t('chat.loadOlder')}
            </button>
          </Show>
          <Show when={state.loadError}>
            {(error) => <ErrorBanner error={error()} onRetry={() => void conversation.reload()} />}
          </Show>
          <Show when={state.loading && state.messages.length === 0}>
            <p class="muted">{t('common.loading')}</p>
          </Show>
          <Show when={!state.loading && !state.loadError && state.messages.length === 0}>
            <p class="muted empty">{t('chat.empty')}</p>
          </Show>
          <ol class="messages">
            <For each={state.messages}>
              {(message: ViewMessage) => (
                <MessageItem
                  message={message}
                  characterName={props.characterName}
                  avatarUrl={props.characterAvatarUrl}
                  last={lastStored()?.id === message.id}
                  busy={conversation.busy()}
                  editing={editingId() === message.id}
                  editText={editingId() === message.id ? (editDraft() ?? undefined) : undefined}
                  actions={actionsFor(message)}
                />
              )}
            </For>
          </ol>
          <LiveStatus conversation={conversation} characterName={props.characterName} />
          <Show when={conversation.failure()}>
            {(failure) => (
              <ErrorBanner
                error={failure().error}
                // The banner and its buttons go away: focus waits in the composer.
                onRetry={failure().retry ? () => afterBanner(() => conversation.retry()) : undefined}
                onReload={() => afterBanner(() => void conversation.reload())}
              />
            )}
          </Show>
        </div>
        <Show when={!following()}>
          <button type="button" class="jump-latest small" onClick={() => scrollToLatest()}>
            ↓ {t('chat.jumpToLatest')}
            <Show when={unread()}>
              <span class="unread-marker">
                <span class="visually-hidden">{t('chat.newBelow')}</span>
              </span>
            </Show>
          </button>
        </Show>
      </div>
      {/* Screen readers hear each finished reply once, not every streamed word. */}
      <p class="visually-hidden" aria-live="polite" aria-atomic="true">
        {announcement()}
      </p>
      <Composer
        conversation={conversation}
        inputRef={(element) => (composerInput = element)}
        onSent={() => queueMicrotask(scrollToLatest)}
        onStop={() => void stop()}
        onEditLast={editLast}
      />
    </section>
  );
}

/** The typing indicator, its timeout message, and the connection state while re-attaching. */
function LiveStatus(props: { conversation: Conversation; characterName: string }) {
  const live = () => props.conversation.live();
  return (
    <Show when={live()}>
      {(current) => (
        <Show
          when={current().phase !== 'reconnecting'}
          fallback={
            <p class="connection-status" role="status" data-testid="connection-status">
              {online() ? t('chat.reconnecting') : t('chat.offline')}
            </p>
          }
        >
          <Show
            when={!current().silent}
            fallback={
              <p class="typing-timeout" role="status" data-testid="typing-timeout">
                {t('chat.noAnswer', { name: props.characterName, seconds: 30 })}
              </p>
            }
          >
            <p class="typing-indicator" role="status" data-testid="typing-indicator">
              <span class="typing-dots" aria-hidden="true">
                <span />
                <span />
                <span />
              </span>
              {current().attempt > 1
                ? t('chat.retrying', { name: props.characterName, attempt: current().attempt })
                : t('chat.typing', { name: props.characterName })}
            </p>
          </Show>
        </Show>
      )}
    </Show>
  );
}

/** A phone or tablet without a fine pointer: its on-screen keyboard has no Shift+Enter. */
function touchKeyboard(): boolean {
  return typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches;
}

/** Enter sends, Shift+Enter breaks the line; Stop while a reply is being written. */
function Composer(props: {
  conversation: Conversation;
  inputRef: (element: HTMLTextAreaElement) => void;
  onSent: () => void;
  onStop: () => void;
  /** ↑ in the empty composer: edit the last message; false when there is none to edit. */
  onEditLast: () => boolean;
}) {
  const inputId = createUniqueId();
  const hintId = createUniqueId();
  const [text, setText] = createSignal('');
  let input: HTMLTextAreaElement | undefined;

  // Words the server refused (blocked, no tokens) come back to be edited, unless new ones were typed.
  createEffect(
    on(props.conversation.returnedDraft, (draft) => {
      if (draft !== null && text().trim() === '') setText(draft);
    }),
  );

  const submit = () => {
    if (props.conversation.send(text())) {
      setText('');
      input?.focus();
      props.onSent();
    }
  };
  const live = () => props.conversation.live() !== null;

  return (
    <form
      class="composer"
      onSubmit={(event) => {
        event.preventDefault();
        submit();
      }}
    >
      <label for={inputId} class="visually-hidden">
        {t('chat.messageLabel')}
      </label>
      <textarea
        ref={(element) => {
          input = element;
          props.inputRef(element);
        }}
        id={inputId}
        rows={2}
        maxLength={8000}
        aria-describedby={hintId}
        value={text()}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          // On a touch keyboard Enter starts a new line; the Send button sends.
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !touchKeyboard()) {
            event.preventDefault();
            submit();
          } else if (event.key === 'ArrowUp' && text() === '' && !event.isComposing && props.onEditLast()) {
            event.preventDefault();
          }
        }}
      />
      {/* Stop sits beside Send rather than in its place: the second click of a double click on
          Send lands on a disabled Send, never on Stop. */}
      <div class="composer-actions">
        <Show when={live()}>
          <button type="button" class="danger" onClick={() => props.onStop()}>
            {t('chat.stop')}
          </button>
        </Show>
        <button type="submit" class="primary" disabled={live() || text().trim() === ''}>
          {t('chat.send')}
        </button>
      </div>
      <p id={hintId} class="hint composer-hint">
        {t('chat.composerHint')}
      </p>
    </form>
  );
}
