import { afterEach, describe, expect, it, vi } from 'vitest';

// The session reads localStorage once, when the module loads; load a fresh copy per test.
async function loadSession() {
  vi.resetModules();
  return import('./session');
}

describe('session', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('a refused token ends the session, unless a newer one is stored within a moment', async () => {
    vi.useFakeTimers();
    try {
      const session = await loadSession();
      session.signIn('old-token');
      // Another tab changed the password and stored its new token: the old one is refused here.
      localStorage.setItem('parley.token', 'new-token');
      session.tokenRefused('old-token');
      expect(session.token()).toBe('new-token');

      // Refused before the other tab stored its token: still signed in for a moment, then on
      // with the replacement.
      session.tokenRefused('new-token');
      localStorage.setItem('parley.token', 'newest-token');
      vi.advanceTimersByTime(session.REFUSED_GRACE_MS);
      expect(session.token()).toBe('newest-token');

      // No replacement: signed out once the moment has passed, and the token is forgotten.
      session.tokenRefused('newest-token');
      vi.advanceTimersByTime(session.REFUSED_GRACE_MS - 1);
      expect(session.token()).toBe('newest-token');
      vi.advanceTimersByTime(1);
      expect(session.token()).toBeNull();
      expect(localStorage.getItem('parley.token')).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });

  it("follows another tab's sign-in and sign-out", async () => {
    const session = await loadSession();
    session.signIn('this-tab');
    window.dispatchEvent(new StorageEvent('storage', { key: 'parley.token', newValue: 'from-another-tab' }));
    expect(session.token()).toBe('from-another-tab');
    window.dispatchEvent(new StorageEvent('storage', { key: 'parley.locale', newValue: 'zh' }));
    expect(session.token()).toBe('from-another-tab');
    window.dispatchEvent(new StorageEvent('storage', { key: 'parley.token', newValue: null }));
    expect(session.token()).toBeNull();
  });

  it('restores the token and locale saved by an earlier visit', async () => {
    localStorage.setItem('parley.token', 'saved-token');
    localStorage.setItem('parley.locale', 'zh');

    const session = await loadSession();

    expect(session.token()).toBe('saved-token');
    expect(session.locale()).toBe('zh');
  });

  it('ignores a stored locale the app does not support', async () => {
    localStorage.setItem('parley.locale', 'fr');
    vi.spyOn(navigator, 'language', 'get').mockReturnValue('en-GB');

    const session = await loadSession();

    expect(session.locale()).toBe('en');
  });

  it('forgets the token on sign out', async () => {
    const session = await loadSession();
    session.signIn('abc');
    expect(localStorage.getItem('parley.token')).toBe('abc');

    session.signOut();

    expect(session.token()).toBeNull();
    expect(localStorage.getItem('parley.token')).toBeNull();
  });

  it('restores nothing and keeps the session in memory where storage is unavailable', async () => {
    const denied = () => {
      throw new DOMException('denied', 'SecurityError');
    };
    vi.spyOn(Storage.prototype, 'getItem').mockImplementation(denied);
    vi.spyOn(Storage.prototype, 'setItem').mockImplementation(denied);
    vi.spyOn(Storage.prototype, 'removeItem').mockImplementation(denied);
    vi.spyOn(navigator, 'language', 'get').mockReturnValue('zh-CN');

    const session = await loadSession();
    expect(session.token()).toBeNull();
    expect(session.locale()).toBe('zh');

    session.signIn('abc');
    session.setLocale('en');
    expect(session.token()).toBe('abc');
    expect(session.locale()).toBe('en');
    session.signOut();
    expect(session.token()).toBeNull();
  });

  it.each([
    ['zh-CN', 'zh'],
    ['ZH-TW', 'zh'],
    ['en-US', 'en'],
    ['de', 'en'],
  ])('without a stored locale, takes the browser language %s as %s', async (language, expected) => {
    vi.spyOn(navigator, 'language', 'get').mockReturnValue(language);

    const session = await loadSession();

    expect(session.locale()).toBe(expected);
  });

  it('speaks English where the browser names no language', async () => {
    vi.stubGlobal('navigator', {});
    try {
      expect((await loadSession()).locale()).toBe('en');
      vi.stubGlobal('navigator', undefined);
      expect((await loadSession()).locale()).toBe('en');
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it('keeps the chosen locale for the next visit', async () => {
    const session = await loadSession();

    session.setLocale('zh');

    expect(session.locale()).toBe('zh');
    expect(localStorage.getItem('parley.locale')).toBe('zh');
  });

  it('knows the locales the app supports, and nothing else', async () => {
    const session = await loadSession();

    expect(session.locales).toEqual(['en', 'zh']);
    expect(['en', 'zh', 'fr', 'toString', 42, null].map(session.isLocale)).toEqual([
      true,
      true,
      false,
      false,
      false,
      false,
    ]);
  });

  it('counts changes to the account, so that its view reloads', async () => {
    const session = await loadSession();
    expect(session.accountVersion()).toBe(0);

    session.accountChanged();
    session.accountChanged();

    expect(session.accountVersion()).toBe(2);
  });

  it('forgets the announced balance on sign out', async () => {
    const session = await loadSession();
    session.signIn('abc');
    expect(session.liveBalance()).toBeNull();
    session.setLiveBalance(42);
    expect(session.liveBalance()).toBe(42);

    session.signOut();

    expect(session.liveBalance()).toBeNull();
  });

  it('a second refusal waits its own moment (the first one no longer signs out)', async () => {
    vi.useFakeTimers();
    try {
      const session = await loadSession();
      session.signIn('token');
      session.tokenRefused('token');
      vi.advanceTimersByTime(session.REFUSED_GRACE_MS - 500);
      session.tokenRefused('token');

      vi.advanceTimersByTime(500);
      expect(session.token()).toBe('token');
      vi.advanceTimersByTime(session.REFUSED_GRACE_MS - 500);
      expect(session.token()).toBeNull();
    } finally {
      vi.useRealTimers();
    }
  });
});
