import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Message, MemoryList, MessagePage, ToolCall, ToolCallPage, ToolList, TurnResult } from '@parley/api-types';
import { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { ToolRegistry } from '../src/tools/tool-registry.js';
import type { Tool } from '../src/tools/tool.types.js';
import { FakeOpenAiServer } from './support/fake-openai.server.js';
import { McpCounterServer } from './support/mcp-counter.server.js';
import { ofType, parseSse, type SseEvent } from './support/sse.js';
import { listen, LiveStream } from './support/live.js';
import { expectConformingFrames, RealtimeClient } from './support/realtime-client.js';
import { useTestApp, type TestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';

/**
 * Tool calling (issue 12, specs/010-tools) through the real SDKs: a Gemini-protocol server (the
 * demo server, scripted) first, the OpenAI-compatible fake behind it. The built-in characters
 * may call roll_dice, current_time, remember and recall. A test replaces a built-in with a
 * wrapper that counts its executions, so "at most once" is measured where the effect happens.
 */
describe('tool calling', () => {
  let gemini: DemoGeminiServer;
  let openai: FakeOpenAiServer;
  let counter: McpCounterServer;
  let unreachable: string;
  beforeAll(async () => {
    gemini = await DemoGeminiServer.start({ host: '127.0.0.1', port: 0 });
    openai = await new FakeOpenAiServer().start();
    counter = await new McpCounterServer().start();
    // An address where nothing listens: a server that is down from the start.
    const gone = await new McpCounterServer().start();
    unreachable = gone.url;
    await gone.close();
  });
  afterAll(async () => {
    await gemini.close();
    await openai.close();
    await counter.close();
  });

  const t = useTestApp(() => ({
    GEMINI_API_KEY: 'test-key',
    GEMINI_BASE_URL: gemini.baseUrl,
    GEMINI_MODEL: 'gemini-test',
    OPENAI_BASE_URL: openai.baseUrl,
    OPENAI_MODEL: 'fake-model',
    RETRY_BASE_DELAY_MS: '10',
    RETRY_MAX_DELAY_MS: '40',
    SIGNUP_TOKEN_GRANT: '1000000',
    TOOL_STEP_LIMIT: '2',
    TOOL_TIMEOUT_MS: '300',
    TOOL_RESULT_MAX_CHARS: '500',
    // Only Chef Lucia gets the MCP servers' tools (the other characters keep the built-ins alone).
    MCP_SERVERS: JSON.stringify([
      { name: 'counter', url: counter.url, characters: ['chef-lucia'] },
      { name: 'down', url: unreachable, characters: ['chef-lucia'] },
      {
        name: 'local',
        command: process.execPath,
        args: [join(dirname(fileURLToPath(import.meta.url)), 'support', 'mcp-echo.stdio.mjs')],
        characters: ['chef-lucia'],
      },
    ]),
    MCP_REFRESH_MS: '0',
  }));

  let originals: Tool[] = [];
  let executions: Map<string, number>;
  beforeEach(() => {
    gemini.reset();
    openai.reset();
    executions = new Map();
    const registry = t().app.get(ToolRegistry);
    originals = ['roll_dice', 'current_time', 'remember', 'recall'].map((name) => registry.get(name) as Tool);
    for (const tool of originals) {
      registry.register({
        ...tool,
        run: (args, context) => {
          executions.set(tool.name, (executions.get(tool.name) ?? 0) + 1);
          return tool.run(args, context);
        },
      });
    }
  });
  afterEach(() => {
    const registry = t().app.get(ToolRegistry);
    for (const tool of originals) registry.register(tool);
  });

  // Every call a turn of a test returned, by chat: `listToolCalls` must give each back (checked after each test).
  const returned = new Map<string, { token: string; calls: ToolCall[] }>();
  afterEach(async () => {
    for (const [chatId, { token, calls }] of returned) {
      const listed = await t()
        .http.get(`/api/v1/chats/${chatId}/tool-calls?limit=100`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      const byId = new Map((listed.body as ToolCallPage).items.map((call) => [call.id, call]));
      for (const call of calls) expect(byId.get(call.id)).toEqual(call);
      for (const call of byId.values()) {
        expect(call.status).toMatch(/^(complete|failed|interrupted)$/);
        expect([call.startedAt, call.finishedAt, call.durationMs]).not.toContain(null);
      }
    }
    returned.clear();
  });

  async function stream(app: TestApp, token: string, chatId: string, content: string) {
    const response = await app.http
      .post(`/api/v1/chats/${chatId}/messages/stream`)
      .set('Authorization', `Bearer ${token}`)
      .set('Idempotency-Key', randomUUID())
      .send({ content })
      .expect(200);
    const events = parseSse(response.text);
    const done = ofType(events, 'done')[0];
    const result = done?.result as TurnResult;
    const made = returned.get(chatId) ?? { token, calls: [] };
    made.calls.push(...(result?.assistantMessage.toolCalls ?? []));
    returned.set(chatId, made);
    return { events, done, result };
  }

  /** The user's messages with this text in the chat's history, and the balance: what a retry must not double. */
  async function ledger(token: string, chatId: string, content: string) {
    const page = await t()
      .http.get(`/api/v1/chats/${chatId}/messages`)
      .set('Authorization', `Bearer ${token}`)
      .expect(200);
    const me = await t().http.get('/api/v1/me').set('Authorization', `Bearer ${token}`).expect(200);
    return {
      sent: (page.body as MessagePage).items.filter((m) => m.role === 'user' && m.content === content).length,
      balance: me.body.tokenBalance as number,
    };
  }

  async function newChat(characterId = 'captain-mira') {
    const { accessToken } = await registerUser(t());
    const chat = await createChat(t(), accessToken, characterId);
    return { token: accessToken, chatId: chat.id };
  }

  function callsOf(result: TurnResult): ToolCall[] {
    return result.assistantMessage.toolCalls ?? [];
  }

  describe('the demo (Gemini-protocol) provider', () => {
    it('rolls dice when asked: one call, stored, streamed in order with the text, worded in the reply', async () => {
      const { token, chatId } = await newChat();
      const { events, result } = await stream(t(), token, chatId, 'Captain, roll 2d6+3 for the landing party.');

      const types = events.map((e) => e.data.type);
      expect(types.slice(0, 4)).toEqual(['turn_started', 'provider', 'tool_call', 'tool_result']);
      expect(types.indexOf('delta')).toBeGreaterThan(types.indexOf('tool_result'));
      expect(types.at(-1)).toBe('done');

      const [call] = callsOf(result);
      expect(callsOf(result)).toHaveLength(1);
      expect(call).toMatchObject({
        toolName: 'roll_dice',
        arguments: { notation: '2d6+3' },
        status: 'complete',
        step: 1,
        index: 0,
        error: null,
        idempotent: true,
        provider: 'gemini',
      });
      const roll = call.result as { rolls: number[]; modifier: number; total: number };
      expect(roll.rolls).toHaveLength(2);
      expect(roll.total).toBe(roll.rolls[0] + roll.rolls[1] + 3);
      expect(result.assistantMessage.content).toContain(`a total of ${roll.total}`);
      expect(result.assistantMessage.finishReason).toBe('stop');
      expect(call.durationMs).toBeGreaterThanOrEqual(0);
      expect(call.startedAt).not.toBeNull();
      expect(call.finishedAt).not.toBeNull();

      // The model was given the declarations, then the result as a function response.
      const requests = gemini.requests();
      expect(requests).toHaveLength(2);
      expect(requests[0].tools).toEqual(['roll_dice', 'current_time', 'remember', 'recall']);
      expect(requests[1].functionResponses).toBe(1);
      expect(executions.get('roll_dice')).toBe(1);

      // The manifest names the tools offered and the call made.
      const manifest = await t()
        .http.get(`/api/v1/chats/${chatId}/messages/${result.assistantMessage.id}/manifest`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect(manifest.body.toolsOffered).toEqual(['roll_dice', 'current_time', 'remember', 'recall']);
      expect(manifest.body.toolCalls.map((c: ToolCall) => c.id)).toEqual([call.id]);

      // Operators count calls by tool and outcome.
      const metrics = await t().http.get('/metrics').expect(200);
      expect(metrics.text).toMatch(/^parley_tool_calls_total\{tool="roll_dice",outcome="complete"\} [1-9]/m);
      expect(metrics.text).toMatch(/^parley_tool_call_duration_seconds_count\{tool="roll_dice"\} [1-9]/m);
    });

    it('answers without tools when the message asks for none (no call, no extra request)', async () => {
      const { token, chatId } = await newChat();
      const { result, events } = await stream(t(), token, chatId, 'Good morning, Captain.');
      expect(ofType(events, 'tool_call')).toHaveLength(0);
      expect(callsOf(result)).toEqual([]);
      expect(gemini.requests()).toHaveLength(1);
    });

    it('runs parallel calls and several steps, each call identified by step and index', async () => {
      const { token, chatId } = await newChat();
      gemini.enqueueFaults(
        {
          kind: 'tool_calls',
          calls: [
            { name: 'roll_dice', args: { notation: 'd20' } },
            { name: 'current_time', args: { timeZone: 'Asia/Shanghai' } },
          ],
        },
        { kind: 'tool_calls', calls: [{ name: 'remember', args: { content: 'The moon is called Hollow.' } }] },
      );
      const { result } = await stream(t(), token, chatId, 'Status report, please.');
      const calls = callsOf(result);
      expect(calls.map((c) => [c.step, c.index, c.toolName, c.status])).toEqual([
        [1, 0, 'roll_dice', 'complete'],
        [1, 1, 'current_time', 'complete'],
        [2, 0, 'remember', 'complete'],
      ]);
      expect(calls[1].result).toMatchObject({ timeZone: 'Asia/Shanghai' });
      expect(calls[2].idempotent).toBe(false);
      expect(gemini.requests().map((r) => r.functionResponses ?? 0)).toEqual([0, 2, 1]);
      expect(result.assistantMessage.content).toContain('I will remember that: The moon is called Hollow.');

      const memory = await t()
        .http.get(`/api/v1/chats/${chatId}/memory`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect((memory.body as MemoryList).items.map((e) => e.content)).toEqual(['The moon is called Hollow.']);
    });

    it('turns bad calls into tool errors the model sees: unknown tool, arguments failing the schema, a bad time zone', async () => {
      const { token, chatId } = await newChat();
      gemini.enqueueFaults({
        kind: 'tool_calls',
        calls: [
          { name: 'launch_torpedoes', args: {} },
          { name: 'roll_dice', args: { notation: 5 } },
          { name: 'current_time', args: { timeZone: 'Mars/Olympus_Mons' } },
          { name: 'roll_dice', args: { notation: '2d6', extra: true } },
        ],
      });
      const { result } = await stream(t(), token, chatId, 'Do something.');
      expect(result.assistantMessage.status).toBe('complete');
      const calls = callsOf(result);
      expect(calls.map((c) => [c.toolName, c.status, c.error?.code])).toEqual([
        ['launch_torpedoes', 'failed', 'unknown_tool'],
        ['roll_dice', 'failed', 'invalid_arguments'],
        ['current_time', 'failed', 'invalid_arguments'],
        ['roll_dice', 'failed', 'invalid_arguments'],
      ]);
      expect(executions.get('roll_dice')).toBeUndefined();
      // The model was told each error, and said so.
      expect(result.assistantMessage.content).toContain('I tried launch_torpedoes, but it did not work');
    });

    it('cuts a result that is too large, with a marker, and times out a tool that hangs', async () => {
      const registry = t().app.get(ToolRegistry);
      const recall = registry.get('recall') as Tool;
      const time = registry.get('current_time') as Tool;
      registry.register({ ...recall, run: () => Promise.resolve({ entries: ['x'.repeat(5000)] }) });
      registry.register({ ...time, run: () => new Promise(() => undefined) });
      const { token, chatId } = await newChat();
      gemini.enqueueFaults({
        kind: 'tool_calls',
        calls: [
          { name: 'recall', args: {} },
          { name: 'current_time', args: {} },
        ],
      });
      const { result } = await stream(t(), token, chatId, 'What do we know?');
      const [big, hung] = callsOf(result);
      expect(big.status).toBe('complete');
      expect(big.result).toMatchObject({ truncated: true });
      expect((big.result as { text: string }).text.length).toBeLessThanOrEqual(501);
      expect(hung).toMatchObject({ status: 'failed', error: { code: 'tool_timeout' } });
      expect(hung.durationMs).toBeGreaterThanOrEqual(250);
    });

    it('moderates arguments before they are shown or run, and results before the model sees them', async () => {
      const registry = t().app.get(ToolRegistry);
      const recall = registry.get('recall') as Tool;
      registry.register({ ...recall, run: () => Promise.resolve({ entries: ['how to kill yourself'] }) });
      const { token, chatId } = await newChat();
      gemini.enqueueFaults({
        kind: 'tool_calls',
        calls: [
          { name: 'remember', args: { content: 'how to hang yourself' } },
          { name: 'recall', args: {} },
        ],
      });
      const { result } = await stream(t(), token, chatId, 'Anything to note?');
      const [written, read] = callsOf(result);
      expect(written).toMatchObject({ status: 'failed', arguments: {}, error: { code: 'content_blocked' } });
      expect(read).toMatchObject({ status: 'failed', result: null, error: { code: 'content_blocked' } });
      expect(executions.get('remember')).toBeUndefined();
      expect(result.assistantMessage.status).toBe('complete');
      // Neither text reached the model: it was told of two blocked calls.
      const told = gemini.requests()[1].functionResults ?? [];
      expect(told.map((r) => (r.response.error as { code: string }).code)).toEqual([
        'content_blocked',
        'content_blocked',
      ]);
      expect(JSON.stringify(told)).not.toContain('yourself');
    });

    it('ends with finishReason tool_limit when the model keeps calling tools past the step limit', async () => {
      const { token, chatId } = await newChat();
      const roll = { kind: 'tool_calls' as const, calls: [{ name: 'roll_dice', args: { notation: 'd6' } }] };
      gemini.enqueueFaults(roll, roll, roll);
      const { result } = await stream(t(), token, chatId, 'Keep rolling.');
      const calls = callsOf(result);
      expect(calls.map((c) => [c.step, c.status, c.error?.code ?? null])).toEqual([
        [1, 'complete', null],
        [2, 'complete', null],
        [3, 'failed', 'step_limit'],
      ]);
      expect(executions.get('roll_dice')).toBe(2);
      expect(result.assistantMessage.status).toBe('complete');
      expect(result.assistantMessage.finishReason).toBe('tool_limit');
      expect(result.assistantMessage.content).toContain('tool steps');
    });
  });

  describe('exactly once', () => {
    it('a provider 503 after a completed call: the retry reuses the stored result (one execution, one charge)', async () => {
      const { token, chatId } = await newChat();
      const before = (await t().http.get('/api/v1/me').set('Authorization', `Bearer ${token}`)).body
        .tokenBalance as number;
      gemini.enqueueFaults(
        { kind: 'tool_calls', calls: [{ name: 'remember', args: { content: 'Tal owes the captain a coffee.' } }] },
        { kind: 'http_503' },
        { kind: 'http_503' },
      );
      openai.enqueueFaults({ type: 'http_503' });
      const { result, events } = await stream(t(), token, chatId, 'Note this down.');
      expect(ofType(events, 'retry').length).toBeGreaterThan(0);
      expect(executions.get('remember')).toBe(1);
      expect(callsOf(result)).toHaveLength(1);
      // The reused call is announced again, with its stored result.
      const announced = ofType(events, 'tool_result').map((e) => e.call.id);
      expect(new Set(announced)).toEqual(new Set([callsOf(result)[0].id]));

      const memory = await t()
        .http.get(`/api/v1/chats/${chatId}/memory`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      expect((memory.body as MemoryList).items).toHaveLength(1);
      const after = (await t().http.get('/api/v1/me').set('Authorization', `Bearer ${token}`)).body
        .tokenBalance as number;
      expect(after).toBe(result.tokenBalance);
      expect(before - after).toBe(result.usage?.totalTokens);
    });

    it('failover after a completed call: the OpenAI-compatible provider continues from the stored result', async () => {
      const { token, chatId } = await newChat();
      gemini.enqueueFaults(
        { kind: 'tool_calls', calls: [{ name: 'remember', args: { content: 'Priya prefers the night shift.' } }] },
        { kind: 'http_503' },
      );
      const { result, events } = await stream(t(), token, chatId, 'Remember the roster.');
      expect(ofType(events, 'provider').map((e) => [e.provider, e.failover])).toEqual([
        ['gemini', false],
        ['openai-compatible', true],
      ]);
      expect(result.provider).toBe('openai-compatible');
      expect(executions.get('remember')).toBe(1);
      // The second provider got the call and its result in its own protocol.
      const sent = openai.requests().at(-1)?.body?.messages as Array<Record<string, unknown>>;
      const assistant = sent.find((m) => m.role === 'assistant' && Array.isArray(m.tool_calls));
      expect(assistant?.tool_calls).toEqual([
        expect.objectContaining({ type: 'function', function: expect.objectContaining({ name: 'remember' }) }),
      ]);
      const toolMessage = sent.find((m) => m.role === 'tool');
      expect(JSON.parse(toolMessage?.content as string)).toMatchObject({
        result: { remembered: 'Priya prefers the night shift.' },
      });
      expect(openai.requests().at(-1)?.body?.tools).toHaveLength(4);
    });
  });

  describe('the OpenAI-compatible provider', () => {
    it('reads streamed tool calls, runs them in parallel, and refuses arguments that are not JSON', async () => {
      const { token, chatId } = await newChat();
      // Gemini fails over to it at once.
      gemini.enqueueFaults({ kind: 'http_503' });
      openai.enqueueFaults({
        type: 'tool_calls',
        calls: [
          { id: 'call_a', name: 'roll_dice', arguments: '{"notation":"3d8-1"}' },
          { id: 'call_b', name: 'roll_dice', arguments: '{"notation": "2d' },
        ],
      });
      const { result } = await stream(t(), token, chatId, 'Roll for it.');
      const calls = callsOf(result);
      expect(result.provider).toBe('openai-compatible');
      expect(calls.map((c) => [c.toolName, c.status, c.error?.code ?? null])).toEqual([
        ['roll_dice', 'complete', null],
        ['roll_dice', 'failed', 'invalid_arguments'],
      ]);
      expect((calls[0].result as { rolls: number[] }).rolls).toHaveLength(3);
      const second = openai.requests().at(-1)?.body?.messages as Array<Record<string, unknown>>;
      expect(second.filter((m) => m.role === 'tool').map((m) => m.tool_call_id)).toEqual(['call_a', 'call_b']);
    });
  });

  describe('MCP servers', () => {
    const increment = { kind: 'tool_calls' as const, calls: [{ name: 'counter__increment', args: { by: 2 } }] };

    it('offers the tools listed at start to the characters configured, and runs a call once, keyed', async () => {
      const { token, chatId } = await newChat('chef-lucia');
      const before = counter.count;
      gemini.enqueueFaults(increment);
      const { result } = await stream(t(), token, chatId, 'Count the crates.');
      expect(gemini.requests()[0].tools).toEqual([
        'roll_dice',
        'current_time',
        'remember',
        'recall',
        'counter__increment',
        'counter__slow_increment',
        'local__echo',
      ]);
      const [call] = callsOf(result);
      expect(call).toMatchObject({ toolName: 'counter__increment', status: 'complete', idempotent: false });
      expect(call.result).toEqual({ count: before + 2 });
      expect(counter.count).toBe(before + 2);
      // The call's id travelled as the idempotency key.
      expect(counter.keys.at(-1)).toBe(call.id);
    });

    it('runs a tool of a local server over stdio (read-only: idempotent)', async () => {
      const { token, chatId } = await newChat('chef-lucia');
      gemini.enqueueFaults({ kind: 'tool_calls', calls: [{ name: 'local__echo', args: { text: 'ahoy' } }] });
      const { result } = await stream(t(), token, chatId, 'Say it back.');
      expect(callsOf(result)[0]).toMatchObject({
        toolName: 'local__echo',
        status: 'complete',
        idempotent: true,
        result: { text: 'echo: ahoy' },
      });
    });

    it('a provider 503 after a completed MCP call: the server counts one execution', async () => {
      const { token, chatId } = await newChat('chef-lucia');
      const before = counter.count;
      const { balance } = await ledger(token, chatId, 'Count them again.');
      gemini.enqueueFaults(increment, { kind: 'http_503' });
      openai.enqueueFaults({ type: 'http_503' });
      const { result, events } = await stream(t(), token, chatId, 'Count them again.');
      expect(ofType(events, 'retry').length).toBeGreaterThan(0);
      expect(result.assistantMessage.status).toBe('complete');
      expect(counter.count).toBe(before + 2);
      // One user message, charged once.
      expect(await ledger(token, chatId, 'Count them again.')).toEqual({
        sent: 1,
        balance: balance - (result.usage?.totalTokens ?? 0),
      });
    });

    it('failover after a completed MCP call: the second provider answers, the server counts one execution', async () => {
      const { token, chatId } = await newChat('chef-lucia');
      const before = counter.count;
      const { balance } = await ledger(token, chatId, 'Count, then hand over.');
      gemini.enqueueFaults(increment, { kind: 'http_503' });
      const { result, events } = await stream(t(), token, chatId, 'Count, then hand over.');
      expect(ofType(events, 'provider').map((e) => e.provider)).toEqual(['gemini', 'openai-compatible']);
      expect(result.provider).toBe('openai-compatible');
      expect(counter.count).toBe(before + 2);
      const sent = openai.requests().at(-1)?.body?.messages as Array<Record<string, unknown>>;
      const toolMessage = sent.find((m) => m.role === 'tool');
      expect(JSON.parse(toolMessage?.content as string)).toEqual({ result: { count: before + 2 } });
      expect(await ledger(token, chatId, 'Count, then hand over.')).toEqual({
        sent: 1,
        balance: balance - (result.usage?.totalTokens ?? 0),
      });
    });

    it('a server that is down fails its calls cleanly: the model is told, the turn completes', async () => {
      const { token, chatId } = await newChat('chef-lucia');
      // Its tools were never listed: a call to one is an unknown tool, not a crash.
      gemini.enqueueFaults({ kind: 'tool_calls', calls: [{ name: 'down__anything', args: {} }] });
      const first = await stream(t(), token, chatId, 'Ask the other server.');
      expect(callsOf(first.result)[0]).toMatchObject({ status: 'failed', error: { code: 'unknown_tool' } });

      // A listed server that goes down: its call fails as tool_unavailable.
      const port = Number(new URL(counter.url).port);
      await counter.close();
      try {
        gemini.enqueueFaults(increment);
        const { result } = await stream(t(), token, chatId, 'Count once more.');
        expect(result.assistantMessage.status).toBe('complete');
        expect(callsOf(result)[0]).toMatchObject({ status: 'failed', error: { code: 'tool_unavailable' } });
        expect(result.assistantMessage.content).toContain('did not work');
      } finally {
        await counter.start(port);
      }
    });
  });

  describe(`listToolCalls and the chat's memory`, () => {
    it('lists every call of a chat, newest first, page by page, with arguments, results and timings', async () => {
      const { token, chatId } = await newChat();
      await stream(t(), token, chatId, 'Roll a d20.');
      await stream(t(), token, chatId, 'Remember that the hull is breached.');
      await stream(t(), token, chatId, 'Roll 2d10.');
      const first = await t()
        .http.get(`/api/v1/chats/${chatId}/tool-calls?limit=2`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      const page = first.body as ToolCallPage;
      expect(page.items.map((c) => c.toolName)).toEqual(['roll_dice', 'remember']);
      expect(page.items[0].arguments).toEqual({ notation: '2d10' });
      expect(page.nextCursor).not.toBeNull();
      const second = await t()
        .http.get(`/api/v1/chats/${chatId}/tool-calls?limit=2&cursor=${page.nextCursor}`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      const rest = second.body as ToolCallPage;
      expect(rest.items.map((c) => [c.toolName, c.arguments])).toEqual([['roll_dice', { notation: 'd20' }]]);
      expect(rest.nextCursor).toBeNull();
      for (const call of [...page.items, ...rest.items]) {
        expect(call.status).toBe('complete');
        expect(call.result).not.toBeNull();
        expect(call.durationMs).not.toBeNull();
      }

      // Another user sees nothing of it; a cursor of this chat is refused elsewhere.
      const other = await registerUser(t());
      await t()
        .http.get(`/api/v1/chats/${chatId}/tool-calls`)
        .set('Authorization', `Bearer ${other.accessToken}`)
        .expect(404);
      const otherChat = await createChat(t(), token);
      const foreign = await t()
        .http.get(`/api/v1/chats/${otherChat.id}/tool-calls?cursor=${page.nextCursor}`)
        .set('Authorization', `Bearer ${token}`)
        .expect(400);
      expect(foreign.body.code).toBe('validation_failed');
    });

    it('lets the user delete a memory entry; the character no longer recalls it', async () => {
      const { token, chatId } = await newChat();
      await stream(t(), token, chatId, 'Remember that the code word is Larkspur.');
      const listed = await t()
        .http.get(`/api/v1/chats/${chatId}/memory`)
        .set('Authorization', `Bearer ${token}`)
        .expect(200);
      const [entry] = (listed.body as MemoryList).items;
      expect(entry.content).toBe('the code word is Larkspur.');
      await t()
        .http.delete(`/api/v1/chats/${chatId}/memory/${entry.id}`)
        .set('Authorization', `Bearer ${token}`)
        .expect(204);
      const again = await t()
        .http.delete(`/api/v1/chats/${chatId}/memory/${entry.id}`)
        .set('Authorization', `Bearer ${token}`)
        .expect(404);
      expect(again.body.code).toBe('memory_entry_not_found');
      const { result } = await stream(t(), token, chatId, 'What do you recall?');
      expect(callsOf(result)[0]).toMatchObject({ toolName: 'recall', result: { entries: [] } });
    });
  });
  describe('calls shown again: history pages, re-attaching, other tabs', () => {
    expectConformingFrames();
    let base: string;
    const sockets: RealtimeClient[] = [];
    beforeAll(async () => {
      base = await listen(t().app);
    });
    afterEach(() => {
      for (const socket of sockets.splice(0)) socket.drop();
    });

    /** roll_dice held until released, so a test can look at a reply while its call runs. */
    function holdDice(): { running: Promise<void>; release: () => void } {
      const registry = t().app.get(ToolRegistry);
      const dice = registry.get('roll_dice') as Tool;
      let release!: () => void;
      let started!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const running = new Promise<void>((resolve) => (started = resolve));
      registry.register({
        ...dice,
        // Held longer than the configured timeout allows.
        timeoutMs: 30_000,
        run: async (args, context) => {
          started();
          await gate;
          return dice.run(args, context);
        },
      });
      return { running, release };
    }

    /** What a stream told about the reply: its text runs joined, its calls, its end (not providers or retries). */
    function script(events: SseEvent[]): string[] {
      const out: string[] = [];
      for (const { data } of events) {
        if (data.type === 'delta') {
          if (out.at(-1)?.startsWith('text:')) out[out.length - 1] += data.text;
          else out.push(`text:${data.text}`);
        } else if (data.type === 'tool_call' || data.type === 'tool_result') {
          out.push(`${data.type}:${data.call.toolName}:${data.call.id}:${data.call.status}`);
        } else if (data.type === 'done' || data.type === 'error' || data.type === 'turn_started') {
          out.push(data.type);
        }
      }
      return out;
    }

    it(`history pages carry each reply's tool calls, as the turn returned them`, async () => {
      const { token, chatId } = await newChat();
      const rolled = await stream(t(), token, chatId, 'Roll 2d6+3, Captain.');
      const quiet = await stream(t(), token, chatId, 'Good morning.');
      gemini.enqueueFaults({
        kind: 'tool_calls',
        calls: [
          { name: 'roll_dice', args: { notation: 'd20' } },
          { name: 'current_time', args: { timeZone: 'Asia/Shanghai' } },
        ],
      });
      const twice = await stream(t(), token, chatId, 'Status report.');
      const page = (
        await t().http.get(`/api/v1/chats/${chatId}/messages`).set('Authorization', `Bearer ${token}`).expect(200)
      ).body as MessagePage;
      const byId = new Map<string, Message>(page.items.map((m) => [m.id, m]));
      expect(byId.get(rolled.result.assistantMessage.id)?.toolCalls).toEqual(callsOf(rolled.result));
      expect(callsOf(rolled.result)).toHaveLength(1);
      expect(byId.get(twice.result.assistantMessage.id)?.toolCalls?.map((c) => [c.step, c.index, c.toolName])).toEqual([
        [1, 0, 'roll_dice'],
        [1, 1, 'current_time'],
      ]);
      expect(byId.get(twice.result.assistantMessage.id)?.toolCalls?.[0]).toMatchObject({
        status: 'complete',
        arguments: { notation: 'd20' },
        error: null,
      });
      // A reply that called nothing, the user's messages and the greeting carry none.
      expect(byId.get(quiet.result.assistantMessage.id)).not.toHaveProperty('toolCalls');
      for (const message of page.items.filter((m) => m.role === 'user' || m.replyToId === null)) {
        expect(message).not.toHaveProperty('toolCalls');
      }
    });

    it('a client re-attaching mid-turn gets the tool events in order with the text, and resumes after any event', async () => {
      const { token, chatId } = await newChat();
      const auth = { Authorization: `Bearer ${token}` };
      // A tab with the chat open before the turn, and one opened while the call runs.
      const { client: before } = await RealtimeClient.connect(base, { token, subscribe: [chatId] });
      sockets.push(before);
      const held = holdDice();
      gemini.enqueueFaults({
        kind: 'tool_calls',
        text: 'Let me roll. ',
        calls: [{ name: 'roll_dice', args: { notation: '1d6' } }],
      });
      const original = new LiveStream(`${base}/api/v1/chats/${chatId}/messages/stream`, {
        method: 'POST',
        headers: auth,
        body: { content: 'Roll for me.' },
      });
      await held.running;
      await original.waitFor((events) => events.some((e) => e.data.type === 'tool_call'));
      const replyId = ofType(original.events, 'turn_started')[0].assistantMessage.id;
      const followUrl = `${base}/api/v1/chats/${chatId}/messages/${replyId}/stream`;

      // Re-attached while the call runs: the text before it, then the call, and no result yet.
      const follower = new LiveStream(followUrl, { headers: auth });
      await follower.waitFor((events) => events.some((e) => e.data.type === 'tool_call'));
      expect(script(follower.events)).toEqual([
        'turn_started',
        'text:Let me roll. ',
        expect.stringMatching(/^tool_call:roll_dice:.*:running$/),
      ]);
      const { client: later } = await RealtimeClient.connect(base, { token, subscribe: [chatId] });
      sockets.push(later);
      await later.next('reply.tool_call');
      expect(later.of('reply.tool_result')).toHaveLength(0);

      held.release();
      await Promise.all([original.finished, follower.finished]);
      const told = script(original.events);
      expect(told).toEqual([
        'turn_started',
        'text:Let me roll. ',
        expect.stringMatching(/^tool_call:roll_dice:/),
        expect.stringMatching(/^tool_result:roll_dice:.*:complete$/),
        expect.stringMatching(/^text:/),
        'done',
      ]);
      expect(script(follower.events)).toEqual(told);
      // A follower after the end is told the same.
      const afterwards = await t().http.get(followUrl.slice(base.length)).set(auth).expect(200);
      expect(script(parseSse(afterwards.text))).toEqual(told);

      // Resuming after any event of the original stream gives exactly what came after it there.
      for (const [i, event] of original.events.entries()) {
        if (!event.id || event.data.type === 'done') continue;
        const resumed = await t()
          .http.get(followUrl.slice(base.length))
          .set(auth)
          .set('Last-Event-ID', event.id)
          .expect(200);
        const expected = script(original.events.slice(i + 1));
        expect([event.id, script(parseSse(resumed.text))]).toEqual([event.id, expected]);
      }

      // The other tabs saw the call live, in order with the text, and the reply's end carries it.
      for (const socket of [before, later]) {
        await socket.next('message.updated', (e) => e.message.id === replyId && e.message.status === 'complete');
      }
      const seen = before
        .events()
        .filter((e) => 'messageId' in e && e.messageId === replyId)
        .map((e) => (e.type === 'reply.delta' ? `delta@${e.offset}` : e.type));
      expect(seen.filter((type) => !type.startsWith('delta'))).toEqual(['reply.tool_call', 'reply.tool_result']);
      const callAt = seen.indexOf('reply.tool_call');
      expect(seen.slice(0, callAt).every((type) => type.startsWith('delta'))).toBe(true);
      expect(seen.slice(callAt + 2).length).toBeGreaterThan(0);
      const [result] = before.of('reply.tool_result');
      expect(result.call).toEqual(ofType(original.events, 'tool_result')[0].call);
      const ended = before
        .of('message.updated')
        .find((e) => e.message.id === replyId && e.message.status === 'complete');
      expect(ended?.message.toolCalls?.map((c) => c.id)).toEqual([result.call.id]);
      expect(later.of('reply.tool_result').map((e) => e.call.id)).toEqual([result.call.id]);
    });
    it('tells parallel calls in one order on every stream, whichever ends first', async () => {
      const { token, chatId } = await newChat();
      const auth = { Authorization: `Bearer ${token}` };
      const held = holdDice();
      gemini.enqueueFaults({
        kind: 'tool_calls',
        calls: [
          { name: 'roll_dice', args: { notation: '1d6' } },
          { name: 'current_time', args: { timeZone: 'UTC' } },
        ],
      });
      const original = new LiveStream(`${base}/api/v1/chats/${chatId}/messages/stream`, {
        method: 'POST',
        headers: auth,
        body: { content: 'Roll and tell the time.' },
      });
      await held.running;
      // The time is told only after the roll before it, though it ended first.
      await original.waitFor((events) => ofType(events, 'tool_call').length === 2);
      expect(ofType(original.events, 'tool_result')).toHaveLength(0);
      held.release();
      await original.finished;
      const told = script(original.events);
      expect(told.filter((line) => line.startsWith('tool_'))).toEqual([
        expect.stringMatching(/^tool_call:roll_dice:/),
        expect.stringMatching(/^tool_call:current_time:/),
        expect.stringMatching(/^tool_result:roll_dice:/),
        expect.stringMatching(/^tool_result:current_time:/),
      ]);
      const replyId = ofType(original.events, 'turn_started')[0].assistantMessage.id;
      const followed = await t().http.get(`/api/v1/chats/${chatId}/messages/${replyId}/stream`).set(auth).expect(200);
      expect(script(parseSse(followed.text))).toEqual(told);
    });
  });

  describe(`a user character's tools`, () => {
    it(`lists the tools a character may be given, keeps unlisted names, and offers exactly the character's listed tools`, async () => {
      const { accessToken: token } = await registerUser(t());
      const auth = { Authorization: `Bearer ${token}` };
      const listed = (await t().http.get('/api/v1/tools').set(auth).expect(200)).body as ToolList;
      expect(listed.items.map((tool) => [tool.name, tool.source])).toEqual(
        expect.arrayContaining([
          ['roll_dice', 'builtin'],
          ['remember', 'builtin'],
          ['counter__increment', 'mcp'],
        ]),
      );
      expect(listed.items.find((tool) => tool.name === 'remember')?.idempotent).toBe(false);

      // A name the server does not list is kept (an MCP server may be down), and never offered.
      const unlisted = await t()
        .http.post('/api/v1/me/characters')
        .set(auth)
        .send({ name: 'Dicer', firstMessage: 'Hi.', tools: ['roll_dice', 'launch_torpedoes'] })
        .expect(201);
      expect(unlisted.body.tools).toEqual(['roll_dice', 'launch_torpedoes']);

      const created = await t()
        .http.post('/api/v1/me/characters')
        .set(auth)
        .send({ name: 'Dicer', firstMessage: 'Hi.', tools: ['roll_dice'] })
        .expect(201);
      const id = created.body.id as string;
      expect(created.body.tools).toEqual(['roll_dice']);
      const mine = await t().http.get('/api/v1/me/characters').set(auth).expect(200);
      expect(mine.body.items.find((c: { id: string }) => c.id === id)?.tools).toEqual(['roll_dice']);

      const chat = await createChat(t(), token, id);
      const rolled = await stream(t(), token, chat.id, 'Roll 2d6+3.');
      expect(gemini.requests()[0].tools).toEqual(['roll_dice']);
      expect(callsOf(rolled.result).map((c) => c.toolName)).toEqual(['roll_dice']);

      // Saved without tools: none offered, none called.
      const cleared = await t()
        .http.put(`/api/v1/me/characters/${id}`)
        .set(auth)
        .send({ name: 'Dicer', firstMessage: 'Hi.' })
        .expect(200);
      expect(cleared.body.tools).toEqual([]);
      gemini.reset();
      const plain = await stream(t(), token, chat.id, 'Roll 2d6+3.');
      expect(gemini.requests()[0].tools).toBeUndefined();
      expect(plain.result.assistantMessage.toolCalls ?? []).toEqual([]);
      expect(executions.get('roll_dice')).toBe(1);

      // The card carries them (its Parley extension), out and back in.
      await t()
        .http.put(`/api/v1/me/characters/${id}`)
        .set(auth)
        .send({ name: 'Dicer', firstMessage: 'Hi.', tools: ['remember', 'current_time'] })
        .expect(200);
      const card = await t().http.get(`/api/v1/me/characters/${id}/export?format=json&spec=v3`).set(auth).expect(200);
      const body = JSON.parse(card.text) as { data: { extensions: { parley: { tools: string[] } } } };
      expect(body.data.extensions.parley.tools).toEqual(['remember', 'current_time']);
      const imported = await t().http.post('/api/v1/me/characters/import').set(auth).send(body).expect(201);
      expect(imported.body.character.tools).toEqual(['remember', 'current_time']);

      // The unlisted name stays out of what the model is offered.
      gemini.reset();
      const unlistedChat = await createChat(t(), token, unlisted.body.id as string);
      await stream(t(), token, unlistedChat.id, 'Roll 2d6+3.');
      expect(gemini.requests()[0].tools).toEqual(['roll_dice']);
    });
  });
});
