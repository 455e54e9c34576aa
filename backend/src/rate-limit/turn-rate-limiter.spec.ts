import { loadConfig } from '../config/app-config.js';
import { TurnRateLimiter } from './turn-rate-limiter.js';

describe(TurnRateLimiter.name, () => {
  const limiter = (perMinute: string) =>
    new TurnRateLimiter(loadConfig({ JWT_SECRET: 'x'.repeat(40), TURN_RATE_LIMIT_PER_MINUTE: perMinute }));
  const t0 = 1_000_000;

  describe('take', () => {
    it('allows the limit, then refuses per user with the wait until the oldest turn leaves the window', () => {
      const limits = limiter('2');
      expect(limits.take('a', t0)).toMatchObject({ allowed: true, remaining: 1, resetSeconds: 0 });
      expect(limits.take('a', t0 + 10_000)).toMatchObject({ allowed: true, remaining: 0, resetSeconds: 50 });
      expect(limits.take('b', t0 + 10_000)).toMatchObject({ allowed: true, remaining: 1 });
      expect(limits.take('a', t0 + 20_000)).toMatchObject({ allowed: false, remaining: 0, resetSeconds: 40 });
    });

    it('does not count a refused turn against the quota', () => {
      const limits = limiter('1');
      limits.take('a', t0);
      for (let i = 1; i <= 5; i++) expect(limits.take('a', t0 + i * 1000).allowed).toBe(false);
      expect(limits.take('a', t0 + 60_001)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it('frees a turn exactly when the oldest start is a window old', () => {
      const limits = limiter('1');
      limits.take('a', t0);
      expect(limits.take('a', t0 + 59_999).allowed).toBe(false);
      expect(limits.take('a', t0 + 60_000).allowed).toBe(true);
    });

    it('rounds the wait up to whole seconds, never to zero while refused', () => {
      const limits = limiter('1');
      limits.take('a', t0);
      expect(limits.take('a', t0 + 59_500)).toMatchObject({ allowed: false, resetSeconds: 1 });
    });

    it('reports the policy it enforces', () => {
      expect(limiter('30').take('a', t0)).toMatchObject({ limit: 30, windowSeconds: 60 });
    });
  });

  it('is off at 0 turns a minute', () => {
    const limits = limiter('0');
    expect(limits.enabled).toBe(false);
    for (let i = 0; i < 1000; i++) expect(limits.take('a', t0).allowed).toBe(true);
  });
});
