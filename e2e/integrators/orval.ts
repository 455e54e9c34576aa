// An integrator's walk through Parley's API with the client orval generates from the contract: its
// axios client for every call, and its zod schemas for what axios cannot type (stream events, the
// bodies of errors). Streams are read as they arrive (axios `responseType: 'stream'`) and parsed
// with eventsource-parser. No casts and no hand-written requests. Run by run.mjs against the
// production build; PARLEY_BASE_URL names the server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { inspect } from 'node:util';
import axios, { isAxiosError, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { getParleyAPI, type Chat, type ErrorCode, type Message } from './generated/orval/api.js';
import {
  Problem as ProblemSchema,
  StreamEvent as StreamEventSchema,
  type ProblemOutput,
  type StreamEventOutput,
} from './generated/orval/schemas.zod.js';

const baseURL = process.env.PARLEY_BASE_URL;
assert.ok(baseURL, 'set PARLEY_BASE_URL to the server under test');

const http = axios.create({ baseURL, timeout: 20_000 });
const api = getParleyAPI(http);

// --- helpers ----------------------------------------------------------------------------------

let passed = 0;
async function step<T>(name: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const value = await run();
    passed += 1;
    process.stdout.write(`ok   ${name} (${Math.round(performance.now() - started)} ms)\n`);
    return value;
  } catch (error) {
    process.stdout.write(`FAIL ${name}\n`);
    throw error;
  }
}

async function textOf(body: Readable): Promise<string> {
  let text = '';
  body.setEncoding('utf8');
  for await (const chunk of body) {
    if (typeof chunk !== 'string') assert.fail('a text stream gave bytes');
    text += chunk;
  }
  return text;
}

interface Refusal {
  status: number;
  problem: ProblemOutput;
}

/**
 * The error a call is answered with: axios rejects every non-2xx; its body (parsed JSON, or a
 * stream when the call asked for one) is checked against the contract's Problem schema, its
 * status and code, the request id of its header, and `Retry-After` exactly when
 * `retryAfterSeconds` is set, equal to it.
 */
async function expectProblem(call: Promise<unknown>, status: number, code: ErrorCode): Promise<Refusal> {
  let failure: unknown;
  try {
    await call;
  } catch (error) {
    failure = error;
  }
  if (!isAxiosError(failure) || failure.response === undefined) {
    assert.fail(`expected ${status} ${code}, got ${inspect(failure)}`);
  }
  const { headers, data } = failure.response;
  assert.equal(failure.response.status, status);
  assert.match(String(headers['content-type']), /^application\/problem\+json/);
  const body: unknown = data instanceof Readable ? JSON.parse(await textOf(data)) : data;
  const problem = ProblemSchema.parse(body);
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  assert.equal(headers['x-request-id'], problem.requestId);
  if (problem.retryAfterSeconds === null) assert.equal(headers['retry-after'], undefined);
  else assert.equal(headers['retry-after'], String(problem.retryAfterSeconds));
  return { status: failure.response.status, problem };
}

/** Every message of a chat, read page by page backwards through `before`. */
async function history(chatId: string, limit: number): Promise<{ messages: Message[]; pages: number }> {
  const messages: Message[] = [];
  let before: number | undefined;
  let pages = 0;
  for (;;) {
    const { data: page } = await api.listMessages(chatId, { limit, before });
    pages += 1;
    assert.ok(page.items.length <= limit);
    messages.unshift(...page.items);
    if (!page.hasMore) {
      assert.equal(page.nextBefore, null);
      break;
    }
    assert.ok(page.nextBefore !== null, 'hasMore without nextBefore');
    assert.equal(page.nextBefore, page.items[0]?.seq);
    before = page.nextBefore;
    assert.ok(pages < 100, 'history does not end');
  }
  // The active path: from the greeting (seq 1), each message the child of the one before it, seq
  // ascending (other branches' messages take the numbers in between).
  assert.equal(messages[0]?.seq, 1, 'the path starts at the greeting');
  messages.forEach((m, i) => {
    if (i === 0) return assert.equal(m.parentId, null, 'the greeting has no parent');
    assert.equal(m.parentId, messages[i - 1]!.id, 'each message follows the one before it');
    assert.ok(m.seq > messages[i - 1]!.seq, 'seq ascends along the path');
  });
  return { messages, pages };
}

