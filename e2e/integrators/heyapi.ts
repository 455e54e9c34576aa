// An integrator's walk through Parley's API with the client @hey-api/openapi-ts generates from the
// contract (fetch client, zod-validated responses): every call goes through the generated SDK,
// every value is typed by it, no casts and no hand-written requests. Run by run.mjs against the
// production build; PARLEY_BASE_URL names the server.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { inspect } from 'node:util';
import { client } from './generated/heyapi/client.gen.js';
import {
  createChat,
  deleteChat,
  getChat,
  getMe,
  listCharacters,
  listChats,
  listMessages,
  login,
  regenerateMessage,
  regenerateMessageStream,
  register,
  sendMessage,
  sendMessageStream,
  updateChat,
} from './generated/heyapi/sdk.gen.js';
import type {
  Chat,
  DoneEvent,
  ErrorCode,
  ErrorEvent,
  Message,
  Problem,
  StreamEvent,
  TurnStartedEvent,
} from './generated/heyapi/types.gen.js';
import { zProblem } from './generated/heyapi/zod.gen.js';

const baseUrl = process.env.PARLEY_BASE_URL;
assert.ok(baseUrl, 'set PARLEY_BASE_URL to the server under test');

let accessToken = '';
client.setConfig({ baseUrl, auth: () => accessToken });

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

// The fields of every non-streaming SDK result. `error` is typed as the operation's error bodies
// (all `Problem`), but the fetch client also puts network and validation errors there.
interface Result<T> {
  data?: T;
  error?: unknown;
  response?: Response;
}

function expectStatus<T>(result: Result<T>, status: number): T {
  if (result.error !== undefined || result.data === undefined) {
    assert.fail(`expected ${status}, got ${result.response?.status ?? 'no response'}: ${inspect(result.error)}`);
  }
  assert.equal(result.response?.status, status);
  return result.data;
}

/**
 * A typed problem+json answer: its status and code, the request id of its header, and
 * `Retry-After` exactly when `retryAfterSeconds` is set, equal to it.
 */
function expectProblem(result: Result<unknown>, status: number, code: ErrorCode): Problem {
  assert.ok(result.response, `no response: ${inspect(result.error)}`);
  assert.equal(result.response.status, status);
  assert.match(result.response.headers.get('Content-Type') ?? '', /^application\/problem\+json/);
  // What the SDK typed as Problem must be one (and not a network or validation error).
  const problem: Problem = zProblem.parse(result.error);
  assert.equal(problem.code, code);
  assert.equal(problem.status, status);
  assert.equal(result.response.headers.get('X-Request-Id'), problem.requestId);
  expectRetryAfter(result.response, problem);
  return problem;
}

function expectRetryAfter(response: Response, problem: Problem): void {
  const header = response.headers.get('Retry-After');
  if (problem.retryAfterSeconds === null) assert.equal(header, null);
  else assert.equal(header, String(problem.retryAfterSeconds));
}

