import { createSignal, onCleanup } from 'solid-js';

const PREFIX = '#/chats/';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function fromLocation(): string | null {
  const hash = globalThis.location?.hash ?? '';
  const id = hash.startsWith(PREFIX) ? decodeURIComponent(hash.slice(PREFIX.length)) : '';
  return UUID.test(id) ? id : null;
}

/**
 * The open chat, kept in the address (`#/chats/<id>`): a reload reopens it, a link opens it, and
 * the browser's Back returns to the list. Call inside a component: it listens until cleanup.
 */
export function createOpenChat() {
  const [openChatId, setOpenChatId] = createSignal<string | null>(fromLocation());
  const onPopState = () => setOpenChatId(fromLocation());
  window.addEventListener('popstate', onPopState);
  onCleanup(() => window.removeEventListener('popstate', onPopState));

  const open = (chatId: string | null) => {
    if (chatId === openChatId()) return;
    setOpenChatId(chatId);
    const url = chatId ? `${PREFIX}${encodeURIComponent(chatId)}` : `${location.pathname}${location.search}`;
    history.pushState(null, '', url);
  };
  return [openChatId, open] as const;
}
