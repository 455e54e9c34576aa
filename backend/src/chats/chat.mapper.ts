import type {
  Alternatives,
  Chat,
  ErrorCode,
  FinishReason,
  Message,
  MessagePreview,
  MessageRole,
  MessageStatus,
} from '@parley/api-types';
import type { ChatEntity } from './chat.entity.js';
import type { MessageEntity } from './message.entity.js';

const PREVIEW_LENGTH = 200;

export function toChatDto(chat: ChatEntity): Chat {
  return {
    id: chat.id,
    characterId: chat.characterId,
    title: chat.title,
    personaId: chat.personaId,
    createdAt: chat.createdAt.toISOString(),
    updatedAt: chat.updatedAt.toISOString(),
    activeLeafId: chat.activeLeafId,
    lastMessage: chat.lastMessage ? toPreview(chat.lastMessage) : null,
  };
}

export function toMessageDto(message: MessageEntity, alternatives?: Alternatives): Message {
  const hasUsage = message.promptTokens !== null || message.completionTokens !== null;
  const promptTokens = message.promptTokens ?? 0;
  const completionTokens = message.completionTokens ?? 0;
  return {
    id: message.id,
    chatId: message.chatId,
    seq: message.seq,
    role: message.role,
    content: message.content,
    status: message.status,
    errorCode: message.errorCode,
    replyToId: message.replyToId,
    parentId: message.parentId,
    finishReason: finishReasonOf(message),
    provider: message.provider,
    model: message.model,
    degraded: message.degraded,
    usage: hasUsage ? { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens } : null,
    attempts: message.attempts,
    createdAt: message.createdAt.toISOString(),
    updatedAt: message.updatedAt.toISOString(),
    ...(alternatives ? { alternatives } : {}),
  };
}

/** A row of the `message_page` function (migration ReadPath): a message of a history page. */
export interface MessagePageRow {
  id: string;
  seq: number;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  error_code: ErrorCode | null;
  reply_to_id: string | null;
  parent_id: string | null;
  provider: string | null;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  attempts: number;
  degraded: boolean;
  finish_reason: string | null;
  created_ms: number;
  updated_ms: number;
  alt_index: number;
  alt_count: number;
  /** A reply that called tools: its calls are read in a second statement. */
  has_tool_calls?: boolean;
}

/** A history page's message, straight from its row (no entity in between: the hot read path). */
export function toMessageDtoFromRow(chatId: string, row: MessagePageRow): Message {
  const hasUsage = row.prompt_tokens !== null || row.completion_tokens !== null;
  const promptTokens = row.prompt_tokens ?? 0;
  const completionTokens = row.completion_tokens ?? 0;
  return {
    id: row.id,
    chatId,
    seq: row.seq,
    role: row.role,
    content: row.content,
    status: row.status,
    errorCode: row.error_code,
    replyToId: row.reply_to_id,
    parentId: row.parent_id,
    finishReason: finishReasonFrom(
      {
        role: row.role,
        replyToId: row.reply_to_id,
        provider: row.provider,
        status: row.status,
        errorCode: row.error_code,
      },
      row.finish_reason,
    ),
    provider: row.provider,
    model: row.model,
    degraded: row.degraded,
    usage: hasUsage ? { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens } : null,
    attempts: row.attempts,
    // Stored to the millisecond (timestamptz(3)), so the epoch milliseconds are whole.
    createdAt: new Date(Math.round(row.created_ms)).toISOString(),
    updatedAt: new Date(Math.round(row.updated_ms)).toISOString(),
    // The root (the greeting) has no siblings: the chat has one.
    alternatives: row.parent_id === null ? { index: 1, count: 1 } : { index: row.alt_index, count: row.alt_count },
  };
}

// Why a reply ended (specs/009-conversation-tree): read from the status, and for a complete
// reply from what the provider said (stored in metadata when the reply was committed).
export function finishReasonOf(message: MessageEntity): FinishReason | null {
  return finishReasonFrom(message, message.metadata?.finishReason);
}

function finishReasonFrom(
  message: Pick<MessageEntity, 'role' | 'replyToId' | 'provider' | 'status' | 'errorCode'>,
  stored: unknown,
): FinishReason | null {
  if (message.role !== 'assistant' || (message.replyToId === null && message.provider === null)) return null;
  switch (message.status) {
    case 'pending':
    case 'streaming':
      return null;
    case 'cancelled':
      return 'stopped';
    case 'failed':
      return message.errorCode === 'content_blocked' ? 'safety' : 'error';
    case 'complete':
      return stored === 'max_tokens' || stored === 'tool_limit' ? stored : 'stop';
  }
}

function toPreview(message: MessageEntity): MessagePreview {
  return previewOf({ ...message, createdAt: message.createdAt.toISOString() });
}

/** A chat list's preview of a message (as `Chat.lastMessage`). */
export function previewOf(message: Pick<Message, 'id' | 'role' | 'content' | 'status' | 'createdAt'>): MessagePreview {
  // Cut by code points so a preview never ends in half a surrogate pair.
  const content = Array.from(message.content).slice(0, PREVIEW_LENGTH).join('');
  return { id: message.id, role: message.role, content, status: message.status, createdAt: message.createdAt };
}
