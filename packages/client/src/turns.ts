import type { Message } from '@parley/api-types';
import type { ParleyClient } from './client.js';
import { ApiError, NetworkError } from './errors.js';
import { readTurnEvents, type TurnEvent } from './turn-events.js';

/** A streamed turn: the response (its `X-Request-Id`, `RateLimit` headers) and its events. */
export interface TurnStream {
  response: Response;
  events: AsyncGenerator<TurnEvent, void, undefined>;
}

export interface StreamOptions {
  /** The `id` of the last event received: the stream resumes after it. */
  lastEventId?: string;
  /** Aborting closes the connection; it never stops the reply (use `cancelMessage` for that). */
  signal?: AbortSignal;
}

export interface SendMessageStreamParams extends StreamOptions {
  chatId: string;
  content: string;
  /** Required: keep it until the turn ends, to repeat the request safely. */
  idempotencyKey: string;
}

export interface RegenerateMessageStreamParams extends StreamOptions {
  chatId: string;
  /** The reply to generate again: the chat's latest, finished. */
  messageId: string;
  idempotencyKey: string;
}

export interface EditMessageStreamParams extends StreamOptions {
  chatId: string;
  /** The user message to edit: a new sibling with `content` is stored, and a reply to it streams. */
  messageId: string;
  content: string;
  idempotencyKey: string;
}

export interface ContinueMessageStreamParams extends StreamOptions {
  chatId: string;
  /** The reply to continue: the active leaf, cut off (`max_tokens`) or stopped with text. */
  messageId: string;
  idempotencyKey: string;
}

export interface FollowMessageParams extends StreamOptions {
  chatId: string;
  messageId: string;
}

export interface CancelMessageParams {
  chatId: string;
  messageId: string;
  signal?: AbortSignal;
}

const ACCEPT_STREAM = { Accept: 'text/event-stream' } as const;

type Answer<T> = Promise<{ data?: T; error?: unknown; response: Response }>;

/** Awaits a call; a failure to get any answer becomes a NetworkError (an abort stays an abort). */
async function reach<T>(call: Answer<T>, signal: AbortSignal | undefined) {
  try {
    return await call;
  } catch (error) {
    signal?.throwIfAborted();
    if (error instanceof Error && error.name === 'AbortError') throw error;
    throw new NetworkError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

async function opened(
  call: Answer<ReadableStream<Uint8Array> | null>,
  signal: AbortSignal | undefined,
): Promise<TurnStream> {
  const { data, error, response } = await reach(call, signal);
  if (error !== undefined || !response.ok) throw ApiError.fromResponse(response, error);
  if (!data) throw new NetworkError('the stream had no body');
  return { response, events: readTurnEvents(data, signal) };
}

/**
 * `sendMessageStream`: sends a message and streams the turn. Keep the `idempotencyKey` until the
 * turn ends: repeating the call with it (and `lastEventId`) follows the same turn instead of
 * sending the message again. Errors before the turn starts throw an `ApiError`.
 */
export function sendMessageStream(client: ParleyClient, params: SendMessageStreamParams): Promise<TurnStream> {
  const { chatId, content, idempotencyKey, lastEventId, signal } = params;
  return opened(
    client.POST('/api/v1/chats/{chatId}/messages/stream', {
      params: { path: { chatId }, header: { 'Idempotency-Key': idempotencyKey, 'Last-Event-ID': lastEventId } },
      headers: ACCEPT_STREAM,
      body: { content },
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/** `regenerateMessageStream`: generates the reply `messageId` again and streams the new one. */
export function regenerateMessageStream(
  client: ParleyClient,
  params: RegenerateMessageStreamParams,
): Promise<TurnStream> {
  const { chatId, messageId, idempotencyKey, lastEventId, signal } = params;
  return opened(
    client.POST('/api/v1/chats/{chatId}/messages/{messageId}/regenerate/stream', {
      params: {
        path: { chatId, messageId },
        header: { 'Idempotency-Key': idempotencyKey, 'Last-Event-ID': lastEventId },
      },
      headers: ACCEPT_STREAM,
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/** `editMessageStream`: stores an edited copy of a user message and streams the reply to it. */
export function editMessageStream(client: ParleyClient, params: EditMessageStreamParams): Promise<TurnStream> {
  const { chatId, messageId, content, idempotencyKey, lastEventId, signal } = params;
  return opened(
    client.POST('/api/v1/chats/{chatId}/messages/{messageId}/edit/stream', {
      params: {
        path: { chatId, messageId },
        header: { 'Idempotency-Key': idempotencyKey, 'Last-Event-ID': lastEventId },
      },
      headers: ACCEPT_STREAM,
      body: { content },
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/** `continueMessageStream`: asks the model to go on where the reply `messageId` ended; the text is appended to it. */
export function continueMessageStream(client: ParleyClient, params: ContinueMessageStreamParams): Promise<TurnStream> {
  const { chatId, messageId, idempotencyKey, lastEventId, signal } = params;
  return opened(
    client.POST('/api/v1/chats/{chatId}/messages/{messageId}/continue/stream', {
      params: {
        path: { chatId, messageId },
        header: { 'Idempotency-Key': idempotencyKey, 'Last-Event-ID': lastEventId },
      },
      headers: ACCEPT_STREAM,
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/**
 * `followMessage`: re-attaches to a reply. Without `lastEventId` it starts with `turn_started`
 * and then the whole text so far as one `delta`; with it, it resumes after that event.
 */
export function followMessage(client: ParleyClient, params: FollowMessageParams): Promise<TurnStream> {
  const { chatId, messageId, lastEventId, signal } = params;
  return opened(
    client.GET('/api/v1/chats/{chatId}/messages/{messageId}/stream', {
      params: { path: { chatId, messageId }, header: { 'Last-Event-ID': lastEventId } },
      headers: ACCEPT_STREAM,
      parseAs: 'stream',
      signal,
    }),
    signal,
  );
}

/** `cancelMessage`: stops a reply; answers it as it now is (`cancelled`, its text kept). */
export async function cancelMessage(client: ParleyClient, params: CancelMessageParams): Promise<Message> {
  const { chatId, messageId, signal } = params;
  const { data, error, response } = await reach(
    client.POST('/api/v1/chats/{chatId}/messages/{messageId}/cancel', {
      params: { path: { chatId, messageId } },
      signal,
    }),
    signal,
  );
  if (error !== undefined || !response.ok || !data) throw ApiError.fromResponse(response, error);
  return data;
}
