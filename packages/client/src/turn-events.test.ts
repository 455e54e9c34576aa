import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NetworkError, StreamFormatError } from './errors.js';
import { readTurnEvents, type TurnEvent } from './turn-events.js';

const REPLY = '9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f';
const message = (seq: number, role: 'user' | 'assistant', content: string) => ({
  id: seq === 2 ? '5a4b3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d' : REPLY,
  chatId: '7d9e4b2a-1c3f-4e5d-8a6b-9c0d1e2f3a4b',
  seq,
  role,
  content,
  status: role === 'user' ? 'complete' : 'pending',
  errorCode: null,
  replyToId: null,
  provider: null,
  model: null,
  degraded: false,
  usage: null,
  attempts: 0,
  createdAt: '2025-05-01T10:00:00.120Z',
  updatedAt: '2025-05-01T10:00:00.120Z',
});

// A whole turn as the server writes it, with text outside ASCII so that chunk boundaries can
// fall inside a character's bytes.
const events = [
  {
    type: 'turn_started',
    chatId: '7d9e4b2a-1c3f-4e5d-8a6b-9c0d1e2f3a4b',
    userMessage: message(2, 'user', '信号从哪里来？'),
    assistantMessage: message(3, 'assistant', ''),
  },
  { type: 'provider', messageId: REPLY, provider: 'demo', model: 'parley-demo', demo: true, failover: false },
  { type: 'retry', messageId: REPLY, attempt: 2, delayMs: 250, reason: 'provider_unavailable' },
  { type: 'delta', messageId: REPLY, text: '冰卫星 🛰️, ' },
  { type: 'delta', messageId: REPLY, text: 'captain.' },
  {
    type: 'error',
    messageId: REPLY,
    problem: {
      type: 'https://parley.example/problems/turn_cancelled',
      title: 'Turn cancelled',
      status: 409,
      code: 'turn_cancelled',
      messageKey: 'errors.turn_cancelled',
      message: 'The reply was stopped.',
      retryable: false,
      retryAfterSeconds: null,
      breakerState: null,
      requestId: 'req-1',
    },
  },
] as const;

const ids = events.map((_, n) => `${REPLY}:${n * 10}.${n + 1}`);

