import type { Chat, Message, Problem } from '@parley/api-types';

// Complete, contract-typed objects for tests, so each test states only what it is about.

export function problemFixture(overrides: Partial<Problem> = {}): Problem {
  return {
    type: 'https://parley.example/problems/chat_not_found',
    title: 'Chat not found',
    status: 404,
    code: 'chat_not_found',
    messageKey: 'errors.chat_not_found',
    message: 'Chat not found.',
    retryable: false,
    retryAfterSeconds: null,
    breakerState: null,
    requestId: 'req-0001',
    ...overrides,
  };
}

const messageId = (seq: number) => `00000000-0000-4000-8000-${String(seq).padStart(12, '0')}`;

/** Message `seq` of a single path: its parent is message `seq - 1` (the first is a root). */
export function messageFixture(seq: number, overrides: Partial<Message> = {}): Message {
  const createdAt = new Date(Date.UTC(2025, 0, 1, 12, seq)).toISOString();
  const role = overrides.role ?? (seq % 2 === 1 ? 'user' : 'assistant');
  return {
    id: messageId(seq),
    chatId: '11111111-1111-4111-8111-111111111111',
    seq,
    role,
    content: `Message ${seq}`,
    status: 'complete',
    errorCode: null,
    replyToId: null,
    parentId: seq > 1 ? messageId(seq - 1) : null,
    alternatives: { index: 1, count: 1 },
    finishReason: role === 'assistant' ? 'stop' : null,
    provider: null,
    model: null,
    degraded: false,
    usage: null,
    attempts: 0,
    createdAt,
    updatedAt: createdAt,
    ...overrides,
  };
}

export function chatFixture(id: string, overrides: Partial<Chat> = {}): Chat {
  return {
    id,
    characterId: 'ada-lovelace',
    title: null,
    createdAt: '2025-01-01T12:00:00.000Z',
    updatedAt: '2025-01-01T12:00:00.000Z',
    activeLeafId: null,
    lastMessage: null,
    ...overrides,
  };
}
