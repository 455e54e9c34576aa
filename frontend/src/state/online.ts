import { createSignal } from 'solid-js';

// Whether the browser has a network, kept up to date by its online/offline events (reading
// navigator.onLine once would keep the answer from page load).
const [online, setOnline] = createSignal(globalThis.navigator?.onLine ?? true);
if (typeof window !== 'undefined') {
  window.addEventListener('online', () => setOnline(true));
  window.addEventListener('offline', () => setOnline(false));
}

export { online };
