import { createEffect, createSignal, createUniqueId, For, on, onCleanup, onMount, Show } from 'solid-js';
import type { MessagePreview, TurnResult } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { t } from '../i18n/i18n';
import type { ViewMessage } from '../turns/conversation.store';
import { createConversation, type Conversation } from '../turns/create-conversation';
import { MessageItem } from './message-item';

interface ChatViewProps {
  chatId: string;
  title: string;
  characterName: string;
  characterAvatarUrl?: string | null;
  onBack: () => void;
  /** A message is on its way to this chat; the returned undo runs if it is never stored. */
  onSend?: (preview: MessagePreview) => () => void;
  onFinished?: (result: TurnResult) => void;
  /** Silence before the typing indicator becomes a timeout message (30 s). */
  noAnswerMs?: number;
}

const NEAR_BOTTOM_PX = 120;

function nearBottom(): boolean {
  const root = document.scrollingElement ?? document.documentElement;
  return root.scrollHeight - root.scrollTop - root.clientHeight < NEAR_BOTTOM_PX;
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
  });
  const { state } = conversation;

  const headingId = createUniqueId();
  let heading: HTMLHeadingElement | undefined;
  let top: HTMLDivElement | undefined;
  // Opening a chat replaces the main area (and, on a phone, hides the list that had focus).
  onMount(() => heading?.focus());

  // Follow the conversation as it grows, unless the reader has scrolled up to read.
  let follow = true;
  const onScroll = () => (follow = nearBottom());
  window.addEventListener('scroll', onScroll, { passive: true });
  onCleanup(() => window.removeEventListener('scroll', onScroll));
  createEffect(
    on(
      () => [state.messages.length, state.messages.at(-1)?.content, conversation.live(), conversation.failure()],
      () => {
        if (!follow) return;
        const root = document.scrollingElement ?? document.documentElement;
        root.scrollTop = root.scrollHeight;
      },
      { defer: true },
    ),
  );

  // Older messages load when the top of the list comes into view (the button does the same).
  onMount(() => {
    if (typeof IntersectionObserver === 'undefined' || !top) return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting) && !state.loading) void loadOlderKeepingPlace();
    });
    observer.observe(top);
    onCleanup(() => observer.disconnect());
  });
  const loadOlderKeepingPlace = async () => {
    const root = document.scrollingElement ?? document.documentElement;
    const fromBottom = root.scrollHeight - root.scrollTop;
    await conversation.loadOlder();
    root.scrollTop = root.scrollHeight - fromBottom;
  };

  return (
    <section class="chat-view" aria-labelledby={headingId}>
      <header class="chat-header">
        <button type="button" class="back small" onClick={() => props.onBack()}>
          ← {t('chat.back')}
        </button>
        <h2 id={headingId} ref={(element) => (heading = element)} tabIndex={-1}>
          {props.title}
        </h2>
      </header>
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
            <MessageItem message={message} characterName={props.characterName} avatarUrl={props.characterAvatarUrl} />
          )}
        </For>
      </ol>
      <LiveStatus conversation={conversation} characterName={props.characterName} />
      <Show when={conversation.failure()}>
        {(failure) => (
          <ErrorBanner
            error={failure().error}
            onRetry={failure().retry ? () => conversation.retry() : undefined}
            onReload={() => void conversation.reload()}
          />
        )}
      </Show>
      {/* Screen readers hear each finished reply once, not every streamed word. */}
      <p class="visually-hidden" aria-live="polite" aria-atomic="true">
        {announcement()}
      </p>
      <Composer conversation={conversation} />
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
              {typeof navigator !== 'undefined' && navigator.onLine === false
                ? t('chat.offline')
                : t('chat.reconnecting')}
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

/** Enter sends, Shift+Enter breaks the line; Stop while a reply is being written. */
function Composer(props: { conversation: Conversation }) {
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
        ref={(element) => (input = element)}
        id={inputId}
        rows={2}
        maxLength={8000}
        aria-describedby={hintId}
        value={text()}
        onInput={(event) => setText(event.currentTarget.value)}
        onKeyDown={(event) => {
          if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            submit();
          }
        }}
      />
      {/* Stop sits beside Send rather than in its place: the second click of a double click on
          Send lands on a disabled Send, never on Stop. */}
      <div class="composer-actions">
        <Show when={live()}>
          <button type="button" class="danger" onClick={() => void props.conversation.stop()}>
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
