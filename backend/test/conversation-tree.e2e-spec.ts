import { randomUUID } from 'node:crypto';
import type { AlternativeList, Chat, Message, MessagePage, TurnResult } from '@parley/api-types';
import { ConversationTreeService } from '../src/chats/conversation-tree.service.js';
import { InterruptedTurnsService } from '../src/generation/interrupted-turns.service.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { ofType, parseSse } from './support/sse.js';

const FAST = {
  RETRY_BASE_DELAY_MS: '10',
  RETRY_MAX_DELAY_MS: '40',
  FIRST_TOKEN_TIMEOUT_MS: '1500',
  STALL_TIMEOUT_MS: '500',
  TURN_TIMEOUT_MS: '8000',
  PROVIDER_BREAKER_MIN_CALLS: '100000',
  DEBUG_FAULTS: 'true',
  SIGNUP_TOKEN_GRANT: '100000000',
};

interface LedgerRow {
  segment: number;
  kind: string;
  amount: number;
}

describe(ConversationTreeService.name, () => {
  const t = useTestApp(FAST);
  let token: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const demo = () => t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);
  const base = (chat: Chat) => `/api/v1/chats/${chat.id}/messages`;

  beforeAll(async () => {
    token = (await registerUser(t())).accessToken;
  });
  beforeEach(() => demo().reset());

  async function send(chat: Chat, content: string, headers: Record<string, string> = {}): Promise<TurnResult> {
    const response = await t().http.post(base(chat)).set(auth()).set(headers).send({ content });
    expect(response.status).toBe(201);
    return response.body as TurnResult;
  }
  const regenerate = (chat: Chat, id: string, headers: Record<string, string> = {}) =>
    t()
      .http.post(`${base(chat)}/${id}/regenerate`)
      .set(auth())
      .set(headers);
  const edit = (chat: Chat, id: string, content: string, headers: Record<string, string> = {}) =>
    t()
      .http.post(`${base(chat)}/${id}/edit`)
      .set(auth())
      .set(headers)
      .send({ content });
  const continueReply = (chat: Chat, id: string, headers: Record<string, string> = {}) =>
    t()
      .http.post(`${base(chat)}/${id}/continue`)
      .set(auth())
      .set(headers);
  const select = (chat: Chat, id: string, headers: Record<string, string> = {}) =>
    t()
      .http.post(`${base(chat)}/${id}/select`)
      .set(auth())
      .set(headers);
  const remove = (chat: Chat, id: string, headers: Record<string, string> = {}) =>
    t()
      .http.delete(`${base(chat)}/${id}`)
      .set(auth())
      .set(headers);
  const fork = (chat: Chat, id: string, headers: Record<string, string> = {}) =>
    t()
      .http.post(`${base(chat)}/${id}/fork`)
      .set(auth())
      .set(headers);
  const alternatives = async (chat: Chat, id: string): Promise<AlternativeList> =>
    (
      await t()
        .http.get(`${base(chat)}/${id}/alternatives`)
        .set(auth())
        .expect(200)
    ).body as AlternativeList;
  const history = async (chat: Chat, query = ''): Promise<MessagePage> =>
    (
      await t()
        .http.get(`${base(chat)}${query}`)
        .set(auth())
        .expect(200)
    ).body as MessagePage;
  const getChat = async (chat: Chat): Promise<Chat> =>
    (await t().http.get(`/api/v1/chats/${chat.id}`).set(auth()).expect(200)).body as Chat;
  const contents = (page: MessagePage) => page.items.map((m) => m.content);
  const ids = (page: MessagePage) => page.items.map((m) => m.id);
  // What the provider was sent last: the turns after the system instruction, as role: text.
  const lastPrompt = () =>
    demo()
      .requests()
      .at(-1)!
      .contents.map((c) => `${c.role}: ${c.text}`);
  const ledger = (messageId: string): Promise<LedgerRow[]> =>
    t().dataSource.query(
      'SELECT segment, kind, amount::int AS amount FROM token_ledger WHERE message_id = $1 ORDER BY segment, created_at, kind',
      [messageId],
    );

  describe('send and history', () => {
    it('chains each send off the active leaf and lists the active path with its parents', async () => {
      const chat = await createChat(t(), token);
      const first = await send(chat, 'one');
      const second = await send(chat, 'two');
      const page = await history(chat);
      const [greeting, u1, a1, u2, a2] = page.items as [Message, Message, Message, Message, Message];
      expect(page.items.map((m) => m.parentId)).toEqual([null, greeting.id, u1.id, a1.id, u2.id]);
      expect([u1.id, a1.id, u2.id, a2.id]).toEqual([
        first.userMessage.id,
        first.assistantMessage.id,
        second.userMessage.id,
        second.assistantMessage.id,
      ]);
      expect(page.items.map((m) => m.finishReason)).toEqual([null, null, 'stop', null, 'stop']);
      expect(page.items.every((m) => m.alternatives?.index === 1 && m.alternatives.count === 1)).toBe(true);
      const stored = await getChat(chat);
      expect(stored.activeLeafId).toBe(a2.id);
      expect(stored.lastMessage?.id).toBe(a2.id);
    });

    it('pages the active path with before, leaving other branches out', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      await regenerate(chat, one.assistantMessage.id).expect(201);
      await send(chat, 'two');
      await send(chat, 'three');
      const latest = await history(chat, '?limit=4');
      expect(contents(latest)[0]).toBe('two');
      expect(contents(latest)[2]).toBe('three');
      expect(latest.hasMore).toBe(true);
      const older = await history(chat, `?limit=4&before=${latest.nextBefore}`);
      // greeting, one, the regenerated reply: the replaced reply is not on the path.
      expect(older.items).toHaveLength(3);
      expect(older.items[1]!.content).toBe('one');
      expect(older.items[2]!.id).not.toBe(one.assistantMessage.id);
      expect(older.items[2]!.alternatives).toEqual({ index: 2, count: 2 });
      expect(older.hasMore).toBe(false);
      expect(older.nextBefore).toBeNull();
    });
  });

  describe('regenerate and select (swipes)', () => {
    it('keeps three alternatives, lists them, and makes the selected one the path', async () => {
      const chat = await createChat(t(), token);
      const { assistantMessage: a1 } = await send(chat, 'hello');
      const a2 = ((await regenerate(chat, a1.id).expect(201)).body as TurnResult).assistantMessage;
      const a3 = ((await regenerate(chat, a2.id).expect(201)).body as TurnResult).assistantMessage;
      expect([a2.parentId, a3.parentId]).toEqual([a1.parentId, a1.parentId]);

      let page = await history(chat);
      expect(ids(page).at(-1)).toBe(a3.id);
      expect(page.items.at(-1)!.alternatives).toEqual({ index: 3, count: 3 });
      expect(ids(page)).not.toContain(a1.id);

      const listed = await alternatives(chat, a2.id);
      expect(listed.items.map((m) => m.id)).toEqual([a1.id, a2.id, a3.id]);
      expect(listed.items.map((m) => m.alternatives)).toEqual([
        { index: 1, count: 3 },
        { index: 2, count: 3 },
        { index: 3, count: 3 },
      ]);
      expect(listed.activeId).toBe(a3.id);

      const selected = (await select(chat, a1.id).expect(200)).body as Chat;
      expect(selected.activeLeafId).toBe(a1.id);
      expect(selected.lastMessage?.id).toBe(a1.id);
      page = await history(chat);
      expect(ids(page).at(-1)).toBe(a1.id);
      expect(page.items.at(-1)!.alternatives).toEqual({ index: 1, count: 3 });
      expect((await alternatives(chat, a3.id)).activeId).toBe(a1.id);

      // The last reply of the active path is now a1; a3 is off the path.
      const refused = await regenerate(chat, a3.id).expect(409);
      expect(refused.body.code).toBe('message_not_regenerable');
    });

    it('regenerates a failed reply as an alternative that hides it from the history', async () => {
      const chat = await createChat(t(), token);
      demo().enqueueFaults({ kind: 'http_400' });
      const failed = await t().http.post(base(chat)).set(auth()).send({ content: 'try me' });
      expect(failed.status).toBe(503);
      const page = await history(chat);
      const failedReply = page.items.at(-1)!;
      expect(failedReply.finishReason).toBe('error');
      const retried = (await regenerate(chat, failedReply.id).expect(201)).body as TurnResult;
      // The failed attempt was not on the prompt: the user message only.
      expect(lastPrompt()).toEqual(['user: try me']);
      const after = await history(chat);
      expect(ids(after)).not.toContain(failedReply.id);
      expect(after.items.at(-1)).toMatchObject({
        id: retried.assistantMessage.id,
        alternatives: { index: 2, count: 2 },
      });
    });

    it('selecting a message makes the newest message of its subtree the leaf', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const two = await send(chat, 'two');
      await regenerate(chat, one.assistantMessage.id).expect(409);
      // Back to the first exchange's user message: its subtree ends at the second reply.
      const selected = (await select(chat, one.userMessage.id).expect(200)).body as Chat;
      expect(selected.activeLeafId).toBe(two.assistantMessage.id);
    });
  });

  describe('the prompt', () => {
    it('sends the provider exactly the active path', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'first question');
      demo().enqueueFaults({ kind: 'reply', text: 'second answer' });
      const other = ((await regenerate(chat, one.assistantMessage.id).expect(201)).body as TurnResult).assistantMessage;
      await send(chat, 'on the second branch');
      expect(lastPrompt()).toEqual(['user: first question', 'model: second answer', 'user: on the second branch']);

      await select(chat, one.assistantMessage.id).expect(200);
      await send(chat, 'on the first branch');
      expect(lastPrompt()).toEqual([
        'user: first question',
        `model: ${one.assistantMessage.content}`,
        'user: on the first branch',
      ]);
      expect(other.content).toBe('second answer');

      // An edit is answered from the path before the edited message.
      const page = await history(chat);
      const edited = page.items.find((m) => m.content === 'on the first branch')!;
      await edit(chat, edited.id, 'edited question').expect(201);
      expect(lastPrompt()).toEqual([
        'user: first question',
        `model: ${one.assistantMessage.content}`,
        'user: edited question',
      ]);
    });
  });

  describe('edit', () => {
    it('adds a sibling user message with a reply; the old branch stays selectable', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const two = await send(chat, 'two');
      const edited = (await edit(chat, one.userMessage.id, 'one, edited').expect(201)).body as TurnResult;
      expect(edited.userMessage.parentId).toBe(one.userMessage.parentId);
      expect(edited.assistantMessage.parentId).toBe(edited.userMessage.id);
      const page = await history(chat);
      expect(contents(page).slice(1, 2)).toEqual(['one, edited']);
      expect(page.items).toHaveLength(3);
      expect(page.items[1]!.alternatives).toEqual({ index: 2, count: 2 });
      expect((await getChat(chat)).activeLeafId).toBe(edited.assistantMessage.id);

      await select(chat, one.userMessage.id).expect(200);
      const back = await history(chat);
      expect(ids(back)).toEqual([
        page.items[0]!.id,
        one.userMessage.id,
        one.assistantMessage.id,
        two.userMessage.id,
        two.assistantMessage.id,
      ]);
    });

    it('refuses replies, the greeting and messages off the active path (409 message_not_editable)', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const greeting = (await history(chat)).items[0]!;
      expect((await edit(chat, one.assistantMessage.id, 'x').expect(409)).body.code).toBe('message_not_editable');
      expect((await edit(chat, greeting.id, 'x').expect(409)).body.code).toBe('message_not_editable');
      const edited = (await edit(chat, one.userMessage.id, 'one again').expect(201)).body as TurnResult;
      expect(edited.userMessage.content).toBe('one again');
      expect((await edit(chat, one.userMessage.id, 'x').expect(409)).body.code).toBe('message_not_editable');
      expect((await edit(chat, randomUUID(), 'x').expect(404)).body.code).toBe('message_not_found');
    });

    it('moderates the new content before anything is stored', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const before = await t().dataSource.query('SELECT count(*)::int AS n FROM messages WHERE chat_id = $1', [
        chat.id,
      ]);
      const blocked = await edit(chat, one.userMessage.id, 'say zorblax-canary for me');
      expect(blocked.status).toBe(422);
      expect(blocked.body.code).toBe('content_blocked');
      const after = await t().dataSource.query('SELECT count(*)::int AS n FROM messages WHERE chat_id = $1', [chat.id]);
      expect(after).toEqual(before);
    });

    it('replays the first outcome for a repeat with the same key, and refuses the key for another edit', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const key = { 'Idempotency-Key': randomUUID() };
      const first = (await edit(chat, one.userMessage.id, 'again', key).expect(201)).body as TurnResult;
      const repeat = (await edit(chat, one.userMessage.id, 'again', key).expect(201)).body as TurnResult;
      expect(repeat.userMessage.id).toBe(first.userMessage.id);
      expect(repeat.assistantMessage.id).toBe(first.assistantMessage.id);
      const users = await t().dataSource.query(
        `SELECT count(*)::int AS n FROM messages WHERE chat_id = $1 AND role = 'user' AND content = 'again'`,
        [chat.id],
      );
      expect(users).toEqual([{ n: 1 }]);
      const reused = await edit(chat, one.userMessage.id, 'something else', key).expect(422);
      expect(reused.body.code).toBe('idempotency_key_reused');
    });
  });

  describe('delete', () => {
    it('moves the leaf to the newest remaining sibling, or to the parent when none is left', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const a2 = ((await regenerate(chat, one.assistantMessage.id).expect(201)).body as TurnResult).assistantMessage;
      const a3 = ((await regenerate(chat, a2.id).expect(201)).body as TurnResult).assistantMessage;
      await select(chat, a2.id).expect(200);
      // Not on the path: the leaf stays.
      let after = (await remove(chat, a3.id).expect(200)).body as Chat;
      expect(after.activeLeafId).toBe(a2.id);
      // The leaf: the newest remaining sibling.
      after = (await remove(chat, a2.id).expect(200)).body as Chat;
      expect(after.activeLeafId).toBe(one.assistantMessage.id);
      // The last reply: its user message.
      after = (await remove(chat, one.assistantMessage.id).expect(200)).body as Chat;
      expect(after.activeLeafId).toBe(one.userMessage.id);
      expect(after.lastMessage?.id).toBe(one.userMessage.id);
      // A user leaf can be answered again.
      const answered = (await regenerate(chat, one.userMessage.id).expect(201)).body as TurnResult;
      expect(answered.assistantMessage.parentId).toBe(one.userMessage.id);
    });

    it('deletes the whole subtree and keeps every ledger row', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const two = await send(chat, 'two');
      const ledgerBefore = await t().dataSource.query('SELECT count(*)::int AS n FROM token_ledger');
      const after = (await remove(chat, one.userMessage.id).expect(200)).body as Chat;
      const greeting = (await history(chat)).items[0]!;
      expect(after.activeLeafId).toBe(greeting.id);
      const left = await t().dataSource.query('SELECT id FROM messages WHERE chat_id = $1', [chat.id]);
      expect(left).toEqual([{ id: greeting.id }]);
      expect(await t().dataSource.query('SELECT count(*)::int AS n FROM token_ledger')).toEqual(ledgerBefore);
      expect(two.assistantMessage.id).toBeDefined();
      // Again: gone.
      expect((await remove(chat, one.userMessage.id).expect(404)).body.code).toBe('message_not_found');
    });

    it('refuses the greeting (409 message_not_deletable) and replays a keyed delete', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const greeting = (await history(chat)).items[0]!;
      expect((await remove(chat, greeting.id).expect(409)).body.code).toBe('message_not_deletable');
      const key = { 'Idempotency-Key': randomUUID() };
      const first = (await remove(chat, one.userMessage.id, key).expect(200)).body as Chat;
      const repeat = (await remove(chat, one.userMessage.id, key).expect(200)).body as Chat;
      expect(repeat).toEqual(first);
      expect((await remove(chat, greeting.id, key).expect(422)).body.code).toBe('idempotency_key_reused');
    });
  });

  describe('select', () => {
    it('replays a keyed select without moving the path again', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const a2 = ((await regenerate(chat, one.assistantMessage.id).expect(201)).body as TurnResult).assistantMessage;
      const key = { 'Idempotency-Key': randomUUID() };
      const first = (await select(chat, one.assistantMessage.id, key).expect(200)).body as Chat;
      expect(first.activeLeafId).toBe(one.assistantMessage.id);
      await select(chat, a2.id).expect(200);
      const repeat = (await select(chat, one.assistantMessage.id, key).expect(200)).body as Chat;
      expect(repeat).toEqual(first);
      expect((await getChat(chat)).activeLeafId).toBe(a2.id);
      expect((await select(chat, randomUUID()).expect(404)).body.code).toBe('message_not_found');
    });
  });

  describe('fork', () => {
    it('copies the path up to the message into a new chat, leaving the original alone', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      await send(chat, 'two');
      const response = await fork(chat, one.assistantMessage.id).expect(201);
      const forked = response.body as Chat;
      expect(response.headers.location).toBe(`/api/v1/chats/${forked.id}`);
      expect(forked.id).not.toBe(chat.id);
      expect(forked.title).toMatch(/ \(fork\)$/);
      const page = await history(forked);
      expect(contents(page)).toEqual([(await history(chat)).items[0]!.content, 'one', one.assistantMessage.content]);
      expect(page.items.map((m) => m.seq)).toEqual([1, 2, 3]);
      expect(page.items[1]!.parentId).toBe(page.items[0]!.id);
      expect(page.items[2]!.replyToId).toBe(page.items[1]!.id);
      expect(forked.activeLeafId).toBe(page.items[2]!.id);
      expect((await history(chat)).items).toHaveLength(5);
      // The fork goes on by itself.
      await send(forked, 'three');
      expect(lastPrompt()).toEqual(['user: one', `model: ${one.assistantMessage.content}`, 'user: three']);

      const key = { 'Idempotency-Key': randomUUID() };
      const keyed = (await fork(chat, one.userMessage.id, key).expect(201)).body as Chat;
      expect(((await fork(chat, one.userMessage.id, key).expect(201)).body as Chat).id).toBe(keyed.id);
    });
  });

  describe('import', () => {
    it('rebuilds a version 2 export as its tree, with its active leaf', async () => {
      const response = await t()
        .http.post('/api/v1/chats/import')
        .set(auth())
        .send({
          format: 'parley.chat',
          version: 2,
          chat: { characterId: 'captain-mira', title: 'Branches', activeLeafId: 'a1' },
          messages: [
            { id: 'g', parentId: null, role: 'assistant', content: 'Welcome aboard.' },
            { id: 'u1', parentId: 'g', role: 'user', content: 'First try' },
            { id: 'a1', parentId: 'u1', role: 'assistant', content: 'First answer' },
            { id: 'a2', parentId: 'u1', role: 'assistant', content: 'Second answer' },
            { id: 'u2', parentId: 'a2', role: 'user', content: 'Went on from the second' },
          ],
        })
        .expect(201);
      const chat = response.body as Chat;
      const page = await history(chat);
      expect(contents(page)).toEqual(['Welcome aboard.', 'First try', 'First answer']);
      expect(page.items[2]!.replyToId).toBe(page.items[1]!.id);
      expect(page.items[2]!.alternatives).toEqual({ index: 1, count: 2 });
      const selected = (await select(chat, (await alternatives(chat, page.items[2]!.id)).items[1]!.id).expect(200))
        .body as Chat;
      expect(contents(await history(selected))).toEqual([
        'Welcome aboard.',
        'First try',
        'Second answer',
        'Went on from the second',
      ]);

      const broken = await t()
        .http.post('/api/v1/chats/import')
        .set(auth())
        .send({
          format: 'parley.chat',
          version: 2,
          chat: { characterId: 'captain-mira' },
          messages: [
            { id: 'g', parentId: null, role: 'assistant', content: 'Welcome aboard.' },
            { id: 'u1', parentId: 'later', role: 'user', content: 'x' },
          ],
        })
        .expect(400);
      expect(broken.body.code).toBe('validation_failed');
    });
  });

  describe('conflicts', () => {
    it('answers 409 generation_in_progress to every action while a reply is running', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      demo().enqueueFaults({ kind: 'first_byte_delay', delayMs: 1200 });
      const running = t()
        .http.post(`${base(chat)}/stream`)
        .set(auth())
        .set('Idempotency-Key', randomUUID())
        .send({ content: 'slow' })
        .then((r) => r);
      // Wait for the pending reply to be stored.
      for (let i = 0; i < 100; i++) {
        const [row] = await t().dataSource.query(
          `SELECT count(*)::int AS n FROM messages WHERE chat_id = $1 AND status IN ('pending', 'streaming')`,
          [chat.id],
        );
        if (row.n > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const answers = await Promise.all([
        select(chat, one.assistantMessage.id),
        remove(chat, one.userMessage.id),
        edit(chat, one.userMessage.id, 'x'),
        regenerate(chat, one.assistantMessage.id),
        continueReply(chat, one.assistantMessage.id),
      ]);
      expect(answers.map((a) => [a.status, a.body.code])).toEqual(answers.map(() => [409, 'generation_in_progress']));
      expect((await running).status).toBe(200);
    });

    it("answers 404 for another user's chat", async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'one');
      const other = (await registerUser(t())).accessToken;
      const as = { Authorization: `Bearer ${other}` };
      const attempts = await Promise.all([
        t()
          .http.post(`${base(chat)}/${one.assistantMessage.id}/select`)
          .set(as),
        t()
          .http.delete(`${base(chat)}/${one.userMessage.id}`)
          .set(as),
        t()
          .http.post(`${base(chat)}/${one.assistantMessage.id}/fork`)
          .set(as),
        t()
          .http.get(`${base(chat)}/${one.assistantMessage.id}/alternatives`)
          .set(as),
        t()
          .http.post(`${base(chat)}/${one.userMessage.id}/edit`)
          .set(as)
          .send({ content: 'x' }),
        t()
          .http.post(`${base(chat)}/${one.assistantMessage.id}/continue`)
          .set(as),
      ]);
      expect(attempts.map((a) => [a.status, a.body.code])).toEqual(attempts.map(() => [404, 'chat_not_found']));
    });
  });

  describe('continue', () => {
    // Waits (up to 2 s) until a continuation has started writing the reply.
    const untilStreaming = async (id: string) => {
      for (let i = 0; i < 100; i++) {
        const [row] = await t().dataSource.query('SELECT status FROM messages WHERE id = $1', [id]);
        if (row.status === 'streaming') return;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const cutReply = async (chat: Chat): Promise<TurnResult> => {
      const turn = await send(chat, 'tell me a long story', { 'X-Debug-Force-Error': 'max_tokens' });
      expect(turn.assistantMessage.finishReason).toBe('max_tokens');
      return turn;
    };

    it('appends to a cut reply with its own charge, and sends the partial reply as the model turn', async () => {
      const chat = await createChat(t(), token);
      const cut = await cutReply(chat);
      const reply = cut.assistantMessage;
      const continued = (await continueReply(chat, reply.id).expect(201)).body as TurnResult;
      expect(continued.assistantMessage.id).toBe(reply.id);
      expect(continued.assistantMessage.content.startsWith(reply.content)).toBe(true);
      expect(continued.assistantMessage.content.length).toBeGreaterThan(reply.content.length);
      expect(continued.assistantMessage.finishReason).toBe('stop');
      const prompt = lastPrompt();
      expect(prompt.slice(0, 2)).toEqual(['user: tell me a long story', `model: ${reply.content}`]);
      expect(prompt[2]).toMatch(/^user: Continue your last reply/);
      // Usage is the sum of both parts; each part reserved and settled once.
      const own = continued.usage!;
      expect(continued.assistantMessage.usage!.totalTokens).toBe(reply.usage!.totalTokens + own.totalTokens);
      const rows = await ledger(reply.id);
      expect(rows.map((r) => [r.segment, r.kind])).toEqual([
        [0, 'reservation'],
        [0, 'settlement'],
        [1, 'reservation'],
        [1, 'settlement'],
      ]);
      expect(rows.filter((r) => r.segment === 1).reduce((sum, r) => sum + r.amount, 0)).toBe(-own.totalTokens);
      // Finished: no more to continue.
      expect((await continueReply(chat, reply.id).expect(409)).body.code).toBe('message_not_continuable');
    });

    it('restores the reply exactly when the continuation fails, releasing only its own reservation', async () => {
      const chat = await createChat(t(), token);
      const { assistantMessage: reply } = await cutReply(chat);
      demo().enqueueFaults({ kind: 'http_400' });
      const failed = await continueReply(chat, reply.id);
      expect(failed.status).toBe(503);
      const [stored] = (await history(chat)).items.slice(-1);
      expect(stored).toMatchObject({
        id: reply.id,
        content: reply.content,
        status: 'complete',
        finishReason: 'max_tokens',
        usage: reply.usage,
        attempts: reply.attempts,
      });
      const rows = await ledger(reply.id);
      expect(rows.map((r) => [r.segment, r.kind])).toEqual([
        [0, 'reservation'],
        [0, 'settlement'],
        [1, 'reservation'],
        [1, 'release'],
      ]);
      expect(rows.filter((r) => r.segment === 1).reduce((sum, r) => sum + r.amount, 0)).toBe(0);
      // It can be continued again.
      await continueReply(chat, reply.id).expect(201);
    });

    it('streams a continuation: the deltas are the new text, the stored reply the text so far and the new', async () => {
      const chat = await createChat(t(), token);
      const { assistantMessage: reply } = await cutReply(chat);
      const response = await t()
        .http.post(`${base(chat)}/${reply.id}/continue/stream`)
        .set(auth())
        .set('Idempotency-Key', randomUUID())
        .expect(200);
      const events = parseSse(response.text);
      const added = ofType(events, 'delta')
        .map((e) => e.text)
        .join('');
      expect(added.length).toBeGreaterThan(0);
      const [done] = ofType(events, 'done');
      expect(done!.result.assistantMessage).toMatchObject({ id: reply.id, content: reply.content + added });
      const [stored] = (await history(chat)).items.slice(-1);
      expect(stored).toMatchObject({ id: reply.id, content: reply.content + added, finishReason: 'stop' });
    });

    it('restores the reply when the continuation is stopped, or interrupted and swept', async () => {
      const chat = await createChat(t(), token);
      const { assistantMessage: reply } = await cutReply(chat);
      demo().enqueueFaults({ kind: 'stall', afterChunks: 1, delayMs: 3000 });
      const stream = t()
        .http.post(`${base(chat)}/${reply.id}/continue/stream`)
        .set(auth())
        .set('Idempotency-Key', randomUUID())
        .then((r) => r);
      await untilStreaming(reply.id);
      // The sweep takes it for a turn whose process died.
      await t().dataSource.query(`UPDATE messages SET updated_at = now() - interval '1 hour' WHERE id = $1`, [
        reply.id,
      ]);
      expect(await t().app.get(InterruptedTurnsService).sweep()).toBe(1);
      const [swept] = await t().dataSource.query(
        'SELECT status, content, error_code, metadata ? $2 AS continuing FROM messages WHERE id = $1',
        [reply.id, 'continuing'],
      );
      expect(swept).toEqual({ status: 'complete', content: reply.content, error_code: null, continuing: false });
      const events = parseSse((await stream).text);
      expect(ofType(events, 'error')).toHaveLength(1);

      // Stopped by the user: the same.
      demo().enqueueFaults({ kind: 'stall', afterChunks: 1, delayMs: 3000 });
      const again = t()
        .http.post(`${base(chat)}/${reply.id}/continue/stream`)
        .set(auth())
        .set('Idempotency-Key', randomUUID())
        .then((r) => r);
      await untilStreaming(reply.id);
      await t()
        .http.post(`${base(chat)}/${reply.id}/cancel`)
        .set(auth())
        .expect(200);
      await again;
      const [stopped] = (await history(chat)).items.slice(-1);
      expect(stopped).toMatchObject({ content: reply.content, status: 'complete', finishReason: 'max_tokens' });
      const released = await ledger(reply.id);
      expect(released.filter((r) => r.kind === 'settlement').map((r) => r.segment)).toEqual([0]);
      // Each attempt its own segment, each given back.
      expect(released.filter((r) => r.kind === 'release').map((r) => r.segment)).toEqual([1, 2]);
    });

    it('refuses a reply that is not the active leaf or did not end cut (409 message_not_continuable)', async () => {
      const chat = await createChat(t(), token);
      const cut = await cutReply(chat);
      await send(chat, 'next');
      const refused = await continueReply(chat, cut.assistantMessage.id).expect(409);
      expect(refused.body.code).toBe('message_not_continuable');
      const complete = await send(chat, 'again');
      expect((await continueReply(chat, complete.assistantMessage.id).expect(409)).body.code).toBe(
        'message_not_continuable',
      );
      expect((await continueReply(chat, complete.userMessage.id).expect(409)).body.code).toBe(
        'message_not_continuable',
      );
    });
  });

  describe('concurrency', () => {
    it('keeps 100 concurrent sends into one chat gap-free and one chain', async () => {
      const chat = await createChat(t(), token);
      const results = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          t()
            .http.post(base(chat))
            .set(auth())
            .send({ content: `hot ${i}` }),
        ),
      );
      expect(results.filter((r) => r.status !== 201).map((r) => r.body)).toEqual([]);
      const rows: Array<{ id: string; seq: number; role: string; parent_id: string | null }> =
        await t().dataSource.query('SELECT id, seq, role, parent_id FROM messages WHERE chat_id = $1 ORDER BY seq', [
          chat.id,
        ]);
      expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: 201 }, (_, i) => i + 1));
      // One chain: each message follows the one before it (u1 a1 u2 a2 …), the leaf is the last.
      expect(rows.slice(1).map((r, i) => r.parent_id === rows[i]!.id)).toEqual(rows.slice(1).map(() => true));
      expect(rows.map((r) => r.role)).toEqual(rows.map((_, i) => (i === 0 || i % 2 === 0 ? 'assistant' : 'user')));
      expect((await getChat(chat)).activeLeafId).toBe(rows.at(-1)!.id);

      // The whole chain deleted from its first user message: 200 messages deep, one statement.
      const after = (await remove(chat, rows[1]!.id).expect(200)).body as Chat;
      expect(after.activeLeafId).toBe(rows[0]!.id);
      expect(
        await t().dataSource.query('SELECT count(*)::int AS n FROM messages WHERE chat_id = $1', [chat.id]),
      ).toEqual([{ n: 1 }]);
    });
  });
});
