import http from 'node:http';

export interface RawRequest {
  method: string;
  /** Already encoded, query included. */
  path: string;
  headers: Record<string, string | string[]>;
  body?: Buffer;
  /** Send the body with `Transfer-Encoding: chunked` instead of a `Content-Length`. */
  chunked?: boolean;
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

export interface SseEvent {
  id?: string;
  event?: string;
  data?: string;
  /** Field lines other than id, event and data (the contract writes exactly those three). */
  other: string[];
}

/**
 * Sends a request byte for byte as described (any method Node's parser knows, any header value
 * Node lets through, any body bytes) on a connection of its own, and reads the whole response —
 * streams to their end. `onData` sees the body as it arrives (to act while a reply streams).
 */
export function sendRaw(
  port: number,
  request: RawRequest,
  timeoutMs: number,
  onData?: (received: Buffer) => void,
): Promise<RawResponse> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | string[]> = { ...request.headers };
    // Explicit framing: Node would otherwise send a GET's body unframed (no length, not chunked).
    if (request.body && !request.chunked) headers['Content-Length'] = String(request.body.length);
    if (request.body && request.chunked) headers['Transfer-Encoding'] = 'chunked';
    const outgoing = http.request({
      host: '127.0.0.1',
      port,
      method: request.method,
      path: request.path,
      headers,
      agent: false,
      setHost: true,
    });
    const timer = setTimeout(() => {
      outgoing.destroy(new Error(`no complete response within ${timeoutMs} ms`));
    }, timeoutMs);
    outgoing.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    outgoing.on('response', (incoming) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        onData?.(Buffer.concat(chunks));
      });
      incoming.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      incoming.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: incoming.statusCode ?? 0,
          headers: incoming.headers,
          body: Buffer.concat(chunks),
          ms: performance.now() - started,
        });
      });
    });
    if (request.body && request.chunked) {
      // Two chunks, so the server cannot rely on one read.
      const half = Math.floor(request.body.length / 2);
      outgoing.write(request.body.subarray(0, half));
      outgoing.end(request.body.subarray(half));
    } else {
      outgoing.end(request.body);
    }
  });
}

/** The events of a `text/event-stream` body (comments dropped), field by field as written. */
export function parseEventStream(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split(/\r\n\r\n|\n\n|\r\r/)) {
    const lines = block.split(/\r\n|\n|\r/).filter((line) => line.length > 0 && !line.startsWith(':'));
    if (lines.length === 0) continue;
    const event: SseEvent = { other: [] };
    for (const line of lines) {
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'id') event.id = value;
      else if (field === 'event') event.event = value;
      else if (field === 'data') event.data = event.data === undefined ? value : `${event.data}\n${value}`;
      else event.other.push(line);
    }
    events.push(event);
  }
  return events;
}