function block(id: string, data: { type: string }, name: string = data.type): string {
  return `id: ${id}\nevent: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

const wire = events.map((event, n) => block(ids[n]!, event)).join(': keep-alive\n\n');
const expected: TurnEvent[] = events.map((event, n) => ({ id: ids[n]!, event }) as TurnEvent);

/** A response body delivering these chunks, then ending (or failing with `error`). */
function body(chunks: (string | Uint8Array)[], end: { error?: unknown; hold?: boolean } = {}) {
  const encoder = new TextEncoder();
  let cancelled = false;
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === 'string' ? encoder.encode(chunk) : chunk);
      if (end.error !== undefined) controller.error(end.error);
      else if (!end.hold) controller.close();
    },
    cancel() {
      cancelled = true;
    },
  });
  return { stream, cancelled: () => cancelled };
}

/** Splits bytes at the given positions. */
function splitAt(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts)].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const point of points) {
    pieces.push(bytes.slice(from, point));
    from = point;
  }
  pieces.push(bytes.slice(from));
  return pieces;
}

async function readAll(stream: ReadableStream<Uint8Array>, signal?: AbortSignal): Promise<TurnEvent[]> {
  const seen: TurnEvent[] = [];
  for await (const event of readTurnEvents(stream, signal)) seen.push(event);
  return seen;
}

describe(readTurnEvents.name, () => {
  it('yields each event with its id and parsed data, in order, skipping comments', async () => {
    expect(await readAll(body([wire]).stream)).toEqual(expected);
  });

  it('yields the same events however the bytes are split into chunks, with any line ending', async () => {
    const lines = fc
      .constantFrom('\n', '\r\n', '\r')
      .map((ending) => new TextEncoder().encode(wire.replaceAll('\n', ending)));
    const split = lines.chain((bytes) =>
      fc.tuple(fc.constant(bytes), fc.array(fc.integer({ min: 1, max: bytes.length - 1 }), { maxLength: 40 })),
    );
    await fc.assert(
      fc.asyncProperty(split, async ([bytes, cuts]) => {
        expect(await readAll(body(splitAt(bytes, cuts)).stream)).toEqual(expected);
      }),
    );
  });

  it('reads events split at every single position', async () => {
    const bytes = new TextEncoder().encode(wire);
    for (let at = 1; at < bytes.length; at++) {
      expect(await readAll(body(splitAt(bytes, [at])).stream)).toEqual(expected);
    }
  });

  it('reads CRLF and CR line endings as LF', async () => {
    expect(await readAll(body([wire.replaceAll('\n', '\r\n')]).stream)).toEqual(expected);
    expect(await readAll(body([wire.replaceAll('\n', '\r')]).stream)).toEqual(expected);
  });

  it('stops after the terminal event and lets go of the body', async () => {
    const done = { type: 'done', messageId: REPLY, result: {} };
    const { stream, cancelled } = body([block('a:1.1', events[3]), block('a:1.2', done)], { hold: true });

    const seen = await readAll(stream);

    expect(seen.map((e) => e.event.type)).toEqual(['delta', 'done']);
    expect(cancelled()).toBe(true);
  });

  it('skips event types it does not know (a newer server), but not their checks', async () => {
    const unknown = block('a:1.1', { type: 'song_request' });
    expect(await readAll(body([unknown, wire]).stream)).toEqual(expected);
  });

  it('rejects an event whose name differs from its data type', async () => {
    const mismatched = block('a:1.1', events[3], 'done');
    await expect(readAll(body([mismatched, wire]).stream)).rejects.toBeInstanceOf(StreamFormatError);
  });

  it('rejects an event without a name, and data that is not JSON', async () => {
    await expect(readAll(body([`id: a:1.1\ndata: ${JSON.stringify(events[3])}\n\n`]).stream)).rejects.toThrow(
      StreamFormatError,
    );
    await expect(readAll(body(['id: a:1.1\nevent: delta\ndata: {"type":\n\n']).stream)).rejects.toThrow(
      StreamFormatError,
    );
  });

  it('throws a NetworkError when the body ends before the terminal event', async () => {
    const cutAfterEvent = wire.slice(0, wire.indexOf('event: error'));
    const cutMidEvent = wire.slice(0, wire.lastIndexOf('}') - 3);
    // A terminal event without its closing blank line was not received whole.
    const unterminated = wire.slice(0, -1);
    for (const cut of [cutAfterEvent, cutMidEvent, unterminated, '']) {
      const seen: TurnEvent[] = [];
      const reading = (async () => {
        for await (const event of readTurnEvents(body([cut]).stream)) seen.push(event);
      })();
      await expect(reading).rejects.toBeInstanceOf(NetworkError);
      expect(seen.at(-1)?.event.type).not.toBe('error');
    }
  });

  it('throws a NetworkError, with the cause, when the body fails mid-stream', async () => {
    const reset = new TypeError('terminated');
    const reading = readAll(body([block(ids[0]!, events[0])], { error: reset }).stream);
    await expect(reading).rejects.toMatchObject({ name: 'NetworkError', cause: reset });
  });

  it('throws the abort reason and cancels the body when the signal aborts', async () => {
    const { stream, cancelled } = body([block(ids[0]!, events[0])], { hold: true });
    const controller = new AbortController();
    const seen: TurnEvent[] = [];
    const reading = (async () => {
      for await (const event of readTurnEvents(stream, controller.signal)) {
        seen.push(event);
        controller.abort(new DOMException('left the chat', 'AbortError'));
      }
    })();

    await expect(reading).rejects.toMatchObject({ name: 'AbortError', message: 'left the chat' });
    expect(seen).toHaveLength(1);
    expect(cancelled()).toBe(true);
  });
});
