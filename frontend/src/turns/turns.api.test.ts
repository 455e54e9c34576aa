import {
  cancelMessage,
  continueMessageStream,
  editMessageStream,
  followMessage,
  regenerateMessageStream,
  sendMessageStream,
  type TurnStream,
} from '@parley/client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { api } from '../api/client';
import { messageFixture } from '../test-fixtures';
import { controlledStream } from './test-streams';
import { cancelReply, continueMessage, editMessage, followReply, regenerateMessage, sendMessage } from './turns.api';

vi.mock('@parley/client', async (importOriginal) => ({
  ...(await importOriginal<typeof import('@parley/client')>()),
  cancelMessage: vi.fn(),
  continueMessageStream: vi.fn(),
  editMessageStream: vi.fn(),
  followMessage: vi.fn(),
  regenerateMessageStream: vi.fn(),
  sendMessageStream: vi.fn(),
}));

const CHAT = 'chat-1';
const signal = new AbortController().signal;

/** An opened stream, as the client answers it: the response and its events. */
function opened(): TurnStream {
  return { response: new Response(null), events: controlledStream().events };
}

describe('turns.api', () => {
  afterEach(() => {
    vi.resetAllMocks();
  });

  it.each([
    ['sendMessage', sendMessage, sendMessageStream, { content: 'Hello', idempotencyKey: 'k' }],
    ['regenerateMessage', regenerateMessage, regenerateMessageStream, { messageId: 'm', idempotencyKey: 'k' }],
    ['editMessage', editMessage, editMessageStream, { messageId: 'm', content: 'Hi', idempotencyKey: 'k' }],
    ['continueMessage', continueMessage, continueMessageStream, { messageId: 'm', idempotencyKey: 'k' }],
    ['followReply', followReply, followMessage, { messageId: 'm' }],
  ] as const)(
    '%s opens its stream on the app’s client and answers its events',
    async (_name, operation, call, fields) => {
      const stream = opened();
      const client = vi.mocked(call as typeof sendMessageStream);
      client.mockResolvedValue(stream);
      const params = { chatId: CHAT, ...fields, lastEventId: 'e-1', signal } as Parameters<typeof sendMessage>[0];

      const events = await (operation as typeof sendMessage)(params);

      expect(client).toHaveBeenCalledWith(api, params);
      expect(events).toBe(stream.events);
    },
  );

  it('cancelReply stops the reply on the app’s client and answers it as it now is', async () => {
    const stopped = messageFixture(3, { status: 'cancelled' });
    vi.mocked(cancelMessage).mockResolvedValue(stopped);

    expect(await cancelReply(CHAT, stopped.id)).toBe(stopped);
    expect(cancelMessage).toHaveBeenCalledWith(api, { chatId: CHAT, messageId: stopped.id });
  });
});
