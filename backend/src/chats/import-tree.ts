import type { ChatImport } from '@parley/api-types';
import { AppError } from '../errors/app-error.js';
import type { MessageDraft } from './messages.repository.js';

/** An imported chat's shape: each message's parent (an index into the file's list) and the active leaf. */
export interface ImportedTree {
  parents: Array<number | null>;
  leaf: number;
}

/**
 * The tree a `parley.chat` file describes. Version 2 names each message's parent by the file's
 * ids, always an earlier message (so numbering in file order keeps a parent's seq below its
 * child's); without parents (version 1) the messages are one path in order. Anything else is
 * the client's mistake: 400 with the field.
 */
export function importedTree(file: Pick<ChatImport, 'chat' | 'messages'>): ImportedTree {
  const { messages } = file;
  const hasTree = messages.some((m) => m.parentId !== undefined);
  if (!hasTree) return { parents: messages.map((_, i) => (i === 0 ? null : i - 1)), leaf: messages.length - 1 };
  const index = new Map<string, number>();
  const parents = messages.map((message, i) => {
    const parent = message.parentId ?? null;
    if (i === 0 && parent !== null) throw invalid(`/messages/0/parentId`, 'the first message has no parent');
    if (i > 0 && (parent === null || !index.has(parent)))
      throw invalid(`/messages/${i}/parentId`, 'must name the id of an earlier message');
    if (message.id === undefined) throw invalid(`/messages/${i}/id`, 'every message of a tree needs an id');
    if (index.has(message.id)) throw invalid(`/messages/${i}/id`, 'ids must be unique');
    index.set(message.id, i);
    return parent === null ? null : index.get(parent)!;
  });
  const leafId = file.chat.activeLeafId;
  if (leafId === undefined || leafId === null) return { parents, leaf: messages.length - 1 };
  const leaf = index.get(leafId);
  if (leaf === undefined) throw invalid('/chat/activeLeafId', 'must name the id of a message of the file');
  return { parents, leaf };
}

function invalid(pointer: string, message: string): AppError {
  return new AppError('validation_failed', { errors: [{ location: 'body', pointer, message }] });
}

/** The finish reasons an imported complete reply keeps: those that let it be continued. */
const CONTINUABLE = new Set(['max_tokens', 'tool_limit']);

/**
 * A message of a `parley.chat` file as it is stored: complete, save a reply exported as stopped
 * (`cancelled`), which stays stopped; a complete reply cut off at a limit keeps why, so that it
 * can still be continued. Other statuses (a failed or unfinished reply) are imported as complete.
 */
export function importedMessage(message: ChatImport['messages'][number]): MessageDraft {
  const reply = message.role === 'assistant';
  const stopped = reply && message.status === 'cancelled';
  const finishReason =
    reply && !stopped && CONTINUABLE.has(message.finishReason ?? '') ? message.finishReason : undefined;
  return {
    role: message.role,
    content: message.content,
    status: stopped ? 'cancelled' : 'complete',
    metadata: finishReason ? { imported: true, finishReason } : { imported: true },
  };
}
