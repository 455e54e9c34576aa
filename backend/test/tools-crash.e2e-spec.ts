import { randomUUID } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MemoryList, Message, MessagePage, ToolCallPage, TurnResult } from '@parley/api-types';
import { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { call, exited, start, stopRunning, type Running } from './support/process-app.js';
import { McpCounterServer } from './support/mcp-counter.server.js';

/**
 * Exactly-once tool effects across a crash (issue 12): the app (the production build, its own
 * process) runs a `remember` call, which completes and is stored; the model's next answer is
 * slow, and the process is killed with SIGKILL. On a fresh process the same Idempotency-Key
 * answers the first attempt's outcome (interrupted) and regenerating the reply continues from
 * the stored call: the model gets its result, and the memory — the side effect — holds one entry.
 */
describe('tool calls across kill -9', () => {
  let dataDir: string;
  let running: Running | undefined;
  let gemini: DemoGeminiServer;
  let counter: McpCounterServer;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'parley-tools-crash-'));
    await chmod(dataDir, 0o755);
    gemini = await DemoGeminiServer.start({ host: '127.0.0.1', port: 0 });
    counter = await new McpCounterServer().start();
  });
  afterAll(async () => {
    await stopRunning(running);
    await gemini.close();
    await counter.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('never runs a call again: completed (its result reused) or in flight at the crash (interrupted, not re-run)', async () => {
    const env = {
      GEMINI_API_KEY: 'test-key',
      GEMINI_BASE_URL: gemini.baseUrl,
      GEMINI_MODEL: 'gemini-test',
      TURN_RATE_LIMIT_PER_MINUTE: '0',
      FIRST_TOKEN_TIMEOUT_MS: '60000',
      MCP_SERVERS: JSON.stringify([{ name: 'counter', url: counter.url, characters: ['captain-mira'] }]),
    };
    running = await start(dataDir, env);
    const base = running.base;
    const registered = await call(base, '/api/v1/auth/register', {
      method: 'POST',
      body: { email: `tools-crash-${randomUUID()}@example.com`, password: 'exactly once please' },
    });
    const token = registered.body.accessToken as string;
    const balance = (await call(base, '/api/v1/me', { token })).body.tokenBalance as number;
    const newChat = async () =>
      (await call(base, '/api/v1/chats', { method: 'POST', token, body: { characterId: 'captain-mira' } })).body
        .id as string;
    const chatId = await newChat();
    const inFlightChat = await newChat();

    // The model asks to remember and to count (an MCP tool with a side effect); its answer to the
    // results never comes before the crash.
    gemini.enqueueFaults(
      {
        kind: 'tool_calls',
        calls: [
          { name: 'remember', args: { content: 'The airlock code is 4-7-1.' } },
          { name: 'counter__increment', args: { by: 5 } },
        ],
      },
      { kind: 'first_byte_delay', delayMs: 120_000 },
    );
    const key = randomUUID();
    const inFlightKey = randomUUID();
    const sendTo = (where: string, chat: string, idempotencyKey: string, content: string) =>
      fetch(`${where}/api/v1/chats/${chat}/messages`, {
        method: 'POST',
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'Idempotency-Key': idempotencyKey,
        },
        body: JSON.stringify({ content }),
      });
    const send = (where: string) => sendTo(where, chatId, key, 'Remember the airlock code.');
    const first = send(base).catch(() => undefined);
    const callsIn = async (where: string, chat: string) =>
      ((await call(where, `/api/v1/chats/${chat}/tool-calls`, { token })).body as ToolCallPage).items;
    await until(
      async () => (await callsIn(base, chatId)).every((c) => c.status === 'complete') && gemini.requests().length === 2,
      20_000,
    );
    expect(counter.count).toBe(5);

    // A second chat: an MCP tool with a side effect is running (the server has counted it) at the crash.
    gemini.enqueueFaults({ kind: 'tool_calls', calls: [{ name: 'counter__slow_increment', args: { by: 1 } }] });
    const second = sendTo(base, inFlightChat, inFlightKey, 'Count the crew.').catch(() => undefined);
    await until(
      async () => counter.count === 6 && (await callsIn(base, inFlightChat))[0]?.status === 'running',
      20_000,
    );
    running.child.kill('SIGKILL');
    await exited(running.child);
    await Promise.all([first, second]);

    // A fresh process; a short deadline so the dead reply is swept soon.
    running = await start(dataDir, { ...env, TURN_TIMEOUT_MS: '2000' });
    const again = running.base;
    let answer: Response;
    for (;;) {
      answer = await send(again);
      if (answer.status !== 409) break;
      await answer.body?.cancel();
      await sleep(1000);
    }
    expect(answer.status).toBe(503);
    expect(((await answer.json()) as { code: string }).code).toBe('turn_interrupted');
    const requestsBefore = gemini.requests().length;

    const messages = ((await call(again, `/api/v1/chats/${chatId}/messages`, { token })).body as MessagePage).items;
    const interrupted = messages.at(-1) as Message;
    expect(interrupted).toMatchObject({ role: 'assistant', status: 'failed', errorCode: 'turn_interrupted' });
    // The calls stay as they were: complete, with their results.
    const calls = ((await call(again, `/api/v1/chats/${chatId}/tool-calls`, { token })).body as ToolCallPage).items;
    expect(calls.map((c) => [c.toolName, c.status, c.messageId]).sort()).toEqual([
      ['counter__increment', 'complete', interrupted.id],
      ['remember', 'complete', interrupted.id],
    ]);

    // The user asks again: the model continues from the stored result instead of calling again.
    const regenerated = await call(again, `/api/v1/chats/${chatId}/messages/${interrupted.id}/regenerate`, {
      method: 'POST',
      token,
    });
    expect(regenerated.status).toBe(201);
    const result = regenerated.body as TurnResult;
    expect(result.assistantMessage.content).toContain('I will remember that: The airlock code is 4-7-1.');
    const sent = gemini.requests().slice(requestsBefore);
    expect(sent).toHaveLength(1);
    expect(sent[0].functionResponses).toBe(2);

    const memory = (await call(again, `/api/v1/chats/${chatId}/memory`, { token })).body as MemoryList;
    expect(memory.items.map((e) => e.content)).toEqual(['The airlock code is 4-7-1.']);
    const after = ((await call(again, `/api/v1/chats/${chatId}/tool-calls`, { token })).body as ToolCallPage).items;
    expect(after).toHaveLength(2);
    // The MCP server's own counter: the completed call was not run again.
    expect(counter.count).toBe(6);
    // One user message, whatever the crash and the regenerate did.
    const history = ((await call(again, `/api/v1/chats/${chatId}/messages`, { token })).body as MessagePage).items;
    expect(history.filter((m) => m.role === 'user')).toHaveLength(1);
    // Charged once, for the reply that completed.
    const charged = result.usage?.totalTokens ?? 0;
    expect((await call(again, '/api/v1/me', { token })).body.tokenBalance).toBe(balance - charged);

    // The call in flight at the crash: marked interrupted (once its reply is swept), never re-run.
    const repeat = await sendTo(again, inFlightChat, inFlightKey, 'Count the crew.');
    expect(((await repeat.json()) as { code: string }).code).toBe('turn_interrupted');
    await until(async () => (await callsIn(again, inFlightChat))[0]?.status === 'interrupted', 30_000);
    const cut = ((await call(again, `/api/v1/chats/${inFlightChat}/messages`, { token })).body as MessagePage).items.at(
      -1,
    ) as Message;
    const retried = await call(again, `/api/v1/chats/${inFlightChat}/messages/${cut.id}/regenerate`, {
      method: 'POST',
      token,
    });
    expect(retried.status).toBe(201);
    // The model was told the call did not finish; the server's own counter shows one execution.
    expect((retried.body as TurnResult).assistantMessage.content).toContain('it was not run again');
    expect(counter.count).toBe(6);
    expect(await callsIn(again, inFlightChat)).toHaveLength(1);
    expect((await call(again, '/api/v1/me', { token })).body.tokenBalance).toBe(
      balance - charged - ((retried.body as TurnResult).usage?.totalTokens ?? 0),
    );
  });
});

async function until(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(100);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
