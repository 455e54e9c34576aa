import { createSignal } from 'solid-js';

export type Theme = 'system' | 'light' | 'dark';
export const themes: Theme[] = ['system', 'light', 'dark'];

const THEME_KEY = 'parley.theme';

function stored(): Theme {
  try {
    const value = localStorage.getItem(THEME_KEY);
    return value === 'light' || value === 'dark' ? value : 'system';
  } catch {
    return 'system';
  }
}

const [theme, setThemeSignal] = createSignal<Theme>(stored());
export { theme };

/** Light or dark whatever the system says, or back to following the system. */
export function setTheme(next: Theme): void {
  try {
    if (next === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, next);
  } catch {
    // Kept for this page only.
  }
  setThemeSignal(next);
}

/** Puts the theme on <html> (styles.css reads data-theme; "system" leaves it to the media query). */
export function applyTheme(value: Theme, root: HTMLElement = document.documentElement): void {
  if (value === 'system') delete root.dataset.theme;
  else root.dataset.theme = value;
  root.style.colorScheme = value === 'system' ? '' : value;
}
