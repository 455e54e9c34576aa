import type { StreamEvent } from '@parley/api-types';
import { NetworkError } from '@parley/client';
import {
  continueMessage,
  editMessage,
  followReply,
  regenerateMessage,
  sendMessage,
  type TurnEvents,
} from './turns.api';

/**
 * What a turn asks of the server: a new message, a new version of a reply, an edited copy of a
 * user message (with a reply to it), more text for a cut-off reply, or following one.
 */
export type TurnRequest =
  | { kind: 'send'; chatId: string; content: string; idempotencyKey: string }
  | { kind: 'regenerate'; chatId: string; messageId: string; idempotencyKey: string }
  | { kind: 'edit'; chatId: string; messageId: string; content: string; idempotencyKey: string }
  | { kind: 'continue'; chatId: string; messageId: string; idempotencyKey: string }
  | { kind: 'follow'; chatId: string; messageId: string };

export interface TurnRunOptions {
  signal: AbortSignal;
  /** Every event once, in order, across re-sends and re-attaches. */
  onEvent: (event: StreamEvent) => void;
  /** The connection was lost after the turn started; the reply is being re-attached. */
  onReconnecting: () => void;
  /** Waits before re-sending, with the same Idempotency-Key, a request that got no answer. */
  resendDelaysMs: readonly number[];
  /** Waits between re-attaching attempts (the last one repeats). */
  reconnectDelaysMs: readonly number[];
}

export type TurnOutcome =
  /** The terminal event (`done` or `error`) was delivered. */
  | { kind: 'ended' }
  /** The signal was aborted: the page left, or the turn was stopped. */
  | { kind: 'aborted' }
  /** Nothing started: refused by the server (`answered`), or no answer even after re-sending. */
  | { kind: 'unsent'; error: unknown; answered: boolean }
  /** It started, then re-attaching failed for good (the reply is gone, or access was lost). */
  | { kind: 'lost'; error: unknown };

// Ends at once on a stop, also one made before the wait began (an aborted signal fires no more).
const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });

function online(signal: AbortSignal): Promise<void> {
  if (typeof navigator === 'undefined' || navigator.onLine !== false) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      window.removeEventListener('online', done);
      resolve();
    };
    window.addEventListener('online', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

function open(request: TurnRequest, lastEventId: string | undefined, signal: AbortSignal): Promise<TurnEvents> {
  switch (request.kind) {
    case 'send':
      return sendMessage({ ...request, lastEventId, signal });
    case 'regenerate':
      return regenerateMessage({ ...request, lastEventId, signal });
    case 'edit':
      return editMessage({ ...request, lastEventId, signal });
    case 'continue':
      return continueMessage({ ...request, lastEventId, signal });
    case 'follow':
      return followReply({ ...request, lastEventId, signal });
  }
}

/**
 * Carries one turn to its terminal event over a connection that may fail. Before the turn has
 * started, a request that got no answer is sent again with the same Idempotency-Key (the server
 * stores the message once, and a repeat follows the first request's reply). Once it has started
 * (`turn_started` names the reply), a lost connection is re-attached with `followMessage` from
 * the last event received, after the browser is back online, with backoff.
 */
export async function runTurn(request: TurnRequest, options: TurnRunOptions): Promise<TurnOutcome> {
  const { signal, resendDelaysMs, reconnectDelaysMs } = options;
  let replyId = request.kind === 'follow' ? request.messageId : null;
  let lastEventId: string | undefined;
  let next = request;
  let resends = 0;
  let reconnects = 0;
  for (;;) {
    try {
      const events = await open(next, lastEventId, signal);
      reconnects = 0;
      for await (const { id, event } of events) {
        if (signal.aborted) return { kind: 'aborted' };
        if (id) lastEventId = id;
        if (event.type === 'turn_started') replyId = event.assistantMessage.id;
        options.onEvent(event);
        if (event.type === 'done' || event.type === 'error') return { kind: 'ended' };
      }
      throw new NetworkError('the stream ended before its terminal event');
    } catch (error) {
      if (signal.aborted) return { kind: 'aborted' };
      if (!(error instanceof NetworkError)) {
        return replyId === null ? { kind: 'unsent', error, answered: true } : { kind: 'lost', error };
      }
      if (replyId === null) {
        if (resends === resendDelaysMs.length) return { kind: 'unsent', error, answered: false };
        await sleep(resendDelaysMs[resends++]!, signal);
        continue;
      }
      options.onReconnecting();
      await online(signal);
      await sleep(reconnectDelaysMs[Math.min(reconnects++, reconnectDelaysMs.length - 1)]!, signal);
      next = { kind: 'follow', chatId: request.chatId, messageId: replyId };
    }
  }
}
