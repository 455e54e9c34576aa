import type { StreamEvent } from '@parley/api-types';
import { ApiError, NetworkError, type TurnEvent } from '@parley/client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { messageFixture, problemFixture } from '../test-fixtures';
import {
  ASSISTANT_ID,
  controlledStream,
  deltaEvent,
  doneEvent,
  errorEvent,
  providerEvent,
  turnStartedEvent,
} from './test-streams';
import { runTurn, type TurnOutcome, type TurnRequest, type TurnRunOptions } from './turn-runner';
import {
  continueMessage,
  editMessage,
  followReply,
  regenerateMessage,
  sendMessage,
  type TurnEvents,
} from './turns.api';

// Every export becomes a vi.fn(); each test says what the server does.
vi.mock('./turns.api');

const send = vi.mocked(sendMessage);
const follow = vi.mocked(followReply);

const CHAT = 'chat-1';
const user = messageFixture(2, { id: 'user-2', role: 'user', content: 'Hello' });
const SEND: TurnRequest = { kind: 'send', chatId: CHAT, content: 'Hello', idempotencyKey: 'key-1' };
const FOLLOW: TurnRequest = { kind: 'follow', chatId: CHAT, messageId: ASSISTANT_ID };

/** Lets pending promises and stream reads run. */
const settle = () => vi.advanceTimersByTimeAsync(0);

/** Starts a turn; the outcome is read once it has ended (undefined until then). */
function start(request: TurnRequest, options: Partial<TurnRunOptions> = {}) {
  const controller = new AbortController();
  const seen: StreamEvent[] = [];
  const onReconnecting = vi.fn();
  let outcome: TurnOutcome | undefined;
  void runTurn(request, {
    signal: controller.signal,
    onEvent: (event) => seen.push(event),
    onReconnecting,
    resendDelaysMs: [500, 1500],
    reconnectDelaysMs: [100, 1000],
    ...options,
  }).then((ended) => (outcome = ended));
  return { controller, seen, onReconnecting, outcome: () => outcome };
}

/** A send whose stream has delivered `turn_started`: from here a lost connection is re-attached. */
async function startedTurn(options: Partial<TurnRunOptions> = {}) {
  const stream = controlledStream();
  send.mockResolvedValueOnce(stream.events);
  const turn = start(SEND, options);
  const started = turnStartedEvent(user);
  stream.push(started);
  await settle();
  return { ...turn, stream, started };
}

/**
 * A server behind the client: as the client does, a request whose signal is already aborted fails
 * at once and never reaches it. Counts the requests that did.
 */
function serverAnswering(answer: () => Promise<TurnEvents>) {
  let reached = 0;
  const open = async ({ signal }: { signal?: AbortSignal }) => {
    signal?.throwIfAborted();
    reached += 1;
    return answer();
  };
  return { open, reached: () => reached };
}

const offline = () => vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);

