import { createParser } from 'eventsource-parser';
import type { StreamEvent } from '@parley/api-types';

/** One server-sent event as received: its fields, and its `data` parsed from JSON. */
export interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: StreamEvent;
}

/**
 * Parses a complete text/event-stream body (tests read streams to their end) with a real
 * event-stream parser, so a stream our code writes wrongly fails here as it would in a client.
 * Throws on a line the format does not allow or data that is not JSON.
 */
export function parseSse(body: string): SseEvent[] {
  const events: SseEvent[] = [];
  const parser = createParser({
    onEvent: (message) => events.push({ id: message.id, event: message.event, data: JSON.parse(message.data) }),
    onError: (error) => {
      throw error;
    },
  });
  parser.feed(body);
  return events;
}

/** The events of a stream, narrowed by their type: `ofType(events, 'delta')`. */
export function ofType<T extends StreamEvent['type']>(
  events: SseEvent[],
  type: T,
): Array<Extract<StreamEvent, { type: T }>> {
  return events.map((e) => e.data).filter((d): d is Extract<StreamEvent, { type: T }> => d.type === type);
}
