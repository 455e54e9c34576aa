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
