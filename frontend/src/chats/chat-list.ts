import { createResource, createSignal } from 'solid-js';
import type { Chat, ChatPage, MessagePreview, RealtimeEvent } from '@parley/api-types';
import { fetchChat, fetchChatPage } from './chats.api';

type PathEvent = Extract<RealtimeEvent, { type: 'chat.path_changed' | 'message.deleted' }>;

/** A chat list's preview of a message: its start, as the API gives it (`MessagePreview`). */
export function previewOf(
  message: Pick<MessagePreview, 'id' | 'role' | 'content' | 'status' | 'createdAt'>,
): MessagePreview {
  return { ...message, content: Array.from(message.content).slice(0, 200).join('') };
}

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

  /**
   * The chat's active path moved (select, delete, regenerate, edit; here or elsewhere): its
   * preview is the new end of the path, and it takes its place by `updatedAt`, most recent
   * first, as the server lists it (a select or a delete leaves its activity, and its place,
   * as they were). A reply not yet written keeps the preview it replaces until its text comes.
   */
  const pathChanged = (chatId: string, lastMessage: MessagePreview | null, updatedAt: string): void => {
    update((items) => {
      const before = items.find((item) => item.id === chatId);
      if (!before) return items;
      const unwritten = lastMessage?.role === 'assistant' && lastMessage.status === 'pending';
      const after: Chat = { ...before, lastMessage: unwritten ? before.lastMessage : lastMessage, updatedAt };
      if (updatedAt === before.updatedAt) return items.map((item) => (item === before ? after : item));
      const rest = items.filter((item) => item !== before);
      const at = rest.findIndex((item) => Date.parse(item.updatedAt) < Date.parse(updatedAt));
      return at < 0 ? [...rest, after] : [...rest.slice(0, at), after, ...rest.slice(at)];
    });
  };

  /**
   * A change to a chat's tree from the realtime channel. `chat.path_changed` carries the new
   * preview and activity (one from a server that did not yet say them is answered by reading
   * the chat). `message.deleted` changes nothing here by itself: the preview is the end of the
   * active path, and a delete that moves it is followed by `chat.path_changed`.
   */
  const pathEvent = async (event: PathEvent): Promise<void> => {
    if (event.type === 'message.deleted') return;
    if (event.lastMessage !== undefined && event.updatedAt !== undefined) {
      return pathChanged(event.chatId, event.lastMessage, event.updatedAt);
    }
    if (!page.latest?.items.some((chat) => chat.id === event.chatId)) return;
    try {
      const chat = await fetchChat(event.chatId);
      pathChanged(chat.id, chat.lastMessage, chat.updatedAt);
    } catch {
      // Best effort: the list is read again on the next resync.
    }
  };

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
    /**
     * A message went to a chat: it moves to the top with the message as its preview, at once.
     * The returned undo puts the chat back as it was (when the message was never stored), unless
     * something newer changed it meanwhile.
     */
    touched(chatId: string, preview: MessagePreview): () => void {
      const items = page.latest?.items ?? [];
      const position = items.findIndex((item) => item.id === chatId);
      const before = items[position];
      if (!before) return () => undefined;
      const after: Chat = { ...before, lastMessage: preview, updatedAt: preview.createdAt };
      update((current) => [after, ...current.filter((item) => item.id !== chatId)]);
      return () =>
        update((current) => {
          if (current.find((item) => item.id === chatId) !== after) return current;
          const rest = current.filter((item) => item.id !== chatId);
          return [...rest.slice(0, position), before, ...rest.slice(position)];
        });
    },
    pathChanged,
    pathEvent,
    /** Parley titled a chat (from its first message). */
    retitled(chatId: string, title: string) {
      update((items) => items.map((item) => (item.id === chatId ? { ...item, title } : item)));
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
