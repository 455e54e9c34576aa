import type { Message, Problem, StreamEventOf, TurnResult } from '@parley/api-types';
import type { TurnEvent } from '@parley/client';
import { messageFixture, problemFixture } from '../test-fixtures';

/** A reply stream the test feeds one event at a time, as a server would (an Error cuts it). */
export function controlledStream() {
  const queue: (TurnEvent | Error | 'end')[] = [];
  let wake: (() => void) | undefined;
  async function* events(): AsyncGenerator<TurnEvent> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const next = queue.shift()!;
      if (next === 'end') return;
      if (next instanceof Error) throw next;
      yield next;
    }
  }
  const push = (item: TurnEvent | Error | 'end') => {
    queue.push(item);
    wake?.();
  };
  return { events: events(), push };
}

export const ASSISTANT_ID = '22222222-2222-4222-8222-222222222222';

// Opaque to the app; unique, as the server's are.
let counter = 0;
const eventId = (messageId: string) => `${messageId}:${counter}.${++counter}`;

/** The reply `turn_started` announces: stored, pending, answering `user`. */
export function pendingReply(user: Message, id = ASSISTANT_ID): Message {
  return messageFixture(user.seq + 1, { id, role: 'assistant', content: '', status: 'pending', replyToId: user.id });
}

export function turnStartedEvent(user: Message, reply: Message = pendingReply(user)): TurnEvent {
  const event: StreamEventOf<'turn_started'> = {
    type: 'turn_started',
    chatId: user.chatId,
    userMessage: user,
    assistantMessage: reply,
  };
  return { id: eventId(reply.id), event };
}

export function deltaEvent(text: string, messageId = ASSISTANT_ID): TurnEvent {
  return { id: eventId(messageId), event: { type: 'delta', messageId, text } };
}

export function providerEvent(demo: boolean, messageId = ASSISTANT_ID): TurnEvent {
  return {
    id: eventId(messageId),
    event: { type: 'provider', messageId, provider: demo ? 'demo' : 'gemini', model: 'm', demo, failover: false },
  };
}

export function retryEvent(attempt: number, messageId = ASSISTANT_ID): TurnEvent {
  return {
    id: eventId(messageId),
    event: { type: 'retry', messageId, attempt, delayMs: 250, reason: 'provider_unavailable' },
  };
}

export function doneEvent(user: Message, content: string, overrides: Partial<TurnResult> = {}): TurnEvent {
  const assistantMessage = messageFixture(user.seq + 1, {
    id: ASSISTANT_ID,
    role: 'assistant',
    content,
    replyToId: user.id,
    provider: 'demo',
  });
  const result: TurnResult = {
    userMessage: user,
    assistantMessage,
    usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
    retries: 0,
    provider: 'demo',
    model: 'parley-demo',
    degraded: false,
    tokenBalance: 985,
    ...overrides,
  };
  return { id: eventId(ASSISTANT_ID), event: { type: 'done', messageId: result.assistantMessage.id, result } };
}

export function errorEvent(overrides: Partial<Problem>, messageId = ASSISTANT_ID): TurnEvent {
  return { id: eventId(messageId), event: { type: 'error', messageId, problem: problemFixture(overrides) } };
}
