import { EventEmitter } from 'node:events';
import { jest } from '@jest/globals';
import type { Response } from 'express';
import fc from 'fast-check';
import type { StreamEvent } from '@parley/api-types';
import { CHAT, messageEntity, REPLY, USER_MESSAGE } from '../../test/support/turn-fixtures.js';
import { toMessageDto } from '../chats/chat.mapper.js';
import { AppError } from '../errors/app-error.js';
import { SseStream, resumePoint } from './sse-stream.js';

type Call =
  | { op: 'status'; code: number }
  | { op: 'setHeader'; name: string; value: string }
  | { op: 'write'; chunk: string }
  | { op: 'flushHeaders' | 'end' };

/**
 * The Response methods SseStream uses, each call recorded in order. A fake rather than a real
 * ServerResponse over a socket: what the stream promises is the order of calls on the response
 * (status and headers only with the first event, one write per tick, flushed before the end,
 * nothing once ended or closed), and a socket would turn that order into packet timing that a
 * test can only observe by racing it.
 */
class RecordingResponse extends EventEmitter {
  readonly calls: Call[] = [];
  writableEnded = false;
  writableFinished = false;
  destroyed = false;

  status(code: number): this {
    this.calls.push({ op: 'status', code });
    return this;
  }

  setHeader(name: string, value: string): this {
    this.calls.push({ op: 'setHeader', name: name.toLowerCase(), value });
    return this;
  }

  flushHeaders(): void {
    this.calls.push({ op: 'flushHeaders' });
  }

  write(chunk: string): boolean {
    // Node fails a write after end (ERR_STREAM_WRITE_AFTER_END); recorded so a test sees it.
    this.calls.push({ op: 'write', chunk: this.writableEnded ? `<after end>${chunk}` : chunk });
    return true;
  }

  end(): this {
    this.calls.push({ op: 'end' });
    this.writableEnded = true;
    return this;
  }

  /** The client went away (the socket closed before the response finished). */
  disconnect(): void {
    this.destroyed = true;
    this.emit('close');
  }

  /** The response was delivered; Node then emits `close` too. */
  finish(): void {
    this.writableFinished = true;
    this.emit('close');
  }

  get ops(): string[] {
    return this.calls.map((call) => call.op);
  }

  get header(): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const call of this.calls) if (call.op === 'setHeader') headers[call.name] = call.value;
    return headers;
  }

  /** The events on the wire, parsed; keep-alive comments as `{ comment }`. */
  get events(): Array<{ id: string; event: string; data: unknown } | { comment: string }> {
    const text = this.calls.map((call) => (call.op === 'write' ? call.chunk : '')).join('');
    return text
      .split('\n\n')
      .filter((block) => block !== '')
      .map((block) => {
        if (block.startsWith(':')) return { comment: block };
        const fields = Object.fromEntries(
          block.split('\n').map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
        );
        expect(Object.keys(fields)).toEqual(['id', 'event', 'data']);
        return { id: fields.id, event: fields.event, data: JSON.parse(fields.data) as unknown };
      });
  }
}

const started: StreamEvent = {
  type: 'turn_started',
  chatId: CHAT,
  userMessage: toMessageDto(messageEntity(USER_MESSAGE, 'user', { chatId: CHAT })),
  assistantMessage: toMessageDto(messageEntity(REPLY, 'assistant', { chatId: CHAT })),
};
const provider: StreamEvent = {
  type: 'provider',
  messageId: REPLY,
  provider: 'demo',
  model: 'm',
  demo: true,
  failover: false,
};
const delta = (text: string): StreamEvent => ({ type: 'delta', messageId: REPLY, text });

function open(offset?: number): { response: RecordingResponse; stream: SseStream } {
  const response = new RecordingResponse();
  // The one cast: the fake implements only the Response methods SseStream calls.
  return {
    response,
    stream: new SseStream(
      response as unknown as Response,
      offset === undefined ? undefined : { text: offset, tools: 0 },
    ),
  };
}

