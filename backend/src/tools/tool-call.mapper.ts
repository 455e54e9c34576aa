import type { ToolCall } from '@parley/api-types';
import type { ToolCallEntity } from '../chats/tool-call.entity.js';

export function toToolCallDto(row: ToolCallEntity): ToolCall {
  return {
    id: row.id,
    chatId: row.chatId,
    messageId: row.messageId,
    step: row.step,
    index: row.index,
    toolName: row.toolName,
    arguments: row.parameters as ToolCall['arguments'],
    status: row.status,
    result: row.result ?? null,
    error: row.error,
    idempotent: row.idempotent,
    provider: row.provider,
    attempt: row.attempt,
    startedAt: row.executedAt?.toISOString() ?? null,
    finishedAt: row.finishedAt?.toISOString() ?? null,
    durationMs: row.durationMs,
    createdAt: row.createdAt.toISOString(),
  };
}
