import { createSignal } from 'solid-js';
import type { Locale } from '@parley/api-types';

const TOKEN_KEY = 'parley.token';
const LOCALE_KEY = 'parley.locale';

// Exhaustive over the contract's Locale: a new locale there does not compile until listed here.
const supportedLocales = { en: true, zh: true } satisfies Record<Locale, true>;
export const locales = Object.keys(supportedLocales) as Locale[];

export function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && Object.hasOwn(supportedLocales, value);
}

// Storage can be unavailable (private modes, disabled cookies); the app then forgets on reload.
function readStored(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

function writeStored(key: string, value: string | null): void {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Keep the in-memory value only.
  }
}

function initialLocale(): Locale {
  const stored = readStored(LOCALE_KEY);
  if (isLocale(stored)) return stored;
  return globalThis.navigator?.language?.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

const [token, setToken] = createSignal<string | null>(readStored(TOKEN_KEY));
const [locale, setLocaleSignal] = createSignal<Locale>(initialLocale());

// Bumped when something changed the account (a turn was charged), so its view reloads.
const [accountVersion, setAccountVersion] = createSignal(0);

// The balance as the realtime channel last announced it (null until it does).
const [liveBalance, setLiveBalance] = createSignal<number | null>(null);

export { accountVersion, liveBalance, locale, setLiveBalance, token };

export function accountChanged(): void {
  setAccountVersion((version) => version + 1);
}

export function signIn(accessToken: string): void {
  writeStored(TOKEN_KEY, accessToken);
  setToken(accessToken);
}

export function signOut(): void {
  writeStored(TOKEN_KEY, null);
  setToken(null);
  setLiveBalance(null);
}

export function setLocale(next: Locale): void {
  writeStored(LOCALE_KEY, next);
  setLocaleSignal(next);
}