// The text offset an id resumes from.
function resumeOffset(lastEventId: string | string[] | undefined, messageId: string): number {
  return resumePoint(lastEventId, messageId).text;
}

describe(SseStream.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  describe('send', () => {
    it('writes nothing, not even a status or a header, when no event was sent yet', () => {
      const { response, stream } = open();
      stream.onDisconnect(() => undefined);
      jest.advanceTimersByTime(60_000);
      jest.runAllTicks();

      expect(stream.offset).toBe(0);
      expect(response.calls).toEqual([]);
    });

    it('answers 200 as an event stream, headers flushed before the first byte, when the first event is sent', () => {
      const { response, stream } = open();
      stream.send(started);
      jest.runAllTicks();

      expect(response.calls[0]).toEqual({ op: 'status', code: 200 });
      expect(response.header).toEqual({
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      });
      const flushed = response.ops.indexOf('flushHeaders');
      expect(response.ops.lastIndexOf('setHeader')).toBeLessThan(flushed);
      expect(response.ops.indexOf('write')).toBeGreaterThan(flushed);
      expect(response.ops.filter((op) => op === 'status')).toHaveLength(1);

      stream.send(provider);
      expect(response.ops.filter((op) => op === 'status' || op === 'flushHeaders')).toEqual(['status', 'flushHeaders']);
    });

    it('writes id, event and data, the id counting delivered text and events, when events are sent', () => {
      const { response, stream } = open();
      const failed: StreamEvent = { type: 'error', messageId: REPLY, problem: problem() };
      for (const event of [started, provider, delta('Hello'), delta(', 世界'), failed]) stream.send(event);
      jest.runAllTicks();

      expect(response.events).toEqual([
        { id: `${REPLY}:0.1`, event: 'turn_started', data: started },
        { id: `${REPLY}:0.2`, event: 'provider', data: provider },
        { id: `${REPLY}:5.3`, event: 'delta', data: delta('Hello') },
        { id: `${REPLY}:9.4`, event: 'delta', data: delta(', 世界') },
        { id: `${REPLY}:9.5`, event: 'error', data: failed },
      ]);
      expect(stream.offset).toBe(9);
    });

    it('counts on from the given offset when the stream resumes a reply', () => {
      const { response, stream } = open(42);
      stream.send(delta('abc'));
      stream.send(delta('de'));
      jest.runAllTicks();

      expect(response.events).toEqual([
        { id: `${REPLY}:45.1`, event: 'delta', data: delta('abc') },
        { id: `${REPLY}:47.2`, event: 'delta', data: delta('de') },
      ]);
      expect(stream.offset).toBe(47);
    });

    it('drops an empty delta, using up no id, when a provider sends one', () => {
      const { response, stream } = open();
      stream.send(delta('a'));
      stream.send(delta(''));
      stream.send(delta('b'));
      jest.runAllTicks();

      expect(response.events).toEqual([
        { id: `${REPLY}:1.1`, event: 'delta', data: delta('a') },
        { id: `${REPLY}:2.2`, event: 'delta', data: delta('b') },
      ]);
    });

    it('joins what is sent in one tick into one write on the next, when several events come at once', () => {
      const { response, stream } = open();
      stream.send(started);
      stream.send(provider);
      stream.send(delta('Hi'));
      expect(response.ops).not.toContain('write');

      jest.runAllTicks();
      const afterHeaders = response.ops.slice(response.ops.indexOf('flushHeaders') + 1);
      expect(afterHeaders).toEqual(['write']);
      expect(response.events).toHaveLength(3);

      stream.send(delta(' there'));
      jest.runAllTicks();
      expect(response.ops.filter((op) => op === 'write')).toHaveLength(2);
      expect(response.events).toHaveLength(4);
    });

    it('writes nothing when the client has gone away', () => {
      const { response, stream } = open();
      stream.send(started);
      jest.runAllTicks();
      const before = response.calls.length;

      response.disconnect();
      stream.send(delta('lost'));
      stream.end();
      jest.advanceTimersByTime(60_000);
      jest.runAllTicks();

      expect(stream.open).toBe(false);
      expect(response.calls).toHaveLength(before);
    });
  });

  describe('end', () => {
    it('ends once, and writes nothing more, when events or another end come after the end', () => {
      const { response, stream } = open();
      stream.send(started);
      stream.end();
      const ended = response.calls.length;

      stream.send(delta('late'));
      stream.end();
      jest.runAllTicks();

      expect(response.calls).toHaveLength(ended);
      expect(response.ops.filter((op) => op === 'end')).toHaveLength(1);
    });

    it('releases the tick’s writes before ending, and nothing follows the end, when ended in the tick of a write', () => {
      const { response, stream } = open();
      stream.send(started);
      stream.send(delta('Bye'));
      stream.end();
      expect(response.ops.slice(-2)).toEqual(['write', 'end']);
      expect(response.events).toHaveLength(2);

      const ended = response.calls.length;
      jest.runAllTicks();
      jest.advanceTimersByTime(60_000);
      jest.runAllTicks();
      expect(response.calls).toHaveLength(ended);
      expect(jest.getTimerCount()).toBe(0);
    });

    it('answers an empty 200 event stream when ended before any event', () => {
      const { response, stream } = open();
      stream.end();

      expect(response.ops[0]).toBe('status');
      expect(response.header['content-type']).toBe('text/event-stream; charset=utf-8');
      expect(response.ops.at(-1)).toBe('end');
      expect(response.ops).not.toContain('write');
    });
  });

  describe('keep-alive', () => {
    it('sends a comment every 15 s while the stream is open, and stops when it ends', () => {
      const { response, stream } = open();
      stream.send(started);
      jest.runAllTicks();

      jest.advanceTimersByTime(14_999);
      expect(response.events).toHaveLength(1);
      jest.advanceTimersByTime(1);
      jest.runAllTicks();
      expect(response.events.at(-1)).toEqual({ comment: ': keep-alive' });
      expect(response.ops.at(-1)).toBe('write');
      jest.advanceTimersByTime(15_000);
      jest.runAllTicks();
      expect(response.events).toHaveLength(3);

      stream.end();
      jest.runAllTicks();
      expect(jest.getTimerCount()).toBe(0);
    });

    it('stops when the client goes away', () => {
      const { response, stream } = open();
      stream.send(started);
      jest.runAllTicks();
      response.disconnect();

      expect(jest.getTimerCount()).toBe(0);
    });
  });

  describe('onDisconnect', () => {
    it('runs once when the client goes away before the end', () => {
      const { response, stream } = open();
      const calls: string[] = [];
      stream.onDisconnect(() => calls.push('gone'));
      stream.send(started);

      response.disconnect();
      response.emit('close');

      expect(calls).toEqual(['gone']);
    });

    it('does not run when the response was delivered', () => {
      const { response, stream } = open();
      const calls: string[] = [];
      stream.onDisconnect(() => calls.push('gone'));
      stream.send(started);
      stream.end();

      response.finish();

      expect(calls).toEqual([]);
    });
  });
});

