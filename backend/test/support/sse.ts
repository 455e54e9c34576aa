export interface SseEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

// Parses a complete text/event-stream body (the tests read streams to their end).
export function parseSse(body: string): SseEvent[] {
  return body
    .split('\n\n')
    .map((block) => block.split('\n').filter((line) => line && !line.startsWith(':')))
    .filter((lines) => lines.length > 0)
    .map((lines) => {
      const field = (name: string) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
      return { id: field('id'), event: field('event') ?? 'message', data: JSON.parse(field('data') ?? '{}') };
    });
}
