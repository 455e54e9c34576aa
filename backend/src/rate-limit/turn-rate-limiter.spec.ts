import { loadConfig } from '../config/app-config.js';
import { MemorySharedState } from '../../test/support/memory-shared-state.js';
import { TurnRateLimiter } from './turn-rate-limiter.js';

describe(TurnRateLimiter.name, () => {
  const setUp = (perMinute: string) => {
    const store = new MemorySharedState();
    const limiter = new TurnRateLimiter(
      loadConfig({ JWT_SECRET: 'x'.repeat(40), TURN_RATE_LIMIT_PER_MINUTE: perMinute }),
      store,
    );
    return { store, limiter };
  };

  describe('take', () => {
    it('allows the limit, then refuses per user with the wait until the window ends', async () => {
      const { store, limiter } = setUp('2');
      expect(await limiter.take('a')).toMatchObject({ allowed: true, remaining: 1, resetSeconds: 0 });
      store.now += 10_000;
      expect(await limiter.take('a')).toMatchObject({ allowed: true, remaining: 0, resetSeconds: 50 });
      expect(await limiter.take('b')).toMatchObject({ allowed: true, remaining: 1 });
      store.now += 10_000;
      expect(await limiter.take('a')).toMatchObject({ allowed: false, remaining: 0, resetSeconds: 40 });
    });

    it('does not count a refused turn, and frees the quota when the window ends', async () => {
      const { store, limiter } = setUp('1');
      await limiter.take('a');
      for (let i = 1; i <= 5; i++) {
        store.now += 1000;
        expect((await limiter.take('a')).allowed).toBe(false);
      }
      store.now += 55_000;
      expect(await limiter.take('a')).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('rounds the wait up to whole seconds, never to zero while refused', async () => {
      const { store, limiter } = setUp('1');
      await limiter.take('a');
      store.now += 59_500;
      expect(await limiter.take('a')).toMatchObject({ allowed: false, resetSeconds: 1 });
    });

    it('reports the policy it enforces', async () => {
      expect(await setUp('30').limiter.take('a')).toMatchObject({ limit: 30, windowSeconds: 60 });
    });

    it('stands aside (fails open) when the shared store cannot be reached', async () => {
      const { store, limiter } = setUp('1');
      store.takeQuota = () => Promise.reject(new Error('connect ECONNREFUSED'));
      expect(await limiter.take('a')).toMatchObject({ allowed: true });
    });
  });

  it('is off at 0 turns a minute', async () => {
    const { limiter } = setUp('0');
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 100; i++) expect((await limiter.take('a')).allowed).toBe(true);
  });
});