// The options every streaming call needs: the body as a Node stream, read as it arrives (the
// generated code asks for text, which axios would buffer whole).
const asStream: AxiosRequestConfig = { responseType: 'stream' };

/** The body of a streaming answer: 200 text/event-stream, as a Node stream. */
async function streamOf(opened: Promise<AxiosResponse<unknown>>): Promise<Readable> {
  const response = await opened;
  assert.equal(response.status, 200);
  assert.match(String(response.headers['content-type']), /^text\/event-stream/);
  // Declared as one StreamEvent by the generated code; with responseType 'stream' it is the socket.
  const body: unknown = response.data;
  if (!(body instanceof Readable)) assert.fail(`expected a stream, got ${inspect(body)}`);
  return body;
}

interface Received {
  id: string | undefined;
  event: StreamEventOutput;
}

/** Server-sent events as they arrive, each one's data checked against the contract's StreamEvent. */
async function* eventsOf(body: Readable): AsyncGenerator<Received> {
  const messages: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (message) => messages.push(message) });
  body.setEncoding('utf8');
  for await (const chunk of body) {
    if (typeof chunk !== 'string') assert.fail('a text stream gave bytes');
    parser.feed(chunk);
    for (const message of messages.splice(0)) {
      const event = StreamEventSchema.parse(JSON.parse(message.data));
      assert.equal(message.event, event.type, "the event field repeats the data's type");
      yield { id: message.id, event };
    }
  }
}

type Terminal = Extract<StreamEventOutput, { type: 'done' | 'error' }>;
type TurnStarted = Extract<StreamEventOutput, { type: 'turn_started' }>;
type Done = Extract<StreamEventOutput, { type: 'done' }>;
interface StreamedTurn {
  started: TurnStarted | undefined;
  replyId: string;
  deltas: string[];
  /** The id of each delta's event, to resume after it. */
  deltaIds: string[];
  terminal: Terminal;
}

/**
 * Reads a turn's stream to its end and checks its shape: every event narrowed by `type`, all
 * about one reply, `turn_started` first (unless resumed after `Last-Event-ID`), exactly one
 * terminal event and it is the last.
 */
async function readTurn(opened: Promise<AxiosResponse<unknown>>, resumedReplyId?: string): Promise<StreamedTurn> {
  const body = await streamOf(opened);
  let started: TurnStarted | undefined;
  let replyId = resumedReplyId;
  const deltas: string[] = [];
  const deltaIds: string[] = [];
  let terminal: Terminal | undefined;
  let index = 0;
  for await (const { id, event } of eventsOf(body)) {
    assert.equal(terminal, undefined, `${event.type} after the terminal event`);
    assert.ok(id, 'every event has an id');
    switch (event.type) {
      case 'turn_started':
        assert.equal(index, 0, 'turn_started comes first');
        assert.equal(resumedReplyId, undefined, 'a resumed stream does not start again');
        assert.equal(event.assistantMessage.role, 'assistant');
        assert.equal(event.assistantMessage.replyToId, event.userMessage.id);
        started = event;
        replyId = event.assistantMessage.id;
        break;
      case 'provider':
        assert.equal(event.messageId, replyId);
        assert.equal(event.demo, true, 'the test server answers with its demo provider');
        break;
      case 'retry':
        assert.equal(event.messageId, replyId);
        assert.ok(event.attempt >= 2);
        break;
      case 'delta':
        assert.equal(event.messageId, replyId);
        deltas.push(event.text);
        deltaIds.push(id);
        break;
      case 'tool_call':
      case 'tool_result':
        // The character used a tool (the demo character does when a message asks for dice).
        assert.equal(event.messageId, replyId);
        assert.equal(event.call.messageId, replyId);
        break;
      case 'done':
      case 'error':
        assert.equal(event.messageId, replyId);
        terminal = event;
        break;
      default: {
        // Exhaustive over the contract's event types (a new type fails to compile after regenerating).
        const unknown: never = event;
        assert.fail(`an event type outside the contract: ${inspect(unknown)}`);
      }
    }
    index += 1;
  }
  if (resumedReplyId === undefined) assert.ok(started, 'the stream starts with turn_started');
  assert.ok(replyId, 'the reply is named');
  assert.ok(terminal, 'the stream ends with done or error');
  return { started, replyId, deltas, deltaIds, terminal };
}

