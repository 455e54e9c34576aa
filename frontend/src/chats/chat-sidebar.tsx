import { createMemo, createSignal, createUniqueId, For, onMount, Show } from 'solid-js';
import type { Chat } from '@parley/api-types';
import { ErrorBanner } from '../components/error-banner';
import { localizeValidation } from '../components/validation';
import { t } from '../i18n/i18n';
import { Avatar } from '../characters/avatar';
import { createAction } from '../state/create-action';
import type { ChatList } from './chat-list';
import { markdown } from './markdown-loader';
import { deleteChat, renameChat } from './chats.api';

interface ChatSidebarProps {
  chats: ChatList;
  activeChatId: string | null;
  titleOf: (chat: Chat) => string;
  /** The avatar of a chat's character, when it has one. */
  avatarOf?: (chat: Chat) => string | null | undefined;
  onOpen: (chatId: string) => void;
  onDeleted: (chatId: string) => void;
}

export function ChatSidebar(props: ChatSidebarProps) {
  const page = () => props.chats.page.latest;
  // Items are keyed by chat id rather than by object: a renamed chat arrives as a new object but
  // stays the same list item, so its state and keyboard focus survive the update.
  const chatsById = createMemo(() => new Map(page()?.items.map((chat) => [chat.id, chat])));
  const chatIds = () => [...chatsById().keys()];

  let nav: HTMLElement | undefined;
  // A deleted chat's buttons leave the page with it: focus moves to the chat now in its place
  // (or the one before it), not to the page's start.
  const focusAfterRemoval = (index: number) =>
    queueMicrotask(() => {
      const items = [...(nav?.querySelectorAll<HTMLElement>('.chat-open') ?? [])];
      (items[Math.min(index, items.length - 1)] ?? nav?.closest('.sidebar')?.querySelector<HTMLElement>('a'))?.focus();
    });

  return (
    <nav class="chat-list" aria-label={t('chats.title')} ref={(element) => (nav = element)}>
      <Show when={page()}>
        {(current) => (
          <>
            <Show when={chatIds().length > 0} fallback={<p class="muted">{t('chats.empty')}</p>}>
              <ul>
                <For each={chatIds()}>
                  {(chatId) => (
                    <Show when={chatsById().get(chatId)}>
                      {(chat) => (
                        <ChatListItem
                          chat={chat()}
                          title={props.titleOf(chat())}
                          avatarUrl={props.avatarOf?.(chat())}
                          active={chatId === props.activeChatId}
                          onOpen={() => props.onOpen(chatId)}
                          onRenamed={(renamed) => props.chats.updated(renamed)}
                          onDeleted={() => {
                            const index = chatIds().indexOf(chatId);
                            props.chats.removed(chatId);
                            props.onDeleted(chatId);
                            focusAfterRemoval(index);
                          }}
                        />
                      )}
                    </Show>
                  )}
                </For>
              </ul>
            </Show>
            <Show when={current().nextCursor}>
              <button type="button" disabled={props.chats.page.loading} onClick={() => props.chats.loadMore()}>
                {props.chats.page.loading ? t('common.loading') : t('chats.loadMore')}
              </button>
            </Show>
          </>
        )}
      </Show>
    </nav>
  );
}

interface ChatListItemProps {
  avatarUrl?: string | null;
  chat: Chat;
  title: string;
  active: boolean;
  onOpen: () => void;
  onRenamed: (chat: Chat) => void;
  onDeleted: () => void;
}

function ChatListItem(props: ChatListItemProps) {
  // Replies are Markdown: the preview shows their words, not their marks.
  const preview = () => {
    const message = props.chat.lastMessage;
    if (!message) return undefined;
    const renderer = markdown();
    return message.role === 'assistant' && renderer ? renderer.toPlainText(message.content) : message.content;
  };
  const [editing, setEditing] = createSignal(false);
  let renameButton: HTMLButtonElement | undefined;
  // Leaving the form removes it; put keyboard focus back where the user started.
  const stopEditing = () => {
    setEditing(false);
    renameButton?.focus();
  };
  const [rename, submitRename] = createAction(async (title: string) => {
    const chat = await renameChat(props.chat.id, title);
    props.onRenamed(chat);
    stopEditing();
    return chat;
  });
  const [removal, remove] = createAction(async (chatId: string) => {
    await deleteChat(chatId);
    props.onDeleted();
    return true;
  });

  const confirmDelete = () => {
    if (window.confirm(t('chats.deleteConfirm', { title: props.title }))) remove(props.chat.id);
  };

  return (
    <li class="chat-list-item" classList={{ active: props.active }}>
      <Show
        when={editing()}
        fallback={
          <>
            <button
              type="button"
              class="chat-open"
              aria-current={props.active ? 'page' : undefined}
              onClick={() => props.onOpen()}
            >
              <span class="chat-title">
                {/* Only a real picture here: an initial would read as part of the title. */}
                <Show when={props.avatarUrl}>
                  <Avatar url={props.avatarUrl} name={props.title} />
                </Show>
                {props.title}
              </span>
              <span class="chat-preview">{preview() ?? t('chats.noMessages')}</span>
            </button>
            <div class="chat-actions">
              <button
                ref={(element) => (renameButton = element)}
                type="button"
                class="small"
                aria-label={t('chats.renameLabel', { title: props.title })}
                onClick={() => setEditing(true)}
              >
                {t('chats.rename')}
              </button>
              <button
                type="button"
                class="small danger"
                aria-label={t('chats.deleteLabel', { title: props.title })}
                disabled={removal.loading}
                onClick={confirmDelete}
              >
                {t('chats.delete')}
              </button>
            </div>
          </>
        }
      >
        <RenameForm
          initial={props.chat.title ?? ''}
          pending={rename.loading}
          onSubmit={(title) => submitRename(title)}
          onCancel={stopEditing}
        />
      </Show>
      <Show when={!rename.loading && editing() && rename.error}>{(error) => <ErrorBanner error={error()} />}</Show>
      <Show when={!removal.loading && removal.error}>{(error) => <ErrorBanner error={error()} />}</Show>
    </li>
  );
}

interface RenameFormProps {
  initial: string;
  pending: boolean;
  onSubmit: (title: string) => void;
  onCancel: () => void;
}

function RenameForm(props: RenameFormProps) {
  const id = createUniqueId();
  let input: HTMLInputElement | undefined;
  onMount(() => input?.select());

  return (
    <form
      ref={localizeValidation}
      class="rename-form"
      onSubmit={(event) => {
        event.preventDefault();
        const title = input?.value.trim() ?? '';
        if (title) props.onSubmit(title);
      }}
      onKeyDown={(event) => {
        if (event.key === 'Escape') props.onCancel();
      }}
    >
      <label for={id} class="visually-hidden">
        {t('chats.titleLabel')}
      </label>
      <input ref={(element) => (input = element)} id={id} value={props.initial} required maxLength={120} />
      <button type="submit" class="small primary" disabled={props.pending}>
        {t('common.save')}
      </button>
      <button type="button" class="small" onClick={() => props.onCancel()}>
        {t('common.cancel')}
      </button>
    </form>
  );
}
