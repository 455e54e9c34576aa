import { cleanup } from '@solidjs/testing-library';
import { afterEach } from 'vitest';
import { setLocale, signOut } from './state/session';

// Vitest globals are off, so the testing library cannot register its own cleanup.
afterEach(() => {
  cleanup();
  signOut();
  setLocale('en');
  localStorage.clear();
});
