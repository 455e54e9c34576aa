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

// jsdom lays nothing out, so it has no scrollIntoView; the views call it to show a message.
Element.prototype.scrollIntoView ??= function scrollIntoView() {};
