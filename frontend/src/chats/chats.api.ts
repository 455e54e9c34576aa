import { ApiError } from '@parley/client';
import type { ChatImport } from '@parley/api-types';
import { api } from '../api/client';

const CHAT_PAGE_SIZE = 50;
const MESSAGE_PAGE_SIZE = 50;
// The largest page getChatTree gives: an export reads every message of a chat.
const TREE_PAGE_SIZE = 500;

export async function fetchChatPage(cursor: string | undefined) {
  const { data, error, response } = await api.GET('/api/v1/chats', {
    params: { query: { cursor, limit: CHAT_PAGE_SIZE } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

/** Starts a chat; `greetingIndex` picks an alternate greeting, `personaId` who the user plays. */
export async function createChat(characterId: string, options: { greetingIndex?: number; personaId?: string } = {}) {
  const { data, error, response } = await api.POST('/api/v1/chats', { body: { characterId, ...options } });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function renameChat(chatId: string, title: string) {
  const { data, error, response } = await api.PATCH('/api/v1/chats/{chatId}', {
    params: { path: { chatId } },
    body: { title },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function deleteChat(chatId: string): Promise<void> {
  const { error, response } = await api.DELETE('/api/v1/chats/{chatId}', {
    params: { path: { chatId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
}

/** The newest messages, or those before `before` (a message seq); items are in ascending seq. */
export async function fetchMessagePage(chatId: string, before: number | undefined) {
  const { data, error, response } = await api.GET('/api/v1/chats/{chatId}/messages', {
    params: { path: { chatId }, query: { before, limit: MESSAGE_PAGE_SIZE } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

/** A page of the chat's whole tree, every branch, in ascending seq after `after` (`getChatTree`). */
export async function fetchTreePage(chatId: string, after: number | undefined) {
  const { data, error, response } = await api.GET('/api/v1/chats/{chatId}/tree', {
    params: { path: { chatId }, query: { after, limit: TREE_PAGE_SIZE } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function fetchChat(chatId: string) {
  const { data, error, response } = await api.GET('/api/v1/chats/{chatId}', { params: { path: { chatId } } });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

export async function importChat(body: ChatImport) {
  const { data, error, response } = await api.POST('/api/v1/chats/import', { body });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

// ----- the conversation tree (specs/009-conversation-tree) -----

/** The versions of a message: its siblings, oldest first (`listAlternatives`). */
export async function fetchAlternatives(chatId: string, messageId: string) {
  const { data, error, response } = await api.GET('/api/v1/chats/{chatId}/messages/{messageId}/alternatives', {
    params: { path: { chatId, messageId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

/** Puts a message on the active path (`selectMessage`): the newest message under it becomes the leaf. */
export async function selectMessage(chatId: string, messageId: string) {
  const { data, error, response } = await api.POST('/api/v1/chats/{chatId}/messages/{messageId}/select', {
    params: { path: { chatId, messageId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

/** Deletes a message and every message after it on its branches (`deleteMessage`); answers the chat. */
export async function deleteMessage(chatId: string, messageId: string) {
  const { data, error, response } = await api.DELETE('/api/v1/chats/{chatId}/messages/{messageId}', {
    params: { path: { chatId, messageId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

/** A new chat holding the path up to this message (`forkChat`). */
export async function forkChat(chatId: string, messageId: string) {
  const { data, error, response } = await api.POST('/api/v1/chats/{chatId}/messages/{messageId}/fork', {
    params: { path: { chatId, messageId } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}

/** The chat's newest tool calls (one page, newest first), to show them with their replies. */
export async function fetchToolCalls(chatId: string) {
  const { data, error, response } = await api.GET('/api/v1/chats/{chatId}/tool-calls', {
    params: { path: { chatId }, query: { limit: 100 } },
  });
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  return data;
}