function expectDone(turn: StreamedTurn): Done {
  if (turn.terminal.type !== 'done') assert.fail(`the turn failed: ${inspect(turn.terminal.problem)}`);
  return turn.terminal;
}

// --- the walk ---------------------------------------------------------------------------------

const email = `orval-${randomUUID()}@example.com`;
const password = 'correct horse battery staple';

const registered = await step('register', async () => {
  const { status, data: auth } = await api.register({ email, password, displayName: 'orval' });
  assert.equal(status, 201);
  assert.equal(auth.tokenType, 'Bearer');
  assert.equal(auth.user.email, email);
  assert.equal(auth.user.locale, 'en');
  assert.ok(auth.user.tokenBalance > 0);
  return auth.user;
});

await step('log in, read me', async () => {
  const { status, data: auth } = await api.login({ email, password });
  assert.equal(status, 200);
  assert.equal(auth.user.id, registered.id);
  http.defaults.headers.common.Authorization = `Bearer ${auth.accessToken}`;
  const { data: me } = await api.getMe();
  assert.equal(me.id, registered.id);

  await expectProblem(api.login({ email, password: 'not the password' }), 401, 'invalid_credentials');
});

const character = await step('list characters', async () => {
  const { status, data } = await api.listCharacters({ 'Accept-Language': 'en' });
  assert.equal(status, 200);
  assert.ok(data.items.length > 0);
  assert.equal(new Set(data.items.map((c) => c.id)).size, data.items.length, 'ids are unique');
  const [first] = data.items;
  assert.ok(first);
  assert.equal(first.locale, 'en');
  return first;
});

const chat = await step('create a chat', async () => {
  const created = await api.createChat({ characterId: character.id, title: 'Through orval' });
  const chat: Chat = created.data;
  assert.equal(created.status, 201);
  assert.equal(created.headers['location'], `/api/v1/chats/${chat.id}`);
  assert.equal(chat.characterId, character.id);
  assert.equal(chat.title, 'Through orval');
  assert.equal(chat.lastMessage?.role, 'assistant');
  assert.ok(character.greeting.startsWith(chat.lastMessage.content), 'the greeting opens the chat');
  return chat;
});
const chatId = chat.id;

const jsonKey = randomUUID();
const jsonTurn = await step('send (JSON)', async () => {
  const { status, data: turn } = await api.sendMessage(
    chatId,
    { content: 'What is that signal?' },
    { 'Idempotency-Key': jsonKey },
  );
  assert.equal(status, 201);
  assert.equal(turn.userMessage.content, 'What is that signal?');
  assert.equal(turn.userMessage.seq, 2);
  assert.equal(turn.assistantMessage.seq, 3);
  assert.equal(turn.assistantMessage.status, 'complete');
  assert.equal(turn.assistantMessage.replyToId, turn.userMessage.id);
  assert.ok(turn.assistantMessage.content.length > 0);
  assert.ok(turn.tokenBalance < registered.tokenBalance, 'the reply was charged');
  return turn;
});

const streamKey = randomUUID();
const streamed = await step('send (stream): typed events, one terminal event last', async () => {
  const turn = await readTurn(
    api.sendMessageStream(chatId, { content: 'Plot a course to it.' }, { 'Idempotency-Key': streamKey }, asStream),
  );
  assert.equal(turn.started?.chatId, chatId);
  assert.equal(turn.started.userMessage.content, 'Plot a course to it.');
  assert.equal(turn.started.assistantMessage.status, 'pending');
  const done = expectDone(turn);
  assert.ok(turn.deltas.length > 1, 'the reply arrived in pieces');
  assert.equal(turn.deltas.join(''), done.result.assistantMessage.content);
  assert.equal(done.result.userMessage.id, turn.started.userMessage.id);
  return { ...turn, userMessageId: turn.started.userMessage.id, text: turn.deltas.join('') };
});

