import type { RealtimeEvent } from '@parley/api-types';

type WithoutSeq<T> = T extends unknown ? Omit<T, 'seq'> : never;

/**
 * An event before it is numbered: what a producer publishes. Two kinds are completed when they
 * are numbered, under the user's sequence lock, so that the last one numbered is never stale:
 * the balance (read then) and a message to announce as it is stored then (`reload`).
 */
export type EventDraft =
  | WithoutSeq<Exclude<RealtimeEvent, { type: 'balance.changed' }>>
  | { type: 'balance.changed' }
  | { type: 'message.updated'; chatId: string; reload: string };

/** A numbered event, as a socket receives it. */
export type NumberedEvent = RealtimeEvent;

/** An event as the numbering statement takes it: a message to announce already read. */
export type ReadyDraft = Exclude<EventDraft, { reload: string }>;

/** The chat and message an event concerns (the event store's columns). */
export function subjectOf(event: ReadyDraft): { chatId: string | null; messageId: string | null } {
  switch (event.type) {
    case 'chat.created':
    case 'chat.renamed':
      return { chatId: event.chat.id, messageId: null };
    case 'chat.title_updated':
    case 'chat.deleted':
    case 'chat.path_changed':
    case 'message.deleted':
      return { chatId: event.chatId, messageId: null };
    case 'message.created':
    case 'message.updated':
      return { chatId: event.chatId, messageId: event.message.id };
    case 'reply.delta':
    case 'reply.tool_call':
    case 'reply.tool_result':
      return { chatId: event.chatId, messageId: event.messageId };
    case 'balance.changed':
      return { chatId: null, messageId: null };
  }
}

// A coalesced delta stays a modest frame.
const MAX_COALESCED_TEXT = 4000;

/**
 * A batch with each reply's consecutive deltas joined into one (its first offset, the texts in
 * order), as long as nothing else about that chat came between: a socket applies the same text at
 * the same offsets from fewer events, and a loaded instance numbers and sends fewer rows.
 */
export function coalesceDeltas<T extends { userId: string; draft: EventDraft }>(batch: T[]): T[] {
  const out: T[] = [];
  // The position in `out` of the delta each reply may still extend, by user and reply.
  const open = new Map<string, number>();
  for (const item of batch) {
    const { draft } = item;
    if (draft.type !== 'reply.delta') {
      const chatId = 'chatId' in draft ? draft.chatId : 'chat' in draft ? draft.chat.id : null;
      if (chatId !== null) {
        for (const [key, at] of open) {
          const held = out[at]!.draft as Extract<EventDraft, { type: 'reply.delta' }>;
          if (out[at]!.userId === item.userId && held.chatId === chatId) open.delete(key);
        }
      }
      out.push(item);
      continue;
    }
    const key = `${item.userId}:${draft.messageId}`;
    const at = open.get(key);
    const held = at === undefined ? undefined : (out[at]!.draft as typeof draft);
    if (
      held &&
      held.offset + held.text.length === draft.offset &&
      held.text.length + draft.text.length <= MAX_COALESCED_TEXT
    ) {
      out[at!] = { ...out[at!]!, draft: { ...held, text: held.text + draft.text } };
      continue;
    }
    open.set(key, out.length);
    out.push({ ...item, draft: { ...draft } });
  }
  return out;
}

/** One entry of a notice: the user, the event's number, and the event unless it must be read. */
export type NoticeEntry = [userId: string, seq: number, event: NumberedEvent | 0];

/** Reads a notice; throws on anything that is not one (the bus is ours, but a notice is input). */
export function readNotice(notice: string): NoticeEntry[] {
  const parsed: unknown = JSON.parse(notice);
  if (!Array.isArray(parsed)) throw new Error('a notice is an array');
  return parsed.filter(
    (entry): entry is NoticeEntry =>
      Array.isArray(entry) && typeof entry[0] === 'string' && Number.isInteger(entry[1]) && entry.length === 3,
  );
}
