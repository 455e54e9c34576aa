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

// The tabs of one browser share one session: a token stored or removed by another tab (signing
// in or out there, a password change that replaced the token) applies here too.
globalThis.addEventListener?.('storage', (event: StorageEvent) => {
  if (event.key === TOKEN_KEY) setToken(event.newValue);
});

export function accountChanged(): void {
  setAccountVersion((version) => version + 1);
}

export function signIn(accessToken: string): void {
  writeStored(TOKEN_KEY, accessToken);
  setToken(accessToken);
}

/** How long a refused token waits for a replacement from another tab before signing out. */
export const REFUSED_GRACE_MS = 1500;
let pendingSignOut: ReturnType<typeof setTimeout> | undefined;

/**
 * The server refused `used` (a 401, a realtime 4401). If a newer token is stored — a password
 * changed in this tab or another one, which refuses every earlier token — the session goes on
 * with it. Otherwise it ends, a moment later: the tab that changed the password stores its new
 * token only when its answer arrives, which can be after the server closed this tab's socket.
 * (Signing out at once would also delete that token from the storage the tabs share.)
 */
export function tokenRefused(used: string | null): void {
  const replacement = () => {
    const stored = readStored(TOKEN_KEY);
    return stored && stored !== used ? stored : null;
  };
  const now = replacement();
  if (now) return void setToken(now);
  clearTimeout(pendingSignOut);
  pendingSignOut = setTimeout(() => {
    const later = replacement();
    if (later) setToken(later);
    else if (token() === used) signOut();
  }, REFUSED_GRACE_MS);
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