await step('page history: concatenated deltas = stored reply', async () => {
  const { messages, pages } = await history(chatId, 2);
  assert.equal(messages.length, 5);
  assert.equal(pages, 3);
  const stored = messages.find((m) => m.id === streamed.replyId);
  assert.equal(stored?.status, 'complete');
  assert.equal(stored.content, streamed.text);
  assert.equal(stored.replyToId, streamed.userMessageId);
  assert.equal(messages.find((m) => m.id === jsonTurn.assistantMessage.id)?.content, jsonTurn.assistantMessage.content);
});

await step('idempotent replay (JSON): same outcome, nothing new', async () => {
  const { status, data: again } = await api.sendMessage(
    chatId,
    { content: 'What is that signal?' },
    { 'Idempotency-Key': jsonKey },
  );
  assert.equal(status, 201);
  assert.equal(again.assistantMessage.id, jsonTurn.assistantMessage.id);
  assert.equal(again.userMessage.id, jsonTurn.userMessage.id);
  assert.equal(again.assistantMessage.content, jsonTurn.assistantMessage.content);
  const { messages } = await history(chatId, 50);
  assert.equal(messages.length, 5, 'no message was added');
});

await step('idempotent replay (stream): the same reply followed', async () => {
  const replay = await readTurn(
    api.sendMessageStream(chatId, { content: 'Plot a course to it.' }, { 'Idempotency-Key': streamKey }, asStream),
  );
  assert.equal(replay.replyId, streamed.replyId);
  assert.equal(replay.started?.userMessage.id, streamed.userMessageId);
  assert.equal(replay.deltas.join(''), streamed.text);
  assert.equal(expectDone(replay).result.assistantMessage.id, streamed.replyId);

  // From the middle: with Last-Event-ID the replay resumes after that event.
  const cut = 1; // the first delta, and everything before it, was received
  const lastSeen = streamed.deltaIds[cut - 1];
  assert.ok(lastSeen);
  const resumed = await readTurn(
    api.sendMessageStream(
      chatId,
      { content: 'Plot a course to it.' },
      { 'Idempotency-Key': streamKey, 'Last-Event-ID': lastSeen },
      asStream,
    ),
    streamed.replyId,
  );
  assert.equal(streamed.deltas.slice(0, cut).join('') + resumed.deltas.join(''), streamed.text);
  expectDone(resumed);

  // The JSON form of the same request, with the stream's key, answers the same turn.
  const { data: asJson } = await api.sendMessage(
    chatId,
    { content: 'Plot a course to it.' },
    { 'Idempotency-Key': streamKey },
  );
  assert.equal(asJson.assistantMessage.id, streamed.replyId);

  const { messages } = await history(chatId, 50);
  assert.equal(messages.length, 5, 'no message was added');
  assert.equal(messages.filter((m) => m.role === 'user' && m.content === 'Plot a course to it.').length, 1);
});

const regenerated = await step('regenerate (JSON)', async () => {
  const { status, data: turn } = await api.regenerateMessage(chatId, streamed.replyId, {
    'Idempotency-Key': randomUUID(),
  });
  assert.equal(status, 201);
  assert.notEqual(turn.assistantMessage.id, streamed.replyId);
  assert.equal(turn.userMessage.id, streamed.userMessageId);
  assert.equal(turn.assistantMessage.replyToId, streamed.userMessageId);
  assert.equal(turn.assistantMessage.seq, 6);
  assert.equal(turn.assistantMessage.status, 'complete');
  return turn.assistantMessage;
});

await step('regenerate (stream)', async () => {
  const turn = await readTurn(
    api.regenerateMessageStream(chatId, regenerated.id, { 'Idempotency-Key': randomUUID() }, asStream),
  );
  assert.equal(turn.started?.userMessage.id, streamed.userMessageId);
  assert.equal(turn.started.assistantMessage.seq, 7);
  const done = expectDone(turn);
  // The active path (greeting, two exchanges) ends with the newest of the second question's three
  // replies; the earlier two are its alternatives.
  const { messages } = await history(chatId, 3);
  assert.equal(messages.length, 5);
  assert.deepEqual(messages.at(-1)?.alternatives, { index: 3, count: 3 });
  assert.equal(messages.at(-1)?.id, turn.replyId);
  assert.equal(messages.at(-1)?.content, turn.deltas.join(''));
  assert.equal(done.result.assistantMessage.content, turn.deltas.join(''));
});

