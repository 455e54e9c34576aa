import { jest } from '@jest/globals';
import { loadConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ChatBreakers } from './chat-breakers.js';
import { countsAgainstBreaker } from './breaker-errors.js';

function breakers(env: Record<string, string> = {}): ChatBreakers {
  return new ChatBreakers(
    loadConfig({ JWT_SECRET: 'x'.repeat(40), CHAT_BREAKER_THRESHOLD: '2', CHAT_BREAKER_RESET_MS: '200', ...env }),
  );
}

const failing = () => Promise.reject(new AppError('provider_unavailable'));

describe(ChatBreakers.name, () => {
  it('opens after the threshold of upstream failures and fails fast with Retry-After', async () => {
    const registry = breakers();
    for (let i = 0; i < 2; i++)
      await expect(registry.execute('chat', failing)).rejects.toMatchObject({ code: 'provider_unavailable' });
    expect(registry.state('chat')).toBe('open');
    expect(() => registry.assertClosed('chat')).toThrow(expect.objectContaining({ code: 'breaker_open' }));
    await expect(registry.execute('chat', () => Promise.resolve(1))).rejects.toMatchObject({
      code: 'breaker_open',
      details: { retryAfterSeconds: 1, breakerState: 'open' },
    });
  });

  describe('half-open', () => {
    // The clock is jest's: the breaker (and cockatiel inside it) read Date.now().
    beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] }));
    afterEach(() => jest.useRealTimers());

    async function opened(): Promise<ChatBreakers> {
      const registry = breakers();
      for (let i = 0; i < 2; i++) await registry.execute('chat', failing).catch(() => undefined);
      expect(registry.state('chat')).toBe('open');
      return registry;
    }

    it('stays open until the reset time is over', async () => {
      const registry = await opened();
      jest.advanceTimersByTime(199);
      expect(() => registry.assertClosed('chat')).toThrow(expect.objectContaining({ code: 'breaker_open' }));
      await expect(registry.execute('chat', () => Promise.resolve('too soon'))).rejects.toMatchObject({
        code: 'breaker_open',
      });
    });

    it('lets one probe through after the reset time and closes on its success', async () => {
      const registry = await opened();
      jest.advanceTimersByTime(201);
      expect(() => registry.assertClosed('chat')).not.toThrow();
      await expect(registry.execute('chat', () => Promise.resolve('ok'))).resolves.toBe('ok');
      expect(registry.state('chat')).toBe('closed');
    });

    /** A turn that runs until the test ends it. */
    function heldTurn() {
      let end!: (outcome: { value: string } | { error: unknown }) => void;
      const run = jest.fn(
        () =>
          new Promise<string>((resolve, reject) => {
            end = (outcome) => ('value' in outcome ? resolve(outcome.value) : reject(outcome.error));
          }),
      );
      return { run, end: (outcome: { value: string } | { error: unknown }) => end(outcome) };
    }

    it('lets exactly one of two concurrent turns probe; the other waits and runs once the probe succeeds', async () => {
      const registry = await opened();
      jest.advanceTimersByTime(201);
      const probe = heldTurn();
      const second = jest.fn(() => Promise.resolve('second'));

      const probing = registry.execute('chat', probe.run);
      const waiting = registry.execute('chat', second);
      await Promise.resolve();
      await Promise.resolve();

      expect(probe.run).toHaveBeenCalledTimes(1);
      expect(second).not.toHaveBeenCalled();
      expect(registry.state('chat')).toBe('half_open');
      probe.end({ value: 'probe' });
      await expect(probing).resolves.toBe('probe');
      await expect(waiting).resolves.toBe('second');
      expect(registry.state('chat')).toBe('closed');
    });

    it('refuses the turn that waited behind a failed probe without running it', async () => {
      const registry = await opened();
      jest.advanceTimersByTime(201);
      const probe = heldTurn();
      const second = jest.fn(() => Promise.resolve('second'));

      const probing = registry.execute('chat', probe.run);
      const waiting = registry.execute('chat', second);
      probe.end({ error: new AppError('provider_unavailable') });

      await expect(probing).rejects.toMatchObject({ code: 'provider_unavailable' });
      await expect(waiting).rejects.toMatchObject({ code: 'breaker_open', details: { breakerState: 'open' } });
      expect(second).not.toHaveBeenCalled();
      expect(registry.state('chat')).toBe('open');
    });

    it('tells the client when the reset time is over, in whole seconds and at least one', async () => {
      const registry = breakers({ CHAT_BREAKER_RESET_MS: '5000' });
      for (let i = 0; i < 2; i++) await registry.execute('chat', failing).catch(() => undefined);
      jest.advanceTimersByTime(1000);
      await expect(registry.execute('chat', () => Promise.resolve('x'))).rejects.toMatchObject({
        details: { retryAfterSeconds: 4, breakerState: 'open' },
      });
      jest.advanceTimersByTime(3950);
      await expect(registry.execute('chat', () => Promise.resolve('x'))).rejects.toMatchObject({
        details: { retryAfterSeconds: 1, breakerState: 'open' },
      });
    });

    it('opens again for a whole reset time when the probe fails', async () => {
      const registry = await opened();
      jest.advanceTimersByTime(201);
      await expect(registry.execute('chat', failing)).rejects.toMatchObject({ code: 'provider_unavailable' });
      expect(registry.state('chat')).toBe('open');
      jest.advanceTimersByTime(199);
      expect(() => registry.assertClosed('chat')).toThrow(expect.objectContaining({ code: 'breaker_open' }));
    });
  });

  it('ignores failures that say nothing about the upstream', async () => {
    const registry = breakers();
    for (let i = 0; i < 5; i++) {
      await registry.execute('chat', () => Promise.reject(new AppError('insufficient_tokens'))).catch(() => undefined);
    }
    expect(registry.state('chat')).toBe('closed');
  });

  it('drops the least recently *used* breaker, not the oldest created: using one keeps it', async () => {
    const registry = breakers({ CHAT_BREAKER_MAX_CHATS: '10' });
    // chat-a opens first, then nine others are created, then chat-a is used again.
    for (let i = 0; i < 2; i++) await registry.execute('chat-a', failing).catch(() => undefined);
    for (let i = 0; i < 9; i++) await registry.execute(`chat-${i}`, () => Promise.resolve(i));
    await registry.execute('chat-a', () => Promise.resolve(1)).catch(() => undefined);
    await registry.execute('chat-new', () => Promise.resolve(1));
    // chat-0 was the least recently used: it went, chat-a (open) stayed.
    expect(registry.size).toBe(10);
    expect(registry.state('chat-a')).toBe('open');
    expect(registry.openCount()).toBe(1);
  });

  it('reports a chat it has no breaker for as closed, and never fails it fast', () => {
    const registry = breakers();
    expect(registry.state('never-seen')).toBe('closed');
    expect(() => registry.assertClosed('never-seen')).not.toThrow();
    expect(registry.size).toBe(0);
  });

  it('counts only upstream failures against a breaker', () => {
    for (const code of ['provider_unavailable', 'provider_timeout', 'stream_stalled', 'turn_timeout'] as const) {
      expect(countsAgainstBreaker(new AppError(code))).toBe(true);
    }
    for (const code of ['content_blocked', 'insufficient_tokens', 'turn_cancelled', 'validation_failed'] as const) {
      expect(countsAgainstBreaker(new AppError(code))).toBe(false);
    }
    expect(countsAgainstBreaker(new Error('unexpected'))).toBe(false);
    expect(countsAgainstBreaker('a string')).toBe(false);
  });

  it('keeps at most CHAT_BREAKER_MAX_CHATS breakers, dropping the least recently used', async () => {
    const registry = breakers({ CHAT_BREAKER_MAX_CHATS: '10' });
    for (let i = 0; i < 25; i++) await registry.execute(`chat-${i}`, () => Promise.resolve(i));
    expect(registry.size).toBe(10);
    for (let i = 0; i < 2; i++) await registry.execute('chat-24', failing).catch(() => undefined);
    expect(registry.openCount()).toBe(1);
  });
});
