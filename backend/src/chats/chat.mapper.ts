import type { Chat, Message, MessagePreview } from '@parley/api-types';
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
    lastMessage: chat.lastMessage ? toPreview(chat.lastMessage) : null,
  };
}

export function toMessageDto(message: MessageEntity): Message {
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
    provider: message.provider,
    model: message.model,
    degraded: message.degraded,
    usage: hasUsage ? { promptTokens, completionTokens, totalTokens: promptTokens + completionTokens } : null,
    attempts: message.attempts,
    createdAt: message.createdAt.toISOString(),
    updatedAt: message.updatedAt.toISOString(),
  };
}

function toPreview(message: MessageEntity): MessagePreview {
  // Cut by code points so a preview never ends in half a surrogate pair.
  const content = Array.from(message.content).slice(0, PREVIEW_LENGTH).join('');
  return {
    id: message.id,
    role: message.role,
    content,
    status: message.status,
    createdAt: message.createdAt.toISOString(),
  };
}
