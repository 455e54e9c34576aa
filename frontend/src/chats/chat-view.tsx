import { createResource, createSignal, createUniqueId, For, onMount, Show } from 'solid-js';
import type { MessagePage } from '@parley/api-types';
import { t } from '../i18n/i18n';
import { fetchMessagePage } from './chats.api';
import { MessageItem } from './message-item';

interface ChatViewProps {
  chatId: string;
  title: string;
  characterName: string;
  onBack: () => void;
}

/**
 * One chat's messages, oldest first. "Load older" asks for the page before the oldest message
 * shown and prepends it. Render it keyed by chat id: the paging state belongs to one chat.
 */
export function ChatView(props: ChatViewProps) {
  const [before, setBefore] = createSignal<number>();
  const [page] = createResource(
    () => ({ chatId: props.chatId, before: before() }),
    async (key, info: { value: MessagePage | undefined }): Promise<MessagePage> => {
      const fetched = await fetchMessagePage(key.chatId, key.before);
      if (key.before === undefined || !info.value) return fetched;
      const shown = new Set(info.value.items.map((message) => message.id));
      return {
        items: [...fetched.items.filter((message) => !shown.has(message.id)), ...info.value.items],
        hasMore: fetched.hasMore,
        nextBefore: fetched.nextBefore,
      };
    },
  );
  const olderCursor = () => {
    const current = page.latest;
    return current?.hasMore ? current.nextBefore : null;
  };
  const headingId = createUniqueId();
  // Opening a chat replaces the main area (and, on a phone, hides the list that had focus).
  let heading: HTMLHeadingElement | undefined;
  onMount(() => heading?.focus());

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
      <Show when={olderCursor()}>
        {(seq) => (
          <button type="button" class="load-older" disabled={page.loading} onClick={() => setBefore(seq())}>
            {page.loading ? t('common.loading') : t('chat.loadOlder')}
          </button>
        )}
      </Show>
      <Show when={page.latest}>
        {(current) => (
          <Show when={current().items.length > 0} fallback={<p class="muted empty">{t('chat.empty')}</p>}>
            <ol class="messages">
              <For each={current().items}>
                {(message) => <MessageItem message={message} characterName={props.characterName} />}
              </For>
            </ol>
          </Show>
        )}
      </Show>
      <Composer />
    </section>
  );
}

/** Sending arrives with the generation pipeline; until then the composer says so. */
function Composer() {
  const inputId = createUniqueId();
  const noteId = createUniqueId();
  return (
    <form class="composer" onSubmit={(event) => event.preventDefault()}>
      <label for={inputId} class="visually-hidden">
        {t('chat.messageLabel')}
      </label>
      <textarea id={inputId} rows={2} disabled aria-describedby={noteId} />
      <button type="submit" class="primary" disabled>
        {t('chat.send')}
      </button>
      <p id={noteId} class="hint composer-note">
        {t('chat.comingSoon')}
      </p>
    </form>
  );
}
