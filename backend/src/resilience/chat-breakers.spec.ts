import { afterEach, beforeEach, jest } from '@jest/globals';
import { Logger } from '@nestjs/common';
import { loadConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { MemorySharedState } from '../../test/support/memory-shared-state.js';
import { markForced } from './breaker-errors.js';
import { ChatBreakers } from './chat-breakers.js';

function setUp(env: Record<string, string> = {}) {
  const store = new MemorySharedState();
  const breakers = new ChatBreakers(
    loadConfig({ JWT_SECRET: 'x'.repeat(40), CHAT_BREAKER_THRESHOLD: '2', CHAT_BREAKER_RESET_MS: '2000', ...env }),
    store,
  );
  return { store, breakers };
}

const failing = () => Promise.reject(new AppError('provider_unavailable'));
const run = async (breakers: ChatBreakers, chatId: string, turn: () => Promise<unknown>) =>
  breakers.execute(await breakers.admit(chatId), turn);

describe(ChatBreakers.name, () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('opens after the threshold of upstream failures and fails fast with Retry-After', async () => {
    const { breakers, store } = setUp();
    for (let i = 0; i < 2; i++)
      await expect(run(breakers, 'chat', failing)).rejects.toMatchObject({ code: 'provider_unavailable' });
    expect(store.stateOf('chat')).toBe('open');
    await expect(breakers.admit('chat')).rejects.toMatchObject({
      code: 'breaker_open',
      details: { retryAfterSeconds: 2, breakerState: 'open' },
    });
  });

  it('lets one probe through after the reset time, closes on its success, and resets the count', async () => {
    const { breakers, store } = setUp();
    for (let i = 0; i < 2; i++) await run(breakers, 'chat', failing).catch(() => undefined);
    store.now += 2000;
    const probe = await breakers.admit('chat');
    expect(probe.probe).toBe(true);
    // A second turn while the probe runs fails fast, half-open.
    await expect(breakers.admit('chat')).rejects.toMatchObject({ details: { breakerState: 'half_open' } });
    await expect(breakers.execute(probe, () => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(store.stateOf('chat')).toBe('closed');
    await run(breakers, 'chat', failing).catch(() => undefined);
    expect(store.stateOf('chat')).toBe('closed');
  });

  it('opens again at once when the probe fails', async () => {
    const { breakers, store } = setUp();
    for (let i = 0; i < 2; i++) await run(breakers, 'chat', failing).catch(() => undefined);
    store.now += 2000;
    await run(breakers, 'chat', failing).catch(() => undefined);
    expect(store.stateOf('chat')).toBe('open');
  });

  it('counts consecutive failures only: a success in between starts the count again', async () => {
    const { breakers, store } = setUp();
    await run(breakers, 'chat', failing).catch(() => undefined);
    await run(breakers, 'chat', () => Promise.resolve(1));
    await run(breakers, 'chat', failing).catch(() => undefined);
    expect(store.stateOf('chat')).toBe('closed');
  });

  it('never counts input errors or forced faults', async () => {
    const { breakers, store } = setUp();
    for (let i = 0; i < 5; i++) {
      await run(breakers, 'chat', () => Promise.reject(new AppError('content_blocked'))).catch(() => undefined);
      await run(breakers, 'chat', () => Promise.reject(markForced(new AppError('provider_unavailable')))).catch(
        () => undefined,
      );
    }
    expect(store.stateOf('chat')).toBe('closed');
  });

  it('stands aside (fails open) when the shared store cannot be reached', async () => {
    const { breakers, store } = setUp();
    store.admit = () => Promise.reject(new Error('connect ECONNREFUSED'));
    await expect(run(breakers, 'chat', () => Promise.resolve('ran'))).resolves.toBe('ran');
  });

  it('frees the probe slot when the probe fails for a reason that says nothing about the upstream', async () => {
    const { breakers, store } = setUp();
    for (let i = 0; i < 2; i++) await run(breakers, 'chat', failing).catch(() => undefined);
    store.now += 2000;
    const probe = await breakers.admit('chat');
    await expect(breakers.execute(probe, () => Promise.reject(new AppError('content_blocked')))).rejects.toMatchObject({
      code: 'content_blocked',
    });
    await expect(run(breakers, 'chat', () => Promise.resolve('next'))).resolves.toBe('next');
  });

  it('writes nothing when a turn succeeds on a breaker with no failures counted, and resets one that has', async () => {
    const { breakers, store } = setUp();
    const succeeded = store.succeeded.bind(store);
    let writes = 0;
    store.succeeded = (chatId: string) => {
      writes++;
      return succeeded(chatId);
    };
    await run(breakers, 'chat', () => Promise.resolve(1));
    expect(writes).toBe(0);
    await run(breakers, 'chat', failing).catch(() => undefined);
    await run(breakers, 'chat', () => Promise.resolve(1));
    expect(writes).toBe(1);
  });

  describe('what it tells the operator, and what a store failure costs', () => {
    let warnings: unknown[][];
    beforeEach(() => {
      warnings = [];
      jest.spyOn(Logger.prototype, 'warn').mockImplementation((...args: unknown[]) => {
        warnings.push(args);
      });
    });
    afterEach(() => {
      jest.restoreAllMocks();
    });

    it('admits a turn as neither probe nor dirty when the store is down, and says so', async () => {
      const { breakers, store } = setUp();
      store.admit = () => Promise.reject(new Error('connect ECONNREFUSED'));
      expect(await breakers.admit('chat')).toEqual({ chatId: 'chat', probe: false, dirty: false });
      expect(warnings).toEqual([[{ event: 'chat_breaker_unavailable' }, 'Error: connect ECONNREFUSED']]);
    });

    it('still ends a failed turn with its own error when its failure cannot be recorded, and says so', async () => {
      const { breakers, store } = setUp();
      store.failed = () => Promise.reject(new Error('store gone'));
      await expect(run(breakers, 'chat', failing)).rejects.toMatchObject({ code: 'provider_unavailable' });
      expect(warnings).toEqual([[{ event: 'chat_breaker_not_recorded' }, 'Error: store gone']]);
    });

    it('still answers a turn whose success cannot be recorded, and says so', async () => {
      const { breakers, store } = setUp();
      await run(breakers, 'chat', failing).catch(() => undefined);
      store.succeeded = () => Promise.reject(new Error('store gone'));
      await expect(run(breakers, 'chat', () => Promise.resolve('answer'))).resolves.toBe('answer');
      expect(warnings).toEqual([[{ event: 'chat_breaker_not_recorded' }, 'Error: store gone']]);
    });

    it('still ends a probe with its own error when the freed slot cannot be recorded, and says so', async () => {
      const { breakers, store } = setUp();
      for (let i = 0; i < 2; i++) await run(breakers, 'chat', failing).catch(() => undefined);
      store.now += 2000;
      const probe = await breakers.admit('chat');
      store.succeeded = () => Promise.reject(new Error('store gone'));
      await expect(
        breakers.execute(probe, () => Promise.reject(new AppError('content_blocked'))),
      ).rejects.toMatchObject({
        code: 'content_blocked',
      });
      expect(warnings).toEqual([[{ event: 'chat_breaker_not_recorded' }, 'Error: store gone']]);
    });
  });

  it('neither counts nor forgets failures when a turn that is not a probe fails for a reason of its own', async () => {
    const { breakers, store } = setUp();
    await run(breakers, 'chat', failing).catch(() => undefined);
    await expect(run(breakers, 'chat', () => Promise.reject(new AppError('content_blocked')))).rejects.toMatchObject({
      code: 'content_blocked',
    });
    expect(store.stateOf('chat')).toBe('closed');
    await run(breakers, 'chat', failing).catch(() => undefined);
    expect(store.stateOf('chat')).toBe('open');
  });

  it('holds the probe for its turn’s deadline and five seconds more, then lets another turn probe', async () => {
    // The store's clock stands still but where the test moves it: a millisecond of real time
    // between the steps must not count.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const { breakers, store } = setUp({ TURN_TIMEOUT_MS: '10000' });
    for (let i = 0; i < 2; i++) await run(breakers, 'chat', failing).catch(() => undefined);
    store.now += 2000;
    expect((await breakers.admit('chat')).probe).toBe(true);
    await expect(breakers.admit('chat')).rejects.toMatchObject({
      details: { breakerState: 'half_open', retryAfterSeconds: 15 },
    });
    store.now += 14_999;
    await expect(breakers.admit('chat')).rejects.toMatchObject({ details: { breakerState: 'half_open' } });
    store.now += 1;
    expect(await breakers.admit('chat')).toEqual({ chatId: 'chat', probe: true, dirty: true });
  });
});
