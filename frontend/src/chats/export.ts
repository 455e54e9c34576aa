import type { Message } from '@parley/api-types';
import { fetchMessagePage } from './chats.api';

/** The documented export format (version 1): see specs/015-app-frame/spec.md. */
export interface ChatExport {
  format: 'parley.chat';
  version: 1;
  exportedAt: string;
  chat: { id: string; title: string; characterId: string; characterName: string };
  messages: Pick<Message, 'seq' | 'role' | 'content' | 'status' | 'createdAt' | 'replyToId'>[];
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
