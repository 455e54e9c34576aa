import { loadConfig } from '../config/app-config.js';
import { TurnRateLimiter } from './turn-rate-limiter.js';

describe(TurnRateLimiter.name, () => {
  const limiter = (perMinute: string) =>
    new TurnRateLimiter(loadConfig({ JWT_SECRET: 'x'.repeat(40), TURN_RATE_LIMIT_PER_MINUTE: perMinute }));

  it('refuses the turn past the limit with 429 rate_limited and a wait, per user', () => {
    const limits = limiter('2');
    limits.take('a');
    limits.take('a');
    limits.take('b');
    expect(() => limits.take('a')).toThrow(expect.objectContaining({ code: 'rate_limited' }));
    try {
      limits.take('a');
    } catch (error) {
      const seconds = (error as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds;
      expect(seconds).toBeGreaterThan(59);
      expect(seconds).toBeLessThanOrEqual(60);
    }
  });

  it('does not limit when set to 0', () => {
    const limits = limiter('0');
    for (let i = 0; i < 1000; i++) limits.take('a');
  });
});
