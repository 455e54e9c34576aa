import { describe, expect, it } from 'vitest';
import { createParleyClient } from './client.js';
import { ApiError, NetworkError } from './errors.js';
import {
  cancelMessage,
  continueMessageStream,
  editMessageStream,
  followMessage,
  regenerateMessageStream,
  sendMessageStream,
} from './turns.js';

const baseUrl = 'http://parley.test';
const CHAT = '7d9e4b2a-1c3f-4e5d-8a6b-9c0d1e2f3a4b';
const REPLY = '9f8e7d6c-5b4a-4c3d-9e2f-1a0b9c8d7e6f';

const delta = { type: 'delta', messageId: REPLY, text: 'Aye.' };
const done = { type: 'done', messageId: REPLY, result: {} };
const sse = (...data: { type: string }[]) =>
  data.map((d, n) => `id: ${REPLY}:${n}.${n + 1}\nevent: ${d.type}\ndata: ${JSON.stringify(d)}\n\n`).join('');

const streamResponse = (text: string) =>
  new Response(text, { status: 200, headers: { 'Content-Type': 'text/event-stream', 'X-Request-Id': 'req-s' } });

// Stands in for the network: records each Request the client sends and answers it (an aborted
// request fails, as with a real fetch).
function server(respond: (request: Request) => Response | Promise<Response> = () => streamResponse(sse(delta, done))) {
  const requests: Request[] = [];
  const client = createParleyClient({
    baseUrl,
    fetch: async (request: Request) => {
      requests.push(request);
      request.signal.throwIfAborted();
      return respond(request);
    },
  });
  return { client, requests };
}

async function collect(stream: { events: AsyncIterable<{ event: { type: string } }> }) {
  const types: string[] = [];
  for await (const { event } of stream.events) types.push(event.type);
  return types;
}

const problem = {
  type: 'https://parley.example/problems/breaker_open',
  title: 'Breaker open',
  status: 503,
  code: 'breaker_open',
  messageKey: 'errors.breaker_open',
  message: 'Too many failures; try again shortly.',
  retryable: true,
  retryAfterSeconds: 7,
  breakerState: 'open',
  requestId: 'req-503',
};

describe(sendMessageStream.name, () => {
  it('posts the message to the streaming form with its Idempotency-Key and yields the events', async () => {
    const { client, requests } = server();

    const stream = await sendMessageStream(client, { chatId: CHAT, content: 'Hello', idempotencyKey: 'key-1' });

    expect(await collect(stream)).toEqual(['delta', 'done']);
    expect(stream.response.headers.get('X-Request-Id')).toBe('req-s');
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`${baseUrl}/api/v1/chats/${CHAT}/messages/stream`);
    expect(request?.headers.get('Idempotency-Key')).toBe('key-1');
    expect(request?.headers.get('Accept')).toBe('text/event-stream');
    expect(request?.headers.has('Last-Event-ID')).toBe(false);
    expect(await request?.json()).toEqual({ content: 'Hello' });
  });

  it('sends Last-Event-ID when resuming a repeat of the same request', async () => {
    const { client, requests } = server();

    await sendMessageStream(client, { chatId: CHAT, content: 'Hello', idempotencyKey: 'key-1', lastEventId: 'x:4.2' });

    expect(requests[0]?.headers.get('Last-Event-ID')).toBe('x:4.2');
  });

  it('throws an ApiError with the problem when the turn is refused', async () => {
    const { client } = server(() =>
      Response.json(problem, {
        status: 503,
        headers: { 'Content-Type': 'application/problem+json', 'Retry-After': '7' },
      }),
    );

    const refused = sendMessageStream(client, { chatId: CHAT, content: 'Hello', idempotencyKey: 'k' });

    await expect(refused).rejects.toBeInstanceOf(ApiError);
    await expect(refused).rejects.toMatchObject({
      status: 503,
      code: 'breaker_open',
      requestId: 'req-503',
      retryAfterSeconds: 7,
    });
  });

  it('throws a NetworkError when no answer comes, and the abort reason when aborted', async () => {
    const offline = server(() => Promise.reject(new TypeError('Failed to fetch')));
    await expect(
      sendMessageStream(offline.client, { chatId: CHAT, content: 'Hello', idempotencyKey: 'k' }),
    ).rejects.toBeInstanceOf(NetworkError);

    const controller = new AbortController();
    controller.abort(new DOMException('left', 'AbortError'));
    const aborted = server();
    await expect(
      sendMessageStream(aborted.client, {
        chatId: CHAT,
        content: 'Hello',
        idempotencyKey: 'k',
        signal: controller.signal,
      }),
    ).rejects.toMatchObject({ name: 'AbortError', message: 'left' });
  });
});

