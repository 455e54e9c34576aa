import { loadConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import { ChatBreakers } from './chat-breakers.js';

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

  it('lets one probe through after the reset time and closes on its success', async () => {
    const registry = breakers();
    for (let i = 0; i < 2; i++) await registry.execute('chat', failing).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 250));
    await expect(registry.execute('chat', () => Promise.resolve('ok'))).resolves.toBe('ok');
    expect(registry.state('chat')).toBe('closed');
  });

  it('ignores failures that say nothing about the upstream', async () => {
    const registry = breakers();
    for (let i = 0; i < 5; i++) {
      await registry.execute('chat', () => Promise.reject(new AppError('insufficient_tokens'))).catch(() => undefined);
    }
    expect(registry.state('chat')).toBe('closed');
  });

  it('keeps at most CHAT_BREAKER_MAX_CHATS breakers, dropping the least recently used', async () => {
    const registry = breakers({ CHAT_BREAKER_MAX_CHATS: '10' });
    for (let i = 0; i < 25; i++) await registry.execute(`chat-${i}`, () => Promise.resolve(i));
    expect(registry.size).toBe(10);
    for (let i = 0; i < 2; i++) await registry.execute('chat-24', failing).catch(() => undefined);
    expect(registry.openCount()).toBe(1);
  });
});
