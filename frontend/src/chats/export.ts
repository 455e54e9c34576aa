import type { ChatImport, Message } from '@parley/api-types';
import { fetchChatPage, fetchMessagePage, fetchTreePage } from './chats.api';

/** Who a chat is with and what it is called, as an export names it. */
export interface ExportedChat {
  id: string;
  title: string;
  characterId: string;
  characterName: string;
}

/**
 * The documented export format, version 2: every message of every branch, each with its `id`
 * and `parentId`, and the chat's `activeLeafId` (specs/009-conversation-tree/app.md). `importChat`
 * takes it back as the same tree, a stopped reply still stopped and a cut-off one still cut off.
 */
export interface ChatExport {
  format: 'parley.chat';
  version: 2;
  exportedAt: string;
  chat: ExportedChat & { activeLeafId: string | null };
  messages: Pick<
    Message,
    'id' | 'parentId' | 'seq' | 'role' | 'content' | 'status' | 'finishReason' | 'createdAt' | 'replyToId'
  >[];
}

/** A chat's whole tree: its messages in ascending seq (parents first) and where its active path ends. */
export interface ChatTree {
  messages: Message[];
  activeLeafId: string | null;
}

/**
 * All the user's chats in one file: each one exactly as the single-chat export writes it, so
 * importing an archive is importing each of its chats (see specs/015-app-frame/spec.md). The
 * archive's own shape did not change when its chats became version 2: it stays version 1.
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
    exported.push(toJson(meta, await wholeTree(chat.id), now));
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

/**
 * Every message of a chat on every branch, page by page in ascending seq (`getChatTree`), and
 * the active leaf as the last page gives it: messages arrive only with larger seqs, so the last
 * page's leaf is among the messages read.
 */
export async function wholeTree(chatId: string): Promise<ChatTree> {
  const messages: Message[] = [];
  let after: number | undefined;
  for (;;) {
    const page = await fetchTreePage(chatId, after);
    messages.push(...page.items);
    if (!page.hasMore || page.nextAfter === null) return { messages, activeLeafId: page.activeLeafId };
    after = page.nextAfter;
  }
}

export function toJson(chat: ExportedChat, tree: ChatTree, now = new Date()): ChatExport {
  return {
    format: 'parley.chat',
    version: 2,
    exportedAt: now.toISOString(),
    chat: { ...chat, activeLeafId: tree.activeLeafId },
    messages: tree.messages.map(({ id, parentId, seq, role, content, status, finishReason, createdAt, replyToId }) => ({
      id,
      parentId,
      seq,
      role,
      content,
      status,
      finishReason,
      createdAt,
      replyToId,
    })),
  };
}

/** The chat as a Markdown document (its active path): a heading per message with who wrote it and when. */
export function toMarkdown(chat: ExportedChat, messages: Message[], youLabel: string): string {
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