describe(runTurn.name, () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.resetAllMocks();
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  describe('opening', () => {
    const cases: [TurnRequest, (params: never) => Promise<TurnEvents>][] = [
      [SEND, sendMessage],
      [{ kind: 'regenerate', chatId: CHAT, messageId: ASSISTANT_ID, idempotencyKey: 'key-2' }, regenerateMessage],
      [
        { kind: 'edit', chatId: CHAT, messageId: user.id, content: 'Hello again', idempotencyKey: 'key-3' },
        editMessage,
      ],
      [{ kind: 'continue', chatId: CHAT, messageId: ASSISTANT_ID, idempotencyKey: 'key-4' }, continueMessage],
      [FOLLOW, followReply],
    ];

    it.each(cases.map(([request, operation]) => [request.kind, request, operation] as const))(
      'opens a %s turn with its own request, from the start',
      async (_kind, request, operation) => {
        const opened = vi.mocked(operation);
        opened.mockResolvedValue(controlledStream().events);
        const { controller } = start(request);
        await settle();

        expect(opened).toHaveBeenCalledTimes(1);
        expect(opened).toHaveBeenCalledWith({ ...request, lastEventId: undefined, signal: controller.signal });
        const others = [sendMessage, regenerateMessage, editMessage, continueMessage, followReply].filter(
          (other) => other !== operation,
        );
        for (const other of others) expect(other).not.toHaveBeenCalled();
      },
    );
  });

  describe('the stream', () => {
    it('delivers each event once, in order, and ends with done without re-attaching when the stream closes', async () => {
      const { stream, seen, started, outcome, onReconnecting } = await startedTurn();
      const rest = [providerEvent(true), deltaEvent('Aye.'), doneEvent(user, 'Aye.')];
      for (const event of rest) stream.push(event);
      stream.push('end');
      await vi.advanceTimersByTimeAsync(10_000);

      expect(outcome()).toEqual({ kind: 'ended' });
      expect(seen).toEqual([started, ...rest].map((e) => e.event));
      expect(onReconnecting).not.toHaveBeenCalled();
      expect(follow).not.toHaveBeenCalled();
      expect(send).toHaveBeenCalledTimes(1);
    });

    it('ends with an error event too, without re-attaching when the stream closes', async () => {
      const { stream, seen, outcome } = await startedTurn();
      const failed = errorEvent({ status: 503, code: 'provider_unavailable', retryable: true });
      stream.push(failed);
      stream.push('end');
      await vi.advanceTimersByTimeAsync(10_000);

      expect(outcome()).toEqual({ kind: 'ended' });
      expect(seen.at(-1)).toEqual(failed.event);
      expect(follow).not.toHaveBeenCalled();
    });
  });

  describe('re-sending (before the turn started)', () => {
    it('sends a request that got no answer again with the same key after each wait, then gives up', async () => {
      const offlineError = new NetworkError('offline');
      send.mockRejectedValue(offlineError);
      const { outcome, onReconnecting } = start(SEND);
      await settle();
      expect(send).toHaveBeenCalledTimes(1);

      await vi.advanceTimersByTimeAsync(499);
      expect(send).toHaveBeenCalledTimes(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(send).toHaveBeenCalledTimes(2);
      await vi.advanceTimersByTimeAsync(1499);
      expect(send).toHaveBeenCalledTimes(2);
      expect(outcome()).toBeUndefined();
      await vi.advanceTimersByTimeAsync(1);

      expect(send).toHaveBeenCalledTimes(3);
      expect(send.mock.calls.map(([params]) => params.idempotencyKey)).toEqual(['key-1', 'key-1', 'key-1']);
      expect(outcome()).toEqual({ kind: 'unsent', error: offlineError, answered: false });
      expect(onReconnecting).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(10_000);
      expect(send).toHaveBeenCalledTimes(3);
    });

    it('sends again when the stream closes before the turn started (not at once: after the wait)', async () => {
      const closed = controlledStream();
      const again = controlledStream();
      send.mockResolvedValueOnce(closed.events).mockResolvedValueOnce(again.events);
      const { outcome, seen } = start(SEND);
      closed.push('end');
      await settle();
      expect(send).toHaveBeenCalledTimes(1);

      await vi.advanceTimersByTimeAsync(500);
      expect(send).toHaveBeenCalledTimes(2);
      expect(send.mock.calls[1]![0].idempotencyKey).toBe('key-1');
      again.push(turnStartedEvent(user));
      again.push(doneEvent(user, 'Hi.'));
      await settle();

      expect(outcome()).toEqual({ kind: 'ended' });
      expect(seen.map((e) => e.type)).toEqual(['turn_started', 'done']);
    });

    it('does not send a refused request again: unsent, answered', async () => {
      const refused = new ApiError(422, problemFixture({ status: 422, code: 'content_blocked' }), 'r');
      send.mockRejectedValue(refused);
      const { outcome } = start(SEND);
      await vi.advanceTimersByTimeAsync(10_000);

      expect(send).toHaveBeenCalledTimes(1);
      expect(outcome()).toEqual({ kind: 'unsent', error: refused, answered: true });
    });
  });

  describe('re-attaching (after the turn started)', () => {
    it('follows the reply from the last event id after the stream closes before its terminal event', async () => {
      const { stream, seen, outcome, onReconnecting } = await startedTurn();
      const text = deltaEvent('One, ');
      // An event the server sent without an id: the last id stays the one to resume from.
      const unnamed: TurnEvent = { ...providerEvent(true), id: '' };
      stream.push(text);
      stream.push(unnamed);
      stream.push('end');
      await settle();
      expect(onReconnecting).toHaveBeenCalledTimes(1);
      expect(follow).not.toHaveBeenCalled();

      const resumed = controlledStream();
      follow.mockResolvedValue(resumed.events);
      await vi.advanceTimersByTimeAsync(100);
      expect(follow).toHaveBeenCalledTimes(1);
      expect(follow.mock.calls[0]![0]).toMatchObject({ chatId: CHAT, messageId: ASSISTANT_ID, lastEventId: text.id });
      expect(send).toHaveBeenCalledTimes(1);

      const rest = [deltaEvent('two.'), doneEvent(user, 'One, two.')];
      for (const event of rest) resumed.push(event);
      await settle();
      expect(outcome()).toEqual({ kind: 'ended' });
      expect(seen.map((e) => e.type)).toEqual(['turn_started', 'delta', 'provider', 'delta', 'done']);
    });

    it('waits longer after each failed attempt (the last wait repeats), and from the start once re-attached', async () => {
      const { stream, onReconnecting } = await startedTurn();
      const second = controlledStream();
      follow
        .mockRejectedValueOnce(new NetworkError('offline'))
        .mockRejectedValueOnce(new NetworkError('offline'))
        .mockResolvedValueOnce(second.events)
        .mockResolvedValue(controlledStream().events);
      stream.push(new NetworkError('connection reset'));
      await settle();

      const followsAfter = async (ms: number) => {
        await vi.advanceTimersByTimeAsync(ms);
        return follow.mock.calls.length;
      };
      expect(await followsAfter(99)).toBe(0);
      expect(await followsAfter(1)).toBe(1);
      expect(await followsAfter(999)).toBe(1);
      expect(await followsAfter(1)).toBe(2);
      expect(await followsAfter(999)).toBe(2);
      expect(await followsAfter(1)).toBe(3);

      // Re-attached, then cut again: the first wait again.
      const text = deltaEvent('More');
      second.push(text);
      second.push(new NetworkError('connection reset'));
      await settle();
      expect(await followsAfter(99)).toBe(3);
      expect(await followsAfter(1)).toBe(4);
      expect(follow.mock.calls[3]![0].lastEventId).toBe(text.id);
      expect(onReconnecting).toHaveBeenCalledTimes(4);
    });

    it('is lost when re-attaching is refused (the reply is gone)', async () => {
      const { stream, outcome } = await startedTurn();
      const gone = new ApiError(404, problemFixture({ code: 'message_not_found' }), 'r');
      follow.mockRejectedValue(gone);
      stream.push(new NetworkError('connection reset'));
      await vi.advanceTimersByTimeAsync(100);

      expect(outcome()).toEqual({ kind: 'lost', error: gone });
    });

    it('re-attaches a followed reply whose first connection failed, rather than re-sending it', async () => {
      const resumed = controlledStream();
      follow.mockRejectedValueOnce(new NetworkError('offline')).mockResolvedValueOnce(resumed.events);
      const { outcome, onReconnecting } = start(FOLLOW);
      await settle();
      expect(onReconnecting).toHaveBeenCalledTimes(1);

      await vi.advanceTimersByTimeAsync(100);
      expect(follow).toHaveBeenCalledTimes(2);
      expect(follow.mock.calls[1]![0]).toMatchObject({ chatId: CHAT, messageId: ASSISTANT_ID, lastEventId: undefined });
      resumed.push(doneEvent(user, 'Hi.'));
      await settle();
      expect(outcome()).toEqual({ kind: 'ended' });
    });

    it('a followed reply that is gone is lost, not unsent', async () => {
      const gone = new ApiError(404, problemFixture({ code: 'message_not_found' }), 'r');
      follow.mockRejectedValue(gone);
      const { outcome } = start(FOLLOW);
      await settle();

      expect(outcome()).toEqual({ kind: 'lost', error: gone });
    });

    it('waits for the browser to be back online before re-attaching', async () => {
      const isOffline = offline();
      const { stream, onReconnecting } = await startedTurn();
      follow.mockResolvedValue(controlledStream().events);
      stream.push(new NetworkError('connection reset'));
      await vi.advanceTimersByTimeAsync(60_000);
      expect(onReconnecting).toHaveBeenCalledTimes(1);
      expect(follow).not.toHaveBeenCalled();

      isOffline.mockReturnValue(true);
      window.dispatchEvent(new Event('online'));
      await vi.advanceTimersByTimeAsync(99);
      expect(follow).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(follow).toHaveBeenCalledTimes(1);
    });

    it('re-attaches without waiting for "online" where there is no navigator to ask', async () => {
      const { stream } = await startedTurn();
      vi.stubGlobal('navigator', undefined);
      follow.mockResolvedValue(controlledStream().events);
      stream.push(new NetworkError('connection reset'));
      await vi.advanceTimersByTimeAsync(100);

      expect(follow).toHaveBeenCalledTimes(1);
    });
  });

  describe('stopping', () => {
    it('a stop during the wait before a re-send ends it at once, leaving no timer, and nothing goes out again', async () => {
      const server = serverAnswering(() => Promise.reject(new NetworkError('offline')));
      send.mockImplementation(server.open);
      const { controller, outcome } = start(SEND, { resendDelaysMs: [60_000] });
      await settle();

      controller.abort();
      await settle();

      expect(outcome()).toEqual({ kind: 'aborted' });
      expect(vi.getTimerCount()).toBe(0);
      expect(server.reached()).toBe(1);
    });

    it('a stop during the wait before re-attaching ends it at once, and nothing is re-attached', async () => {
      const { stream, controller, outcome } = await startedTurn({ reconnectDelaysMs: [60_000] });
      const server = serverAnswering(async () => controlledStream().events);
      follow.mockImplementation(server.open);
      stream.push(new NetworkError('connection reset'));
      await settle();

      controller.abort();
      await settle();

      expect(outcome()).toEqual({ kind: 'aborted' });
      expect(vi.getTimerCount()).toBe(0);
      expect(server.reached()).toBe(0);
    });

    it('a stop while waiting to be back online ends the wait, and nothing is re-attached', async () => {
      offline();
      const { stream, controller, outcome } = await startedTurn({ reconnectDelaysMs: [100] });
      const server = serverAnswering(async () => controlledStream().events);
      follow.mockImplementation(server.open);
      stream.push(new NetworkError('connection reset'));
      await vi.advanceTimersByTimeAsync(60_000);
      expect(outcome()).toBeUndefined();

      controller.abort();
      // Still offline: only the stop can end the wait, and the backoff wait after it ends at once
      // too (it begins on a signal already aborted), without any timer running out.
      await settle();

      expect(outcome()).toEqual({ kind: 'aborted' });
      expect(server.reached()).toBe(0);
    });

    it('delivers no event that arrives after the stop', async () => {
      const { stream, controller, seen, outcome } = await startedTurn();
      controller.abort();
      stream.push(deltaEvent('too late'));
      stream.push(doneEvent(user, 'too late'));
      await settle();

      expect(outcome()).toEqual({ kind: 'aborted' });
      expect(seen.map((e) => e.type)).toEqual(['turn_started']);
    });

    it('a request stopped before its answer ends as stopped, not as a refusal', async () => {
      send.mockImplementation(
        ({ signal }) => new Promise((_, reject) => signal?.addEventListener('abort', () => reject(signal.reason))),
      );
      const { controller, outcome } = start(SEND);
      await settle();

      controller.abort();
      await settle();

      expect(outcome()).toEqual({ kind: 'aborted' });
    });
  });
});