describe(resumePoint.name, () => {
  const validId = (offset: number, n: number) => `${REPLY}:${offset}.${n}`;
  const ofThisReply = new RegExp(`^${REPLY}:\\d{1,9}\\.\\d{1,9}$`);

  function refusal(lastEventId: string | string[]): AppError {
    try {
      resumeOffset(lastEventId, REPLY);
    } catch (error) {
      if (error instanceof AppError) return error;
      throw error;
    }
    throw new Error(`${JSON.stringify(lastEventId)} was accepted`);
  }

  it('counts the tool events delivered, in the ids once there were any; an id without the count says so', () => {
    jest.useFakeTimers();
    try {
      const { response, stream } = open();
      const call = { id: 'c' } as unknown as Extract<StreamEvent, { type: 'tool_call' }>['call'];
      stream.send(delta('Rolling. '));
      stream.send({ type: 'tool_call', messageId: REPLY, call });
      stream.send({ type: 'tool_result', messageId: REPLY, call });
      stream.send(delta('A six.'));
      jest.runAllTicks();
      const ids = response.events.map((event) => ('id' in event ? event.id : ''));
      expect(ids.map((id) => resumePoint(id, REPLY))).toEqual([
        { text: 9, tools: null },
        { text: 9, tools: 1 },
        { text: 9, tools: 2 },
        { text: 15, tools: 2 },
      ]);
    } finally {
      jest.useRealTimers();
    }
  });

  it('starts at 0 when there is no Last-Event-ID', () => {
    expect(resumeOffset(undefined, REPLY)).toBe(0);
  });

  it('answers the text offset of an id of this reply', () => {
    fc.assert(
      fc.property(fc.nat({ max: 999_999_999 }), fc.nat({ max: 999_999_999 }), (offset, n) => {
        expect(resumeOffset(validId(offset, n), REPLY)).toBe(offset);
      }),
    );
  });

  it('answers, for every id a stream wrote, the text delivered up to that event', () => {
    jest.useFakeTimers();
    try {
      fc.assert(
        fc.property(fc.nat({ max: 1000 }), fc.array(fc.string(), { maxLength: 12 }), (start, texts) => {
          const { response, stream } = open(start);
          let delivered = start;
          const expected: number[] = [];
          for (const text of texts) {
            stream.send(delta(text));
            if (text !== '') expected.push((delivered += text.length));
          }
          jest.runAllTicks();
          const ids = response.events.map((event) => ('id' in event ? event.id : ''));
          expect(ids.map((id) => resumeOffset(id, REPLY))).toEqual(expected);
        }),
      );
    } finally {
      jest.useRealTimers();
    }
  });

  it.each([
    ['another reply’s id', `0b9d6c3e-8a41-4f0e-b2f7-51c6e2a9d370:5.1`],
    ['the id in capitals', validId(5, 1).toUpperCase()],
    ['no event number', `${REPLY}:5`],
    ['an offset past nine digits', `${REPLY}:1234567890.1`],
    ['a negative offset', `${REPLY}:-5.1`],
    ['something before the id', ` ${validId(5, 1)}`],
    ['something after the id', `${validId(5, 1)}x`],
    ['the reply id alone', REPLY],
    ['an empty header', ''],
  ])('refuses %s with validation_failed at /Last-Event-ID', (_case, lastEventId) => {
    const error = refusal(lastEventId);
    expect(error.code).toBe('validation_failed');
    expect(error.details.errors).toEqual([
      expect.objectContaining({ location: 'header', pointer: '/Last-Event-ID', keyword: 'event_id' }),
    ]);
  });

  it('refuses a repeated header, even when it holds an id of this reply', () => {
    expect(refusal([validId(5, 1)]).code).toBe('validation_failed');
    expect(refusal([validId(5, 1), validId(6, 2)]).code).toBe('validation_failed');
  });

  it('refuses any other string with validation_failed at /Last-Event-ID', () => {
    const nearMisses = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.tuple(fc.uuid(), fc.nat(), fc.nat()).map(([id, offset, n]) => `${id}:${offset}.${n}`),
      fc.string().map((tail) => `${REPLY}:${tail}`),
      fc.tuple(fc.string(), fc.nat(), fc.nat(), fc.string()).map(([a, o, n, b]) => `${a}${validId(o, n)}${b}`),
    );
    fc.assert(
      fc.property(
        nearMisses.filter((value) => !ofThisReply.test(value)),
        (lastEventId) => {
          const error = refusal(lastEventId);
          expect(error.code).toBe('validation_failed');
          expect(error.details.errors?.[0]).toMatchObject({ location: 'header', pointer: '/Last-Event-ID' });
        },
      ),
    );
  });
});

function problem() {
  return {
    type: 'urn:parley:problem:provider_unavailable',
    title: 'provider_unavailable',
    status: 503,
    code: 'provider_unavailable' as const,
    messageKey: 'errors.provider_unavailable',
    message: 'The model provider is unavailable.',
    retryable: true,
    retryAfterSeconds: 5,
    breakerState: null,
    requestId: 'req-1',
  };
}