await step('forced error (JSON): typed 503 problem+json with Retry-After', async () => {
  const key = randomUUID();
  const send = () =>
    api.sendMessage(
      chatId,
      { content: 'Are you there?' },
      { 'Idempotency-Key': key },
      { headers: { 'X-Debug-Force-Error': 'provider_503' } },
    );
  const { problem } = await expectProblem(send(), 503, 'provider_unavailable');
  assert.equal(problem.retryable, true);
  assert.ok(problem.retryAfterSeconds !== null && problem.retryAfterSeconds > 0, 'a 503 says when to retry');

  const { messages } = await history(chatId, 50);
  const reply = messages.at(-1);
  assert.equal(reply?.status, 'failed', 'the reply is kept as failed');
  assert.equal(reply.errorCode, 'provider_unavailable');
  assert.equal(messages.at(-2)?.content, 'Are you there?', 'the user message is kept');

  // A repeat with the same key answers the same failure, under its own request id, and sends nothing.
  const { problem: repeated } = await expectProblem(send(), 503, 'provider_unavailable');
  assert.notEqual(repeated.requestId, problem.requestId);
  assert.equal(repeated.retryAfterSeconds, problem.retryAfterSeconds);
  assert.equal((await history(chatId, 50)).messages.length, messages.length, 'no message was added');
});

await step('forced error (stream): error event carries the problem', async () => {
  const turn = await readTurn(
    api.sendMessageStream(
      chatId,
      { content: 'Still there?' },
      { 'Idempotency-Key': randomUUID() },
      { ...asStream, headers: { 'X-Debug-Force-Error': 'provider_503' } },
    ),
  );
  if (turn.terminal.type !== 'error') assert.fail('the forced failure ended in done');
  assert.equal(turn.terminal.problem.code, 'provider_unavailable');
  assert.equal(turn.terminal.problem.status, 503);
  assert.deepEqual(turn.deltas, []);
});

await step('stream refused before it starts: problem body read from the stream', async () => {
  // A failure before the stream starts is an ordinary HTTP error: axios rejects, and the body it
  // holds is the stream that was asked for.
  const { problem } = await expectProblem(
    api.sendMessageStream(
      chatId,
      { content: 'Hello?' },
      { 'Idempotency-Key': randomUUID() },
      { ...asStream, headers: { 'X-Debug-Force-Error': 'db_unavailable' } },
    ),
    503,
    'database_unavailable',
  );
  assert.equal(problem.retryable, true);
});

await step('rename', async () => {
  const { data: second } = await api.createChat({ characterId: character.id });
  const { data: before } = await api.getChat(chatId);
  const { status, data: renamed } = await api.updateChat(chatId, { title: 'Renamed through orval' });
  assert.equal(status, 200);
  assert.equal(renamed.title, 'Renamed through orval');
  assert.equal(renamed.updatedAt, before.updatedAt, 'renaming does not move the chat in the list');
  assert.equal((await api.getChat(chatId)).data.title, 'Renamed through orval');
  // Both chats, one per page, through the signed cursor.
  const seen: Chat[] = [];
  let cursor: string | undefined;
  do {
    const { data: page } = await api.listChats({ limit: 1, cursor });
    seen.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && seen.length < 10);
  assert.deepEqual(new Set(seen.map((c) => c.id)), new Set([chatId, second.id]));
  assert.equal(seen.find((c) => c.id === chatId)?.title, 'Renamed through orval');
  await expectProblem(api.listChats({ limit: 1, cursor: 'AAAA' }), 400, 'validation_failed');
});

await step('delete', async () => {
  const { status } = await api.deleteChat(chatId);
  assert.equal(status, 204);
  await expectProblem(api.getChat(chatId), 404, 'chat_not_found');
  await expectProblem(api.listMessages(chatId), 404, 'chat_not_found');
});

process.stdout.write(`orval: ${passed} steps passed\n`);