/** Every message of a chat, read page by page backwards through `before`. */
async function history(chatId: string, limit: number): Promise<{ messages: Message[]; pages: number }> {
  const messages: Message[] = [];
  let before: number | undefined;
  let pages = 0;
  for (;;) {
    const page = expectStatus(await listMessages({ path: { chatId }, query: { limit, before } }), 200);
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

// Stream options for every streaming call. The client re-sends a failed streaming request on its
// own (with the same Idempotency-Key and the last event id): bounded here, and every such error
// is recorded so that a happy path can assert there was none.
function streamOptions(errors: unknown[], eventIds: string[]) {
  return {
    sseMaxRetryAttempts: 3,
    sseDefaultRetryDelay: 100,
    onSseError: (error: unknown) => errors.push(error),
    onSseEvent: (event: { data: unknown; id?: string }) => {
      if (event.data !== undefined && event.id !== undefined) eventIds.push(event.id);
    },
  };
}

type Terminal = DoneEvent | ErrorEvent;
interface StreamedTurn {
  started: TurnStartedEvent | undefined;
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
async function readTurn(
  opened: Promise<{ stream: AsyncGenerator<StreamEvent, void, unknown> }>,
  errors: unknown[],
  eventIds: string[],
  resumedReplyId?: string,
): Promise<StreamedTurn> {
  const { stream } = await opened;
  const events: StreamEvent[] = [];
  for await (const event of stream) events.push(event);
  assert.deepEqual(errors, [], 'the stream was read without a client-side retry');
  assert.equal(eventIds.length, events.length, 'every event has an id');

  let started: TurnStartedEvent | undefined;
  let replyId = resumedReplyId;
  const deltas: string[] = [];
  const deltaIds: string[] = [];
  let terminal: Terminal | undefined;
  events.forEach((event, index) => {
    assert.equal(terminal, undefined, `${event.type} after the terminal event`);
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
        deltaIds.push(eventIds[index] ?? '');
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
  });
  if (resumedReplyId === undefined) assert.ok(started, 'the stream starts with turn_started');
  assert.ok(replyId, 'the reply is named');
  assert.ok(terminal, 'the stream ends with done or error');
  return { started, replyId, deltas, deltaIds, terminal };
}

function expectDone(turn: StreamedTurn): DoneEvent {
  if (turn.terminal.type !== 'done') assert.fail(`the turn failed: ${inspect(turn.terminal.problem)}`);
  return turn.terminal;
}

// --- the walk ---------------------------------------------------------------------------------

const email = `heyapi-${randomUUID()}@example.com`;
const password = 'correct horse battery staple';

const registered = await step('register', async () => {
  const auth = expectStatus(await register({ body: { email, password, displayName: 'hey-api' } }), 201);
  assert.equal(auth.tokenType, 'Bearer');
  assert.equal(auth.user.email, email);
  assert.equal(auth.user.locale, 'en');
  assert.ok(auth.user.tokenBalance > 0);
  return auth.user;
});

await step('log in, read me', async () => {
  const auth = expectStatus(await login({ body: { email, password } }), 200);
  assert.equal(auth.user.id, registered.id);
  accessToken = auth.accessToken;
  const me = expectStatus(await getMe(), 200);
  assert.equal(me.id, registered.id);

  const wrong = await login({ body: { email, password: 'not the password' } });
  expectProblem(wrong, 401, 'invalid_credentials');
});

const character = await step('list characters', async () => {
  const { items } = expectStatus(await listCharacters({ headers: { 'Accept-Language': 'en' } }), 200);
  assert.ok(items.length > 0);
  assert.equal(new Set(items.map((c) => c.id)).size, items.length, 'ids are unique');
  const [first] = items;
  assert.ok(first);
  assert.equal(first.locale, 'en');
  return first;
});

const chat = await step('create a chat', async () => {
  const created = await createChat({ body: { characterId: character.id, title: 'Through hey-api' } });
  const chat: Chat = expectStatus(created, 201);
  assert.equal(created.response?.headers.get('Location'), `/api/v1/chats/${chat.id}`);
  assert.equal(chat.characterId, character.id);
  assert.equal(chat.title, 'Through hey-api');
  assert.equal(chat.lastMessage?.role, 'assistant');
  assert.ok(character.greeting.startsWith(chat.lastMessage.content), 'the greeting opens the chat');
  return chat;
});
const chatId = chat.id;

const jsonKey = randomUUID();
const jsonTurn = await step('send (JSON)', async () => {
  const sent = await sendMessage({
    path: { chatId },
    body: { content: 'What is that signal?' },
    headers: { 'Idempotency-Key': jsonKey },
  });
  const turn = expectStatus(sent, 201);
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
  const errors: unknown[] = [];
  const eventIds: string[] = [];
  const turn = await readTurn(
    sendMessageStream({
      path: { chatId },
      body: { content: 'Plot a course to it.' },
      headers: { 'Idempotency-Key': streamKey },
      ...streamOptions(errors, eventIds),
    }),
    errors,
    eventIds,
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
  const again = expectStatus(
    await sendMessage({
      path: { chatId },
      body: { content: 'What is that signal?' },
      headers: { 'Idempotency-Key': jsonKey },
    }),
    201,
  );
  assert.equal(again.assistantMessage.id, jsonTurn.assistantMessage.id);
  assert.equal(again.userMessage.id, jsonTurn.userMessage.id);
  assert.equal(again.assistantMessage.content, jsonTurn.assistantMessage.content);
  const { messages } = await history(chatId, 50);
  assert.equal(messages.length, 5, 'no message was added');
});

await step('idempotent replay (stream): the same reply followed', async () => {
  const errors: unknown[] = [];
  const eventIds: string[] = [];
  const replay = await readTurn(
    sendMessageStream({
      path: { chatId },
      body: { content: 'Plot a course to it.' },
      headers: { 'Idempotency-Key': streamKey },
      ...streamOptions(errors, eventIds),
    }),
    errors,
    eventIds,
  );
  assert.equal(replay.replyId, streamed.replyId);
  assert.equal(replay.started?.userMessage.id, streamed.userMessageId);
  assert.equal(replay.deltas.join(''), streamed.text);
  assert.equal(expectDone(replay).result.assistantMessage.id, streamed.replyId);

  // From the middle: with Last-Event-ID the replay resumes after that event.
  const cut = 1; // the first delta, and everything before it, was received
  const lastSeen = streamed.deltaIds[cut - 1];
  assert.ok(lastSeen);
  const resumedErrors: unknown[] = [];
  const resumedIds: string[] = [];
  const resumed = await readTurn(
    sendMessageStream({
      path: { chatId },
      body: { content: 'Plot a course to it.' },
      headers: { 'Idempotency-Key': streamKey, 'Last-Event-ID': lastSeen },
      ...streamOptions(resumedErrors, resumedIds),
    }),
    resumedErrors,
    resumedIds,
    streamed.replyId,
  );
  assert.equal(streamed.deltas.slice(0, cut).join('') + resumed.deltas.join(''), streamed.text);
  expectDone(resumed);

  // The JSON form of the same request, with the stream's key, answers the same turn.
  const asJson = expectStatus(
    await sendMessage({
      path: { chatId },
      body: { content: 'Plot a course to it.' },
      headers: { 'Idempotency-Key': streamKey },
    }),
    201,
  );
  assert.equal(asJson.assistantMessage.id, streamed.replyId);

  const { messages } = await history(chatId, 50);
  assert.equal(messages.length, 5, 'no message was added');
  assert.equal(messages.filter((m) => m.role === 'user' && m.content === 'Plot a course to it.').length, 1);
});

const regenerated = await step('regenerate (JSON)', async () => {
  const turn = expectStatus(
    await regenerateMessage({
      path: { chatId, messageId: streamed.replyId },
      headers: { 'Idempotency-Key': randomUUID() },
    }),
    201,
  );
  assert.notEqual(turn.assistantMessage.id, streamed.replyId);
  assert.equal(turn.userMessage.id, streamed.userMessageId);
  assert.equal(turn.assistantMessage.replyToId, streamed.userMessageId);
  assert.equal(turn.assistantMessage.seq, 6);
  assert.equal(turn.assistantMessage.status, 'complete');
  return turn.assistantMessage;
});

await step('regenerate (stream)', async () => {
  const errors: unknown[] = [];
  const eventIds: string[] = [];
  const turn = await readTurn(
    regenerateMessageStream({
      path: { chatId, messageId: regenerated.id },
      headers: { 'Idempotency-Key': randomUUID() },
      ...streamOptions(errors, eventIds),
    }),
    errors,
    eventIds,
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
    sendMessage({
      path: { chatId },
      body: { content: 'Are you there?' },
      headers: { 'Idempotency-Key': key, 'X-Debug-Force-Error': 'provider_503' },
    });
  const failed = await send();
  const problem = expectProblem(failed, 503, 'provider_unavailable');
  assert.equal(problem.retryable, true);
  assert.ok(problem.retryAfterSeconds !== null && problem.retryAfterSeconds > 0, 'a 503 says when to retry');

  const { messages } = await history(chatId, 50);
  const reply = messages.at(-1);
  assert.equal(reply?.status, 'failed', 'the reply is kept as failed');
  assert.equal(reply.errorCode, 'provider_unavailable');
  assert.equal(messages.at(-2)?.content, 'Are you there?', 'the user message is kept');

  // A repeat with the same key answers the same failure, under its own request id, and sends nothing.
  const repeated = expectProblem(await send(), 503, 'provider_unavailable');
  assert.notEqual(repeated.requestId, problem.requestId);
  assert.equal(repeated.retryAfterSeconds, problem.retryAfterSeconds);
  assert.equal((await history(chatId, 50)).messages.length, messages.length, 'no message was added');
});

await step('forced error (stream): error event carries the problem', async () => {
  const errors: unknown[] = [];
  const eventIds: string[] = [];
  const turn = await readTurn(
    sendMessageStream({
      path: { chatId },
      body: { content: 'Still there?' },
      headers: { 'Idempotency-Key': randomUUID(), 'X-Debug-Force-Error': 'provider_503' },
      ...streamOptions(errors, eventIds),
    }),
    errors,
    eventIds,
  );
  if (turn.terminal.type !== 'error') assert.fail('the forced failure ended in done');
  assert.equal(turn.terminal.problem.code, 'provider_unavailable');
  assert.equal(turn.terminal.problem.status, 503);
  assert.deepEqual(turn.deltas, []);
});

await step('stream refused before it starts: finite retries, problem body read', async () => {
  // A failure before the stream starts is an ordinary HTTP error. The SSE client never returns
  // its body and re-sends the request until sseMaxRetryAttempts (forever without it); the body
  // is read through the client's `fetch` option.
  const refusals: { status: number; problem: Problem; retryAfter: string | null }[] = [];
  const errors: unknown[] = [];
  let events = 0;
  const started = performance.now();
  const { stream } = await sendMessageStream({
    path: { chatId },
    body: { content: 'Hello?' },
    headers: { 'Idempotency-Key': randomUUID(), 'X-Debug-Force-Error': 'db_unavailable' },
    sseMaxRetryAttempts: 2,
    sseDefaultRetryDelay: 50,
    onSseError: (error) => errors.push(error),
    fetch: async (input, init) => {
      const response = await fetch(input, init);
      if (!response.ok) {
        const problem = zProblem.parse(await response.clone().json());
        refusals.push({ status: response.status, problem, retryAfter: response.headers.get('Retry-After') });
      }
      return response;
    },
  });
  for await (const _event of stream) events += 1;
  assert.equal(events, 0);
  assert.ok(performance.now() - started < 5_000, 'the client gave up');
  assert.equal(errors.length, 2, 'one error per attempt');
  assert.equal(refusals.length, 2, 'sseMaxRetryAttempts bounds the attempts');
  for (const { status, problem, retryAfter } of refusals) {
    assert.equal(status, 503);
    assert.equal(problem.code, 'database_unavailable');
    assert.equal(retryAfter, String(problem.retryAfterSeconds));
  }
});

await step('rename', async () => {
  const second = expectStatus(await createChat({ body: { characterId: character.id } }), 201);
  const before = expectStatus(await getChat({ path: { chatId } }), 200);
  const renamed = expectStatus(await updateChat({ path: { chatId }, body: { title: 'Renamed through hey-api' } }), 200);
  assert.equal(renamed.title, 'Renamed through hey-api');
  assert.equal(renamed.updatedAt, before.updatedAt, 'renaming does not move the chat in the list');
  assert.equal(expectStatus(await getChat({ path: { chatId } }), 200).title, 'Renamed through hey-api');
  // Both chats, one per page, through the signed cursor.
  const seen: Chat[] = [];
  let cursor: string | undefined;
  do {
    const page = expectStatus(await listChats({ query: { limit: 1, cursor } }), 200);
    seen.push(...page.items);
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined && seen.length < 10);
  assert.deepEqual(new Set(seen.map((c) => c.id)), new Set([chatId, second.id]));
  assert.equal(seen.find((c) => c.id === chatId)?.title, 'Renamed through hey-api');
  const tampered = await listChats({ query: { limit: 1, cursor: 'AAAA' } });
  expectProblem(tampered, 400, 'validation_failed');
});

await step('delete', async () => {
  const deleted = await deleteChat({ path: { chatId } });
  assert.equal(deleted.error, undefined);
  assert.equal(deleted.response?.status, 204);
  expectProblem(await getChat({ path: { chatId } }), 404, 'chat_not_found');
  expectProblem(await listMessages({ path: { chatId } }), 404, 'chat_not_found');
});

process.stdout.write(`hey-api: ${passed} steps passed\n`);
