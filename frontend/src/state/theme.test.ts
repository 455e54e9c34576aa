import { afterEach, describe, expect, it, vi } from 'vitest';

// The theme is read from localStorage once, when the module loads; load a fresh copy per test.
async function loadTheme() {
  vi.resetModules();
  return import('./theme');
}

describe('theme', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    ['light', 'light'],
    ['dark', 'dark'],
    ['sepia', 'system'],
    [null, 'system'],
  ])('restores the stored theme %s as %s', async (stored, expected) => {
    if (stored !== null) localStorage.setItem('parley.theme', stored);

    const { theme } = await loadTheme();

    expect(theme()).toBe(expected);
  });

  it('keeps a chosen theme for the next visit, and forgets it when back to the system’s', async () => {
    const { setTheme, theme, themes } = await loadTheme();
    expect(themes).toEqual(['system', 'light', 'dark']);

    setTheme('dark');
    expect(theme()).toBe('dark');
    expect(localStorage.getItem('parley.theme')).toBe('dark');

    setTheme('system');
    expect(theme()).toBe('system');
    expect(localStorage.getItem('parley.theme')).toBeNull();
  });

  it('follows the system, and keeps a choice for this page only, where storage is unavailable', async () => {
    const denied = () => {
      throw new DOMException('denied', 'SecurityError');
    };
    vi.spyOn(Storage.prototype, 'getItem').mockImplementation(denied);
    vi.spyOn(Storage.prototype, 'setItem').mockImplementation(denied);
    vi.spyOn(Storage.prototype, 'removeItem').mockImplementation(denied);

    const { setTheme, theme } = await loadTheme();
    expect(theme()).toBe('system');

    setTheme('light');
    expect(theme()).toBe('light');
    setTheme('system');
    expect(theme()).toBe('system');
  });

  it('puts a light or dark theme on the page, and leaves "system" to the media query', async () => {
    const { applyTheme } = await loadTheme();
    const root = document.createElement('html');

    applyTheme('dark', root);
    expect(root.dataset.theme).toBe('dark');
    expect(root.style.colorScheme).toBe('dark');

    applyTheme('system', root);
    expect(root.dataset.theme).toBeUndefined();
    expect(root.style.colorScheme).toBe('');

    applyTheme('light');
    expect(document.documentElement.dataset.theme).toBe('light');
    applyTheme('system');
    expect(document.documentElement.dataset.theme).toBeUndefined();
  });
});
