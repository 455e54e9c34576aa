import { afterEach, describe, expect, it, vi } from 'vitest';

// The first answer comes from navigator.onLine when the module loads; load a fresh copy per test.
async function loadOnline() {
  vi.resetModules();
  return (await import('./online')).online;
}

describe('online', () => {
  afterEach(() => {
    vi.restoreAllMocks();
    vi.unstubAllGlobals();
  });

  it('starts from what the browser says, then follows its online and offline events', async () => {
    vi.spyOn(navigator, 'onLine', 'get').mockReturnValue(false);
    const online = await loadOnline();
    expect(online()).toBe(false);

    window.dispatchEvent(new Event('online'));
    expect(online()).toBe(true);
    window.dispatchEvent(new Event('offline'));
    expect(online()).toBe(false);
  });

  it('assumes a network where there is no navigator to ask', async () => {
    vi.stubGlobal('navigator', undefined);

    expect((await loadOnline())()).toBe(true);
  });
});
