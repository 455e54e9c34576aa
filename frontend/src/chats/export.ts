import type { ChatImport, Message } from '@parley/api-types';
import { fetchChatPage, fetchMessagePage } from './chats.api';

/** The documented export format (version 1): see specs/015-app-frame/spec.md. */
export interface ChatExport {
  format: 'parley.chat';
  version: 1;
  exportedAt: string;
  chat: { id: string; title: string; characterId: string; characterName: string };
  messages: Pick<Message, 'seq' | 'role' | 'content' | 'status' | 'createdAt' | 'replyToId'>[];
}

/**
 * All the user's chats in one file: each one exactly as the single-chat export writes it, so
 * importing an archive is importing each of its chats (see specs/015-app-frame/spec.md).
 */
export interface ChatArchive {
  format: 'parley.archive';
  version: 1;
  exportedAt: string;
  chats: ChatExport[];
}

/** Every chat of the user, newest first, and every message of each. */
export async function toArchive(
  characterName: (characterId: string) => string,
  now = new Date(),
): Promise<ChatArchive> {
  const chats: { id: string; title: string | null; characterId: string }[] = [];
  let cursor: string | undefined;
  for (;;) {
    const page = await fetchChatPage(cursor);
    chats.push(...page.items);
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }
  const exported: ChatExport[] = [];
  // One chat at a time: an archive of hundreds of chats should not fire hundreds of requests at once.
  for (const chat of chats) {
    const name = characterName(chat.characterId);
    const meta = { id: chat.id, title: chat.title ?? name, characterId: chat.characterId, characterName: name };
    exported.push(toJson(meta, await allMessages(chat.id), now));
  }
  return { format: 'parley.archive', version: 1, exportedAt: now.toISOString(), chats: exported };
}

/**
 * The chats a file holds: an archive's, or the file itself as one chat (the server then checks
 * it against the contract and says what is wrong). Null for an archive that is malformed.
 */
export function chatsIn(file: unknown): ChatImport[] | null {
  if (typeof file !== 'object' || file === null || (file as { format?: unknown }).format !== 'parley.archive') {
    return [file as ChatImport];
  }
  const { version, chats } = file as { version?: unknown; chats?: unknown };
  if (version !== 1 || !Array.isArray(chats)) return null;
  return chats as ChatImport[];
}

/** Every message of a chat, oldest first, read page by page from the newest. */
export async function allMessages(chatId: string): Promise<Message[]> {
  const pages: Message[][] = [];
  let before: number | undefined;
  for (;;) {
    const page = await fetchMessagePage(chatId, before);
    pages.unshift(page.items);
    if (!page.hasMore || page.nextBefore === null) break;
    before = page.nextBefore;
  }
  return pages.flat();
}

export function toJson(chat: ChatExport['chat'], messages: Message[], now = new Date()): ChatExport {
  return {
    format: 'parley.chat',
    version: 1,
    exportedAt: now.toISOString(),
    chat,
    messages: messages.map(({ seq, role, content, status, createdAt, replyToId }) => ({
      seq,
      role,
      content,
      status,
      createdAt,
      replyToId,
    })),
  };
}

/** The chat as a Markdown document: a heading per message with who wrote it and when. */
export function toMarkdown(chat: ChatExport['chat'], messages: Message[], youLabel: string): string {
  const parts = [`# ${chat.title}`, ''];
  for (const message of messages) {
    const author = message.role === 'user' ? youLabel : chat.characterName;
    parts.push(`## ${author} · ${message.createdAt}`, '', message.content, '');
  }
  return parts.join('\n');
}

/** Offers a file to save (a link to a Blob, clicked and dropped). */
export function download(name: string, type: string, content: string): void {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** A file name from a chat title: its words, no characters a file system refuses. */
export function fileName(title: string, extension: string): string {
  // Control characters and those Windows or macOS refuse in names become spaces.
  const cleaned = Array.from(title, (ch) => (ch < ' ' || '\\/:*?"<>|'.includes(ch) ? ' ' : ch)).join('');
  const base = cleaned.replace(/\s+/g, ' ').trim().slice(0, 80) || 'chat';
  return `${base}.${extension}`;
}
