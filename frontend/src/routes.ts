// The app's addresses. The backend answers each with index.html (backend/src/web), so a reload or
// a shared link opens the same screen.
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const paths = {
  home: '/',
  newChat: '/new',
  settings: '/settings',
  chat: (chatId: string) => `/chats/${encodeURIComponent(chatId)}`,
  /** A chat opened at one of its messages (a search hit). */
  chatAt: (chatId: string, seq: number) => `/chats/${encodeURIComponent(chatId)}?at=${seq}`,
  search: (q: string) => `/search?q=${encodeURIComponent(q)}`,
};

/** The message position in `?at=`, or null. */
export function seqFrom(param: string | undefined): number | null {
  const seq = Number(param);
  return Number.isInteger(seq) && seq >= 1 ? seq : null;
}

/** A chat id from the address, or null when it is not one (a mistyped link shows the list). */
export function chatIdFrom(param: string | undefined): string | null {
  return param && UUID.test(param) ? param : null;
}

/** The real address for an old `#/chats/<id>` link, or null. */
export function movedFromHash(hash: string): string | null {
  const prefix = '#/chats/';
  if (!hash.startsWith(prefix)) return null;
  const chatId = chatIdFrom(decodeURIComponent(hash.slice(prefix.length)));
  return chatId ? paths.chat(chatId) : null;
}
