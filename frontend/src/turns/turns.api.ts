import type { Message, StreamEvent } from '@parley/api-types';
import { api } from '../api/client';
import { NetworkError, toApiError } from '../api/problem';
import { readEvents } from '../api/sse';

const STREAM = { Accept: 'text/event-stream' } as const;

/** Turns a thrown fetch failure into a NetworkError; an abort stays an abort. */
async function reach<T>(request: Promise<T>, signal: AbortSignal): Promise<T> {
  try {
    return await request;
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  }
}

/** The events of a stream; a connection cut mid-body ends it with a NetworkError. */
async function* events(body: ReadableStream<Uint8Array>, signal: AbortSignal): AsyncGenerator<StreamEvent> {
  try {
    yield* readEvents(body);
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    if (error instanceof SyntaxError) throw error;
    throw new NetworkError(error instanceof Error ? error.message : String(error));
  }
}

/** The events of a streamed answer; an error answer (before any event) throws an ApiError. */
async function opened(
  request: Promise<{ data?: ReadableStream<Uint8Array> | null; error?: unknown; response: Response }>,
  signal: AbortSignal,
) {
  const { data, error, response } = await reach(request, signal);
  if (error !== undefined || !response.ok || !data) throw toApiError(error, response);
  return events(data, signal);
}

/** Sends a message and streams the reply (`sendMessage`). */
export function sendMessage(chatId: string, content: string, idempotencyKey: string, signal: AbortSignal) {
  return opened(
    api.POST('/api/chats/{chatId}/messages', {
      params: { path: { chatId }, header: { 'Idempotency-Key': idempotencyKey } },
      headers: STREAM,
      body: { content },
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/** Generates a reply again (`regenerateMessage`), streaming it. */
export function regenerateMessage(chatId: string, messageId: string, idempotencyKey: string, signal: AbortSignal) {
  return opened(
    api.POST('/api/chats/{chatId}/messages/{messageId}/regenerate', {
      params: { path: { chatId, messageId }, header: { 'Idempotency-Key': idempotencyKey } },
      headers: STREAM,
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/** Re-attaches to a reply (`streamMessage`), after `lastEventId` when given. */
export function followReply(chatId: string, messageId: string, lastEventId: string | undefined, signal: AbortSignal) {
  return opened(
    api.GET('/api/chats/{chatId}/messages/{messageId}/stream', {
      params: { path: { chatId, messageId }, header: lastEventId ? { 'Last-Event-ID': lastEventId } : {} },
      headers: STREAM,
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/** Stops a reply (`cancelMessage`); answers the reply as it now is. */
export async function cancelReply(chatId: string, messageId: string): Promise<Message> {
  const controller = new AbortController();
  const { data, error, response } = await reach(
    api.POST('/api/chats/{chatId}/messages/{messageId}/cancel', { params: { path: { chatId, messageId } } }),
    controller.signal,
  );
  if (error !== undefined || !response.ok) throw toApiError(error, response);
  return data;
}
