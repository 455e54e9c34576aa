import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { StreamEvent, StreamEventType } from '@parley/api-types';
import { NetworkError, StreamFormatError } from './errors.js';

/** One server-sent event of a turn: its `id` (send it back as `Last-Event-ID`) and its data. */
export interface TurnEvent {
  id: string;
  event: StreamEvent;
}

// Exhaustive over the contract's event types: a new type there does not compile until listed.
// Types not listed (added by a newer server within v1) are skipped, as the contract asks.
const KNOWN_TYPES = {
  turn_started: true,
  provider: true,
  retry: true,
  delta: true,
  tool_call: true,
  tool_result: true,
  done: true,
  error: true,
} satisfies Record<StreamEventType, true>;

const isTerminal = (event: StreamEvent) => event.type === 'done' || event.type === 'error';

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

function toTurnEvent(message: EventSourceMessage): TurnEvent | undefined {
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch (cause) {
    throw new StreamFormatError(`the data of event ${JSON.stringify(message.id)} is not JSON`, { cause });
  }
  const type = typeof data === 'object' && data !== null ? (data as { type?: unknown }).type : undefined;
  // The `event` field repeats the data's `type`: a difference means the stream is not a turn's.
  if (typeof type !== 'string' || type !== message.event) {
    throw new StreamFormatError(`an event named ${JSON.stringify(message.event)} carries ${JSON.stringify(type)} data`);
  }
  if (!Object.hasOwn(KNOWN_TYPES, type)) return undefined;
  return { id: message.id ?? '', event: data as StreamEvent };
}

/**
 * Reads a turn's server-sent events from a response body (`sendMessageStream`,
 * `regenerateMessageStream`, `followMessage`). Comments (`: keep-alive`) are skipped. It ends
 * after the terminal event (`done` or `error`) and lets go of the body; a body that ends or
 * fails before it throws a `NetworkError` (re-attach with the last `id`), and one that breaks the
 * event format throws a `StreamFormatError`. Aborting `signal` cancels the body and throws its
 * reason. Leaving the loop early cancels the body too.
 */
export async function* readTurnEvents(
  body: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): AsyncGenerator<TurnEvent, void, undefined> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parsed: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => parsed.push(message) });
  const onAbort = () => void reader.cancel(signal?.reason).catch(() => undefined);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    signal?.throwIfAborted();
    for (;;) {
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (error) {
        signal?.throwIfAborted();
        if (isAbort(error)) throw error;
        throw new NetworkError('the connection was lost during the stream', { cause: error });
      }
      // Cancelling on abort ends a pending read as if the body had ended.
      signal?.throwIfAborted();
      parser.feed(chunk.done ? decoder.decode() : decoder.decode(chunk.value, { stream: true }));
      for (const message of parsed.splice(0)) {
        const event = toTurnEvent(message);
        if (!event) continue;
        yield event;
        if (isTerminal(event.event)) return;
      }
      if (chunk.done) throw new NetworkError('the stream ended before its terminal event');
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // After the terminal event, an early exit or a failure: nothing more is wanted from the body.
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
