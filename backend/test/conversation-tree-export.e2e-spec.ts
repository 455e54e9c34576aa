import { randomUUID } from 'node:crypto';
import type {
  Chat,
  ChatImport,
  ChatTreePage,
  Message,
  MessagePage,
  RealtimeEvent,
  TurnResult,
} from '@parley/api-types';
import { ChatsService } from '../src/chats/chats.service.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { listen } from './support/live.js';
import { expectConformingFrames, RealtimeClient } from './support/realtime-client.js';
import { ofType, parseSse } from './support/sse.js';

type PathChanged = Extract<RealtimeEvent, { type: 'chat.path_changed' }>;

// The whole tree of a chat (getChatTree), its export as parley.chat version 2 and back, and what
// turns and path changes tell a client about versions (‹ n/m ›) without another request.
describe(`${ChatsService.name} — the whole tree`, () => {
  const t = useTestApp({ SIGNUP_TOKEN_GRANT: '100000000', DEMO_CHUNK_DELAY_MS: '1' });
  expectConformingFrames();
  let token: string;
  let base: string;
  const sockets: RealtimeClient[] = [];
  const auth = (accessToken = token) => ({ Authorization: `Bearer ${accessToken}` });
  const messagesOf = (chat: Chat) => `/api/v1/chats/${chat.id}/messages`;

  beforeAll(async () => {
    base = await listen(t().app);
    token = (await registerUser(t())).accessToken;
  });
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.drop();
  });

  async function send(chat: Chat, content: string): Promise<TurnResult> {
    return (await t().http.post(messagesOf(chat)).set(auth()).send({ content }).expect(201)).body as TurnResult;
  }
  async function regenerate(chat: Chat, messageId: string): Promise<TurnResult> {
    return (
      await t()
        .http.post(`${messagesOf(chat)}/${messageId}/regenerate`)
        .set(auth())
        .expect(201)
    ).body as TurnResult;
  }
  async function edit(chat: Chat, messageId: string, content: string): Promise<TurnResult> {
    return (
      await t()
        .http.post(`${messagesOf(chat)}/${messageId}/edit`)
        .set(auth())
        .send({ content })
        .expect(201)
    ).body as TurnResult;
  }
  async function history(chat: Chat): Promise<Message[]> {
    return (
      (
        await t()
          .http.get(`${messagesOf(chat)}?limit=100`)
          .set(auth())
          .expect(200)
      ).body as MessagePage
    ).items;
  }
  /** Every page of the tree, as a client exporting it reads them. */
  async function wholeTree(chat: Chat, limit: number): Promise<{ pages: ChatTreePage[]; items: Message[] }> {
    const pages: ChatTreePage[] = [];
    let after = 0;
    for (;;) {
      const page = (
        await t().http.get(`/api/v1/chats/${chat.id}/tree?limit=${limit}&after=${after}`).set(auth()).expect(200)
      ).body as ChatTreePage;
      pages.push(page);
      if (!page.hasMore) return { pages, items: pages.flatMap((p) => p.items) };
      after = page.nextAfter!;
    }
  }

  /**
   * A chat with every kind of branch: a reply regenerated (two versions of it), then a second
   * question edited (its old branch, with its reply, kept beside the new one).
   */
  async function branchedChat(): Promise<{ chat: Chat; ids: Record<string, string> }> {
    const chat = await createChat(t(), token);
    const one = await send(chat, 'Where is the signal coming from?');
    const oneAgain = await regenerate(chat, one.assistantMessage.id);
    const two = await send(chat, 'Can we go there?');
    const twoEdited = await edit(chat, two.userMessage.id, 'Can we hail it first?');
    return {
      chat,
      ids: {
        u1: one.userMessage.id,
        a1: one.assistantMessage.id,
        a1b: oneAgain.assistantMessage.id,
        u2: two.userMessage.id,
        a2: two.assistantMessage.id,
        u2b: twoEdited.userMessage.id,
        a2b: twoEdited.assistantMessage.id,
      },
    };
  }

  describe('getChatTree', () => {
    it('reads every message of every branch in ascending seq, page by page, parents first, with the active leaf', async () => {
      const { chat, ids } = await branchedChat();
      const { pages, items } = await wholeTree(chat, 3);
      expect(pages.map((p) => p.items.length)).toEqual([3, 3, 2]);
      expect(pages.map((p) => p.hasMore)).toEqual([true, true, false]);
      expect(pages.map((p) => p.nextAfter)).toEqual([pages[0]!.items[2]!.seq, pages[1]!.items[2]!.seq, null]);
      expect(pages.every((p) => p.activeLeafId === ids.a2b)).toBe(true);

      const [greeting] = items;
      expect(items.map((m) => m.id)).toEqual([greeting!.id, ids.u1, ids.a1, ids.a1b, ids.u2, ids.a2, ids.u2b, ids.a2b]);
      const seqs = items.map((m) => m.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const seen = new Set<string>();
      for (const message of items) {
        if (message.parentId !== null) expect(seen.has(message.parentId)).toBe(true);
        seen.add(message.id);
      }
      expect(items.map((m) => m.parentId)).toEqual([
        null,
        greeting!.id,
        ids.u1,
        ids.u1,
        ids.a1b,
        ids.u2,
        ids.a1b,
        ids.u2b,
      ]);
      expect(items.map((m) => m.finishReason)).toEqual([null, null, 'stop', 'stop', null, 'stop', null, 'stop']);
      expect(items.every((m) => m.alternatives === undefined)).toBe(true);
    });

    it("answers 404 for another user's chat, 400 for a limit above 500, and an empty last page past the end", async () => {
      const chat = await createChat(t(), token);
      const other = (await registerUser(t())).accessToken;
      const stranger = await t().http.get(`/api/v1/chats/${chat.id}/tree`).set(auth(other)).expect(404);
      expect(stranger.body.code).toBe('chat_not_found');
      const missing = await t().http.get(`/api/v1/chats/${randomUUID()}/tree`).set(auth()).expect(404);
      expect(missing.body.code).toBe('chat_not_found');
      const tooMany = await t().http.get(`/api/v1/chats/${chat.id}/tree?limit=501`).set(auth()).expect(400);
      expect(tooMany.body.code).toBe('validation_failed');
      const past = (await t().http.get(`/api/v1/chats/${chat.id}/tree?after=99`).set(auth()).expect(200))
        .body as ChatTreePage;
      expect(past).toEqual({ activeLeafId: chat.activeLeafId, items: [], hasMore: false, nextAfter: null });
    });
  });

  describe('export version 2 and import', () => {
    it('gives back the same tree: the same shape, the same active path, every message', async () => {
      const { chat } = await branchedChat();
      const { pages, items } = await wholeTree(chat, 500);
      const file: ChatImport = {
        format: 'parley.chat',
        version: 2,
        exportedAt: new Date().toISOString(),
        chat: {
          id: chat.id,
          title: 'Branches',
          characterId: chat.characterId,
          characterName: 'Captain Mira Voss',
          activeLeafId: pages.at(-1)!.activeLeafId,
        },
        messages: items.map(({ id, parentId, seq, role, content, status, createdAt, replyToId }) => ({
          id,
          parentId,
          seq,
          role,
          content,
          status,
          createdAt,
          replyToId,
        })),
      };
      const imported = (await t().http.post('/api/v1/chats/import').set(auth()).send(file).expect(201)).body as Chat;

      const copy = await wholeTree(imported, 500);
      // The same tree: by position in the file, the same parent, role and text; new ids.
      const shape = (tree: Message[]) => {
        const position = new Map(tree.map((m, i) => [m.id, i]));
        return tree.map((m) => [m.parentId === null ? null : position.get(m.parentId), m.role, m.content]);
      };
      expect(shape(copy.items)).toEqual(shape(items));
      expect(copy.items.some((m) => items.some((o) => o.id === m.id))).toBe(false);
      const leafAt = items.findIndex((m) => m.id === file.chat.activeLeafId);
      expect(copy.pages.at(-1)!.activeLeafId).toBe(copy.items[leafAt]!.id);
      // The same active path, with the same versions.
      const path = (messages: Message[]) => messages.map((m) => [m.role, m.content, m.alternatives]);
      expect(path(await history(imported))).toEqual(path(await history(chat)));
    });
  });

  describe('alternatives on turn results', () => {
    it('a send, a regenerate and an edit each say where their messages stand among their versions', async () => {
      const chat = await createChat(t(), token);
      const one = await send(chat, 'hello');
      expect([one.userMessage.alternatives, one.assistantMessage.alternatives]).toEqual([
        { index: 1, count: 1 },
        { index: 1, count: 1 },
      ]);

      const again = await regenerate(chat, one.assistantMessage.id);
      expect(again.assistantMessage.alternatives).toEqual({ index: 2, count: 2 });
      expect(again.userMessage.alternatives).toEqual({ index: 1, count: 1 });

      const streamed = await t()
        .http.post(`${messagesOf(chat)}/${again.assistantMessage.id}/regenerate/stream`)
        .set(auth())
        .set('Idempotency-Key', randomUUID())
        .expect(200);
      const events = parseSse(streamed.text);
      const [started] = ofType(events, 'turn_started');
      const [done] = ofType(events, 'done');
      expect(started!.assistantMessage.alternatives).toEqual({ index: 3, count: 3 });
      expect(done!.result.assistantMessage.alternatives).toEqual({ index: 3, count: 3 });
      expect(done!.result.userMessage.alternatives).toEqual({ index: 1, count: 1 });

      const edited = await edit(chat, one.userMessage.id, 'hello again');
      expect(edited.userMessage.alternatives).toEqual({ index: 2, count: 2 });
      expect(edited.assistantMessage.alternatives).toEqual({ index: 1, count: 1 });

      // What history says afterwards is what the turn said.
      const shown = await history(chat);
      expect(shown.at(-2)!.alternatives).toEqual(edited.userMessage.alternatives);
      expect(shown.at(-1)!.alternatives).toEqual(edited.assistantMessage.alternatives);
    });
  });

  describe('chat.path_changed', () => {
    it('carries the new preview, the activity and where the path branched, with its versions', async () => {
      const { client } = await RealtimeClient.connect(base, { token });
      sockets.push(client);
      const chat = await createChat(t(), token);
      const one = await send(chat, 'hello');
      const pathChanges = () => client.events().filter((e): e is PathChanged => e.type === 'chat.path_changed');

      const again = await regenerate(chat, one.assistantMessage.id);
      await client.waitFor(() => pathChanges().length === 1);
      expect(pathChanges()[0]).toMatchObject({
        chatId: chat.id,
        activeLeafId: again.assistantMessage.id,
        lastMessage: { id: again.assistantMessage.id, role: 'assistant', status: 'pending' },
        branch: {
          messageId: again.assistantMessage.id,
          parentId: one.userMessage.id,
          alternatives: { index: 2, count: 2 },
        },
      });
      // The chat's activity as the turn started it (its end moves it once more).
      const afterRegenerate = (await t().http.get(`/api/v1/chats/${chat.id}`).set(auth()).expect(200)).body as Chat;
      const startedAt = Date.parse(pathChanges()[0]!.updatedAt!);
      expect(startedAt).toBeGreaterThan(Date.parse(one.assistantMessage.updatedAt));
      expect(startedAt).toBeLessThanOrEqual(Date.parse(afterRegenerate.updatedAt));

      // Select the first version: the path branches at it.
      const selected = (
        await t()
          .http.post(`${messagesOf(chat)}/${one.assistantMessage.id}/select`)
          .set(auth())
          .expect(200)
      ).body as Chat;
      await client.waitFor(() => pathChanges().length === 2);
      expect(pathChanges()[1]).toEqual({
        type: 'chat.path_changed',
        seq: pathChanges()[1]!.seq,
        chatId: chat.id,
        activeLeafId: one.assistantMessage.id,
        lastMessage: selected.lastMessage,
        updatedAt: selected.updatedAt,
        branch: {
          messageId: one.assistantMessage.id,
          parentId: one.userMessage.id,
          alternatives: { index: 1, count: 2 },
        },
      });
      expect(selected.updatedAt).toBe(afterRegenerate.updatedAt);

      // Selecting the user message (on the path) moves the leaf to its newest reply: the branch is that reply.
      await t()
        .http.post(`${messagesOf(chat)}/${one.userMessage.id}/select`)
        .set(auth())
        .expect(200);
      await client.waitFor(() => pathChanges().length === 3);
      expect(pathChanges()[2]!.branch).toEqual({
        messageId: again.assistantMessage.id,
        parentId: one.userMessage.id,
        alternatives: { index: 2, count: 2 },
      });

      // Deleting the active version moves the path to the other one, now the only one.
      const afterDelete = (
        await t()
          .http.delete(`${messagesOf(chat)}/${again.assistantMessage.id}`)
          .set(auth())
          .expect(200)
      ).body as Chat;
      await client.waitFor(() => pathChanges().length === 4);
      expect(pathChanges()[3]).toMatchObject({
        activeLeafId: one.assistantMessage.id,
        lastMessage: afterDelete.lastMessage,
        branch: { messageId: one.assistantMessage.id, alternatives: { index: 1, count: 1 } },
      });

      // Deleting the last version leaves the path ending at the question: nothing new on it.
      await t()
        .http.delete(`${messagesOf(chat)}/${one.assistantMessage.id}`)
        .set(auth())
        .expect(200);
      await client.waitFor(() => pathChanges().length === 5);
      expect(pathChanges()[4]).toMatchObject({
        activeLeafId: one.userMessage.id,
        lastMessage: { id: one.userMessage.id, role: 'user', content: 'hello' },
      });
      expect(pathChanges()[4]!.branch).toBeUndefined();
    });
  });
});
