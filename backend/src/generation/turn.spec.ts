import { jest } from '@jest/globals';
import type { StreamEvent } from '@parley/api-types';
import { failedAttempt, RecordingSink, REPLY, turnInit } from '../../test/support/turn-fixtures.js';
import { AppError } from '../errors/app-error.js';
import { Turn, type TurnInit } from './turn.js';

function newTurn({ onRetry, ...init }: Partial<TurnInit> & { onRetry?: ConstructorParameters<typeof Turn>[2] } = {}) {
  const sink = new RecordingSink();
  const turn = new Turn(turnInit(init), sink, onRetry);
  return { turn, sink };
}

describe(Turn.name, () => {
  beforeEach(() => jest.useFakeTimers({ now: new Date('2026-11-28T09:00:00Z') }));
  afterEach(() => jest.useRealTimers());

  describe('a continuation', () => {
    it('starts from the reply so far, streams only the new text, and may retry until new text was shown', () => {
      const { turn, sink } = newTurn({ continuation: { prefix: 'Once upon', segment: 1 } });
      expect(turn.text).toBe('Once upon');
      expect(turn.hasStreamedText).toBe(false);
      expect(turn.mayRetry()).toBe(true);

      turn.appendText(' a time');

      expect(turn.text).toBe('Once upon a time');
      expect(turn.hasStreamedText).toBe(true);
      expect(turn.mayRetry()).toBe(false);
      expect(sink.events).toEqual([{ type: 'delta', messageId: REPLY, text: ' a time' }]);
    });
  });

  describe('announceProvider', () => {
    it('publishes the first provider, and another one only when it changes', () => {
      const { turn, sink } = newTurn();
      const gemini = { provider: 'gemini', model: 'gemini-2.5-flash', demo: false, failover: false };
      const openai = { provider: 'openai-compatible', model: 'gpt', demo: false, failover: true };

      turn.announceProvider(gemini);
      turn.announceProvider(gemini);
      turn.announceProvider(openai);
      turn.announceProvider(openai);
      turn.announceProvider({ ...gemini, failover: true });

      expect(sink.events).toEqual([
        { type: 'provider', messageId: REPLY, ...gemini },
        { type: 'provider', messageId: REPLY, ...openai },
        { type: 'provider', messageId: REPLY, ...gemini, failover: true },
      ]);
    });
  });

  describe('appendText', () => {
    it('accumulates the reply and publishes each piece as a delta', () => {
      const { turn, sink } = newTurn();

      turn.appendText('Once ');
      turn.appendText('upon');

      expect(turn.text).toBe('Once upon');
      expect(sink.events).toEqual([
        { type: 'delta', messageId: REPLY, text: 'Once ' },
        { type: 'delta', messageId: REPLY, text: 'upon' },
      ]);
    });

    it('publishes nothing when the piece is empty', () => {
      const { turn, sink } = newTurn();

      turn.appendText('');

      expect(sink.events).toEqual([]);
      expect(turn.hasStreamedText).toBe(false);
    });
  });

  describe('mayRetry', () => {
    it('allows another attempt while no text was shown', () => {
      const { turn } = newTurn();
      turn.appendText('');
      expect(turn.mayRetry()).toBe(true);
    });

    it('refuses another attempt once text was shown', () => {
      const { turn } = newTurn();
      turn.appendText('H');
      expect(turn.mayRetry()).toBe(false);
    });
  });

  describe('retrying', () => {
    it('counts the retry, records the delay on the last attempt and tells the hook', () => {
      const seen: Array<{ turn: Turn; delayMs: number; reason: unknown }> = [];
      const { turn } = newTurn({ onRetry: (t, delayMs, reason) => seen.push({ turn: t, delayMs, reason }) });
      turn.attempts.push(failedAttempt(1), failedAttempt(2));
      const reason = new AppError('provider_unavailable');

      turn.retrying(1234.6, reason);

      expect(turn.retries).toBe(1);
      expect(turn.attempts.map((a) => a.retryDelayMs)).toEqual([null, 1235]);
      expect(seen).toEqual([{ turn, delayMs: 1234.6, reason }]);
      expect(seen[0].turn.retries).toBe(1);

      turn.attempts.push(failedAttempt(3));
      turn.retrying(2000, reason);
      expect(turn.retries).toBe(2);
      expect(turn.attempts.map((a) => a.retryDelayMs)).toEqual([null, 1235, 2000]);
    });

    it('counts the retry when no attempt was recorded yet', () => {
      const { turn } = newTurn();
      turn.retrying(100, undefined);
      expect(turn.retries).toBe(1);
    });
  });

  describe('deadline', () => {
    it('aborts the turn with turn_timeout when its time is up', () => {
      const { turn } = newTurn({ timeoutMs: 10_000 });

      jest.advanceTimersByTime(9_999);
      expect(turn.signal.aborted).toBe(false);
      expect(turn.remainingMs()).toBe(1);

      jest.advanceTimersByTime(1);
      expect(turn.signal.aborted).toBe(true);
      expect(turn.signal.reason).toBeInstanceOf(AppError);
      expect(turn.signal.reason).toMatchObject({ code: 'turn_timeout' });
    });
  });

  describe('abort', () => {
    it('keeps the first reason when the turn is aborted again', () => {
      const { turn } = newTurn({ timeoutMs: 10_000 });
      const cancelled = new AppError('turn_cancelled');

      turn.abort(cancelled);
      turn.abort(new AppError('shutting_down'));
      jest.advanceTimersByTime(10_000);

      expect(turn.signal.reason).toBe(cancelled);
    });
  });

  describe('unattended', () => {
    it('ends the turn sooner when the client went away with more time left than allowed unattended', () => {
      const { turn } = newTurn({ timeoutMs: 10_000 });
      jest.advanceTimersByTime(1_000);

      turn.unattended(3_000);
      jest.advanceTimersByTime(2_999);
      expect(turn.signal.aborted).toBe(false);
      jest.advanceTimersByTime(1);

      expect(turn.signal.aborted).toBe(true);
      expect(turn.signal.reason).toMatchObject({ code: 'turn_timeout' });
    });

    it('never extends the deadline when less time is left than allowed unattended', () => {
      const { turn } = newTurn({ timeoutMs: 10_000 });
      jest.advanceTimersByTime(6_000);

      turn.unattended(5_000);
      // Only the deadline is left running: the longer limit adds no timer of its own.
      expect(jest.getTimerCount()).toBe(1);
      jest.advanceTimersByTime(4_000);

      expect(turn.signal.aborted).toBe(true);
      expect(turn.signal.reason).toMatchObject({ code: 'turn_timeout' });
    });

    it('leaves no timer behind when the turn ends otherwise', () => {
      const { turn } = newTurn({ timeoutMs: 10_000 });
      turn.unattended(3_000);
      const cancelled = new AppError('turn_cancelled');

      turn.abort(cancelled);
      turn.settle();

      expect(jest.getTimerCount()).toBe(0);
      expect(turn.signal.reason).toBe(cancelled);
    });
  });

  describe('settle', () => {
    it('runs each cleanup once, in order, however often the turn settles', () => {
      const { turn } = newTurn();
      const ran: string[] = [];
      turn.onSettle(() => ran.push('unwatch'));
      turn.onSettle(() => ran.push('forget'));

      turn.settle();
      turn.settle();

      expect(ran).toEqual(['unwatch', 'forget']);
    });

    it('stops the deadline when the turn is over', () => {
      const { turn } = newTurn({ timeoutMs: 10_000 });

      turn.settle();
      jest.advanceTimersByTime(60_000);

      expect(turn.signal.aborted).toBe(false);
      expect(jest.getTimerCount()).toBe(0);
    });
  });

  describe('publish', () => {
    it('sends the event to the turn’s sink', () => {
      const { turn, sink } = newTurn();
      const event: StreamEvent = {
        type: 'retry',
        messageId: REPLY,
        attempt: 2,
        delayMs: 250,
        reason: 'stream_stalled',
      };

      turn.publish(event);

      expect(sink.events).toEqual([event]);
    });
  });
});
