import { api } from '../api/client';
import { toApiError } from '../api/problem';

const CHAT_PAGE_SIZE = 50;
const MESSAGE_PAGE_SIZE = 50;

export async function fetchChatPage(cursor: string | undefined) {
  const { data, error, response } = await api.GET('/api/chats', {
    params: { query: { cursor, limit: CHAT_PAGE_SIZE } },
  });
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}

export async function createChat(characterId: string) {
  const { data, error, response } = await api.POST('/api/chats', { body: { characterId } });
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}

export async function renameChat(chatId: string, title: string) {
  const { data, error, response } = await api.PATCH('/api/chats/{chatId}', {
    params: { path: { chatId } },
    body: { title },
  });
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}

export async function deleteChat(chatId: string): Promise<void> {
  const { error, response } = await api.DELETE('/api/chats/{chatId}', {
    params: { path: { chatId } },
  });
  if (error !== undefined || !response.ok) throw toApiError(error, response);
}

/** The newest messages, or those before `before` (a message seq); items are in ascending seq. */
export async function fetchMessagePage(chatId: string, before: number | undefined) {
  const { data, error, response } = await api.GET('/api/chats/{chatId}/messages', {
    params: { path: { chatId }, query: { before, limit: MESSAGE_PAGE_SIZE } },
  });
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}
