import type { Alternatives, Chat, FinishReason, Message, MessagePreview } from '@parley/api-types';
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

// Why a reply ended (specs/009-conversation-tree): read from the status, and for a complete
// reply from what the provider said (stored in metadata when the reply was committed).
export function finishReasonOf(message: MessageEntity): FinishReason | null {
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
      return message.metadata?.finishReason === 'max_tokens' || message.metadata?.finishReason === 'tool_limit'
        ? message.metadata.finishReason
        : 'stop';
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
