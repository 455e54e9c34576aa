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

/** The chat and message an event concerns (the event store's columns). */
export function subjectOf(event: NumberedEvent): { chatId: string | null; messageId: string | null } {
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
      return { chatId: event.chatId, messageId: event.messageId };
    case 'balance.changed':
      return { chatId: null, messageId: null };
  }
}

/**
 * Events as notices for the bus, packed into as few as fit `maxBytes` each: a notice is a JSON
 * array of `[userId, seq, event]`, where an event too large to travel (a long message) is `0`
 * and is read from the event store by its number instead.
 */
export function packNotices(events: Array<{ userId: string; event: NumberedEvent }>, maxBytes: number): string[] {
  const notices: string[] = [];
  let entries: string[] = [];
  let size = 2;
  for (const { userId, event } of events) {
    let entry = JSON.stringify([userId, event.seq, event]);
    if (Buffer.byteLength(entry) + 2 > maxBytes) entry = JSON.stringify([userId, event.seq, 0]);
    const bytes = Buffer.byteLength(entry) + 1;
    if (entries.length > 0 && size + bytes > maxBytes) {
      notices.push(`[${entries.join(',')}]`);
      entries = [];
      size = 2;
    }
    entries.push(entry);
    size += bytes;
  }
  if (entries.length > 0) notices.push(`[${entries.join(',')}]`);
  return notices;
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
