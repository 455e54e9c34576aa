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
});
