import { createResource, createSignal } from 'solid-js';
import type { Chat, ChatPage } from '@parley/api-types';
import { fetchChatPage } from './chats.api';

function withoutDuplicates(chats: Chat[]): Chat[] {
  const seen = new Set<string>();
  return chats.filter((chat) => {
    if (seen.has(chat.id)) return false;
    seen.add(chat.id);
    return true;
  });
}

/**
 * The signed-in user's chats, page by page. Later pages are appended to the ones already shown;
 * local changes (created, renamed, deleted) are applied from the API's answer without a refetch.
 */
export function createChatList() {
  const [cursor, setCursor] = createSignal<string>();
  const [page, { mutate, refetch }] = createResource(
    () => ({ cursor: cursor() }),
    async (key, info: { value: ChatPage | undefined }): Promise<ChatPage> => {
      const next = await fetchChatPage(key.cursor);
      if (key.cursor === undefined || !info.value) return next;
      return {
        items: withoutDuplicates([...info.value.items, ...next.items]),
        nextCursor: next.nextCursor,
      };
    },
  );

  const update = (change: (items: Chat[]) => Chat[]) =>
    mutate((current) => current && { ...current, items: change(current.items) });

  return {
    page,
    refetch,
    loadMore() {
      const next = page.latest?.nextCursor;
      if (next) setCursor(next);
    },
    added(chat: Chat) {
      update((items) => [chat, ...items.filter((item) => item.id !== chat.id)]);
    },
    updated(chat: Chat) {
      update((items) => items.map((item) => (item.id === chat.id ? chat : item)));
    },
    removed(chatId: string) {
      update((items) => items.filter((item) => item.id !== chatId));
    },
    find(chatId: string): Chat | undefined {
      return page.state === 'ready' || page.state === 'refreshing'
        ? page.latest?.items.find((chat) => chat.id === chatId)
        : undefined;
    },
  };
}

export type ChatList = ReturnType<typeof createChatList>;