describe(regenerateMessageStream.name, () => {
  it('posts to the reply’s streaming regenerate form with its key', async () => {
    const { client, requests } = server();

    const stream = await regenerateMessageStream(client, { chatId: CHAT, messageId: REPLY, idempotencyKey: 'key-2' });

    expect(await collect(stream)).toEqual(['delta', 'done']);
    expect(requests[0]?.method).toBe('POST');
    expect(requests[0]?.url).toBe(`${baseUrl}/api/v1/chats/${CHAT}/messages/${REPLY}/regenerate/stream`);
    expect(requests[0]?.headers.get('Idempotency-Key')).toBe('key-2');
  });
});

describe(editMessageStream.name, () => {
  it('posts the new words to the message’s streaming edit form with its key', async () => {
    const { client, requests } = server();

    const stream = await editMessageStream(client, {
      chatId: CHAT,
      messageId: REPLY,
      content: 'Hello again',
      idempotencyKey: 'key-e',
      lastEventId: 'evt-1',
    });

    expect(await collect(stream)).toEqual(['delta', 'done']);
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`${baseUrl}/api/v1/chats/${CHAT}/messages/${REPLY}/edit/stream`);
    expect(request?.headers.get('Idempotency-Key')).toBe('key-e');
    expect(request?.headers.get('Last-Event-ID')).toBe('evt-1');
    expect(request?.headers.get('Accept')).toBe('text/event-stream');
    expect(await request?.json()).toEqual({ content: 'Hello again' });
  });
});

describe(continueMessageStream.name, () => {
  it('posts to the reply’s streaming continue form with its key and no body', async () => {
    const { client, requests } = server();

    const stream = await continueMessageStream(client, { chatId: CHAT, messageId: REPLY, idempotencyKey: 'key-c' });

    expect(await collect(stream)).toEqual(['delta', 'done']);
    const [request] = requests;
    expect(request?.method).toBe('POST');
    expect(request?.url).toBe(`${baseUrl}/api/v1/chats/${CHAT}/messages/${REPLY}/continue/stream`);
    expect(request?.headers.get('Idempotency-Key')).toBe('key-c');
    expect(await request?.text()).toBe('');
  });

  it('throws an ApiError with the problem when the reply cannot be continued', async () => {
    const refusal = { ...problem, status: 409, code: 'message_not_continuable', retryable: false };
    const { client } = server(
      () =>
        new Response(JSON.stringify(refusal), { status: 409, headers: { 'Content-Type': 'application/problem+json' } }),
    );

    const error = await continueMessageStream(client, {
      chatId: CHAT,
      messageId: REPLY,
      idempotencyKey: 'key-c',
    }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('message_not_continuable');
  });
});

describe(followMessage.name, () => {
  it('gets the reply’s stream, after the last event when given', async () => {
    const { client, requests } = server();

    await collect(await followMessage(client, { chatId: CHAT, messageId: REPLY }));
    await collect(await followMessage(client, { chatId: CHAT, messageId: REPLY, lastEventId: `${REPLY}:12.3` }));

    expect(requests.map((r) => [r.method, r.url])).toEqual([
      ['GET', `${baseUrl}/api/v1/chats/${CHAT}/messages/${REPLY}/stream`],
      ['GET', `${baseUrl}/api/v1/chats/${CHAT}/messages/${REPLY}/stream`],
    ]);
    expect(requests[0]?.headers.has('Last-Event-ID')).toBe(false);
    expect(requests[1]?.headers.get('Last-Event-ID')).toBe(`${REPLY}:12.3`);
  });

  it('throws a NetworkError when the stream is cut before its terminal event', async () => {
    const { client } = server(() => streamResponse(sse(delta)));

    const stream = await followMessage(client, { chatId: CHAT, messageId: REPLY });

    await expect(collect(stream)).rejects.toBeInstanceOf(NetworkError);
  });
});

describe(cancelMessage.name, () => {
  it('answers the stopped reply, or throws the refusal', async () => {
    const stopped = { id: REPLY, status: 'cancelled' };
    const ok = server(() => Response.json(stopped));
    expect(await cancelMessage(ok.client, { chatId: CHAT, messageId: REPLY })).toEqual(stopped);
    expect(ok.requests[0]?.url).toBe(`${baseUrl}/api/v1/chats/${CHAT}/messages/${REPLY}/cancel`);

    const finished = server(() =>
      Response.json(
        { ...problem, status: 409, code: 'message_not_cancellable', retryable: false, retryAfterSeconds: null },
        { status: 409, headers: { 'Content-Type': 'application/problem+json' } },
      ),
    );
    await expect(cancelMessage(finished.client, { chatId: CHAT, messageId: REPLY })).rejects.toMatchObject({
      code: 'message_not_cancellable',
    });
  });
});
