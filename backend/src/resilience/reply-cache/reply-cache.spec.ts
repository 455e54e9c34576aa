import type { DataSource } from 'typeorm';
import { loadConfig } from '../../config/app-config.js';
import { ReplyCache, type CacheableRequest } from './reply-cache.js';

const config = loadConfig({
  NODE_ENV: 'test',
  JWT_SECRET: 'test-secret-that-is-long-enough-for-hs256-signing',
  PROVIDER_CACHED_FALLBACK: 'true',
});
// keyOf never touches the database.
const cache = new ReplyCache(config, undefined as unknown as DataSource);

const base: CacheableRequest = {
  systemInstruction: 'You are Captain Mira.',
  messages: [
    { role: 'assistant', content: 'Welcome aboard.' },
    { role: 'user', content: 'Where is the signal coming from?' },
  ],
  maxOutputTokens: 1024,
};

describe(ReplyCache.name, () => {
  describe('keyOf', () => {
    it('is the same for the same request, and a SHA-256 in hex', () => {
      expect(cache.keyOf(structuredClone(base))).toBe(cache.keyOf(base));
      expect(cache.keyOf(base)).toMatch(/^[0-9a-f]{64}$/);
    });

    it.each<[string, CacheableRequest]>([
      ['persona', { ...base, systemInstruction: 'You are Wren.' }],
      ['a message', { ...base, messages: [base.messages[0]!, { role: 'user', content: 'Where is it?' }] }],
      ['a role', { ...base, messages: [{ ...base.messages[0]!, role: 'user' }, base.messages[1]!] }],
      ['the history length', { ...base, messages: [base.messages[1]!] }],
      ['the output limit', { ...base, maxOutputTokens: 512 }],
      ['the model', { ...base, model: 'gemini-2.5-pro' }],
    ])('differs when %s differs', (_, other) => {
      expect(cache.keyOf(other)).not.toBe(cache.keyOf(base));
    });

    it('does not let one part run into the next', () => {
      const split = (a: string, b: string): CacheableRequest => ({
        ...base,
        messages: [
          { role: 'user', content: a },
          { role: 'user', content: b },
        ],
      });
      expect(cache.keyOf(split('ab', 'c'))).not.toBe(cache.keyOf(split('a', 'bc')));
    });
  });

  it('is off unless PROVIDER_CACHED_FALLBACK is set, and then reads and writes nothing', async () => {
    const off = new ReplyCache(loadConfig({ NODE_ENV: 'test', JWT_SECRET: 'x'.repeat(40) }), undefined as never);
    expect(off.enabled).toBe(false);
    expect(cache.enabled).toBe(true);
    await expect(off.recall(off.keyOf(base))).resolves.toBeUndefined();
    await expect(off.remember('k', { text: 't', provider: 'p', model: 'm' })).resolves.toBeUndefined();
  });
});
