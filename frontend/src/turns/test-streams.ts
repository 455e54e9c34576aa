import type { Message, Problem, StreamEvent, TurnResult } from '@parley/api-types';
import { messageFixture, problemFixture } from '../test-fixtures';

/** A stream of server-sent events the test feeds one by one, as a server would. */
export function controlledStream() {
  const queue: (StreamEvent | Error | 'end')[] = [];
  let wake: (() => void) | undefined;
  async function* events(): AsyncGenerator<StreamEvent> {
    for (;;) {
      while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      const next = queue.shift()!;
      if (next === 'end') return;
      if (next instanceof Error) throw next;
      yield next;
    }
  }
  const push = (item: StreamEvent | Error | 'end') => {
    queue.push(item);
    wake?.();
  };
  return { events: events(), push };
}

let counter = 0;
const eventId = (messageId: string) => `${messageId}:${counter}.${counter++}`;

export const ASSISTANT_ID = '22222222-2222-4222-8222-222222222222';

export function userMessageEvent(message: Message): StreamEvent {
  return { id: eventId(ASSISTANT_ID), event: 'user_message', data: { message } };
}

export function deltaEvent(text: string, messageId = ASSISTANT_ID): StreamEvent {
  return { id: eventId(messageId), event: 'delta', data: { messageId, text } };
}

export function providerEvent(demo: boolean): StreamEvent {
  return {
    id: eventId(ASSISTANT_ID),
    event: 'provider',
    data: { provider: demo ? 'demo' : 'gemini', model: 'm', demo, failover: false },
  };
}

export function doneEvent(user: Message, content: string, overrides: Partial<TurnResult> = {}): StreamEvent {
  const assistantMessage = messageFixture(user.seq + 1, {
    id: ASSISTANT_ID,
    role: 'assistant',
    content,
    replyToId: user.id,
    provider: 'demo',
  });
  return {
    id: eventId(ASSISTANT_ID),
    event: 'done',
    data: {
      userMessage: user,
      assistantMessage,
      usage: { promptTokens: 10, completionTokens: 5, totalTokens: 15 },
      retries: 0,
      provider: 'demo',
      model: 'parley-demo',
      degraded: false,
      tokenBalance: 985,
      ...overrides,
    },
  };
}

export function errorEvent(overrides: Partial<Problem>): StreamEvent {
  return { id: eventId(ASSISTANT_ID), event: 'error', data: problemFixture(overrides) };
}
