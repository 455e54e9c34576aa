import type { Chat } from '@parley/api-types';
import { RepliesService } from '../src/generation/replies.service.js';
import { TurnStore } from '../src/generation/turn.store.js';
import { DEMO_SERVER } from '../src/providers/providers.module.js';
import type { DemoGeminiServer } from '../src/providers/demo/demo-gemini.server.js';
import { useTestApp } from './support/test-app.js';
import { createChat, registerUser } from './support/factories.js';
import { LiveStream, listen } from './support/live.js';
import { ofType, parseSse } from './support/sse.js';

// Rounds of each race: the windows are milliseconds wide, so several rounds with the requests
// fired together (and at small offsets) are what makes a bad interleaving show.
const ROUNDS = 12;

/**
 * Cancel, follow and regenerate racing the deletion of their chat (issue 17, item 3): whichever
 * wins, the loser hears 404 (or its own success), never a 500.
 */
describe(`${RepliesService.name} racing a chat delete`, () => {
  const t = useTestApp({ CHECKPOINT_INTERVAL_MS: '20', SIGNUP_TOKEN_GRANT: '100000000' });
  let base: string;
  let token: string;
  const auth = () => ({ Authorization: `Bearer ${token}` });
  const demo = () => t().app.get<typeof DEMO_SERVER, DemoGeminiServer>(DEMO_SERVER);

  beforeAll(async () => {
    base = await listen(t().app);
    token = (await registerUser(t())).accessToken;
    demo().pace = { firstByteDelayMs: 0, chunkDelayMs: 30 };
  });

  async function runningReply(): Promise<{ chat: Chat; stream: LiveStream; replyId: string }> {
    const chat = await createChat(t(), token);
    const stream = new LiveStream(`${base}/api/v1/chats/${chat.id}/messages/stream`, {
      method: 'POST',
      headers: auth(),
      body: { content: 'Tell me a story' },
    });
    await stream.waitFor((events) => events.some((e) => e.data.type === 'delta'));
    const replyId = ofType(stream.events, 'turn_started')[0]!.assistantMessage.id;
    return { chat, stream, replyId };
  }

  const deleteChat = (chat: Chat) => t().http.delete(`/api/v1/chats/${chat.id}`).set(auth());
  const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('cancel racing delete answers 200 or 404, never 500', async () => {
    const statuses = new Set<number>();
    for (let round = 0; round < ROUNDS; round++) {
      const { chat, stream, replyId } = await runningReply();
      const [cancel, removed] = await Promise.all([
        delay(round % 3).then(() => t().http.post(`/api/v1/chats/${chat.id}/messages/${replyId}/cancel`).set(auth())),
        delay((round + 1) % 3).then(() => deleteChat(chat)),
      ]);
      expect(removed.status).toBe(204);
      expect([200, 404]).toContain(cancel.status);
      if (cancel.status === 404) expect(['chat_not_found', 'message_not_found']).toContain(cancel.body.code);
      statuses.add(cancel.status);
      await stream.finished;
      // The stream of a reply whose chat went away still ends with exactly one terminal event.
      expect(stream.events.filter((e) => e.event === 'done' || e.event === 'error')).toHaveLength(1);
    }
    process.stdout.write(`delete-race: cancel answered ${[...statuses].join(', ')}\n`);
  });

  it('follow racing delete answers 404 or a stream that ends with one terminal event', async () => {
    const statuses = new Set<number>();
    for (let round = 0; round < ROUNDS; round++) {
      const { chat, stream, replyId } = await runningReply();
      const following = fetch(`${base}/api/v1/chats/${chat.id}/messages/${replyId}/stream`, {
        headers: { ...auth(), Accept: 'text/event-stream' },
      }).then(async (r) => ({ status: r.status, body: await r.text() }));
      await delay(round % 4);
      await deleteChat(chat).expect(204);
      const [follower] = await Promise.all([following, stream.finished]);
      expect(stream.events.filter((e) => e.event === 'done' || e.event === 'error')).toHaveLength(1);
      expect([200, 404]).toContain(follower.status);
      if (follower.status === 200) {
        const events = parseSse(follower.body);
        const terminal = events.filter((e) => e.event === 'done' || e.event === 'error');
        expect(terminal).toHaveLength(1);
        expect(events.at(-1)).toBe(terminal[0]);
        const problem = ofType(events, 'error')[0]?.problem;
        if (problem) expect(problem.status).not.toBe(500);
      }
      statuses.add(follower.status);
      // A follow started after the delete is a plain 404.
      const late = await t().http.get(`/api/v1/chats/${chat.id}/messages/${replyId}/stream`).set(auth());
      expect(late.status).toBe(404);
    }
    process.stdout.write(`delete-race: follow answered ${[...statuses].join(', ')}\n`);
  });

  it('regenerate racing delete answers 201 or 404, never 500', async () => {
    const statuses = new Set<number>();
    for (let round = 0; round < ROUNDS; round++) {
      const { chat, stream, replyId } = await runningReply();
      await stream.finished;
      const [regenerated, removed] = await Promise.all([
        delay(round % 3).then(() =>
          t().http.post(`/api/v1/chats/${chat.id}/messages/${replyId}/regenerate`).set(auth()),
        ),
        delay((round + 1) % 3).then(() => deleteChat(chat)),
      ]);
      expect(removed.status).toBe(204);
      expect([201, 404]).toContain(regenerated.status);
      if (regenerated.status >= 400) {
        expect(['chat_not_found', 'message_not_found']).toContain(regenerated.body.code);
      }
      statuses.add(regenerated.status);
    }
    process.stdout.write(`delete-race: regenerate answered ${[...statuses].join(', ')}\n`);
  });

  it('takes no tokens for a send whose chat was deleted after it was loaded (the reservation goes with the messages)', async () => {
    const { accessToken, user } = await registerUser(t());
    const chat = await createChat(t(), accessToken);
    const balance = async () =>
      Number((await t().dataSource.query('SELECT token_balance FROM users WHERE id = $1', [user.id]))[0].token_balance);
    const before = await balance();
    // The chat is loaded (prepare), then deleted, then the send's one statement runs.
    await t()
      .http.delete(`/api/v1/chats/${chat.id}`)
      .set({ Authorization: `Bearer ${accessToken}` })
      .expect(204);
    await expect(
      t().app.get(TurnStore).persistSend(user.id, { id: chat.id, title: null }, 'lost in a race', 500, null),
    ).rejects.toMatchObject({ code: 'chat_not_found' });
    expect(await balance()).toBe(before);
    const ledger = await t().dataSource.query(
      "SELECT count(*)::int AS n FROM token_ledger WHERE user_id = $1 AND kind = 'reservation'",
      [user.id],
    );
    expect(ledger[0].n).toBe(0);
  });

  it('answered nothing with a 500', () => {
    expect(t().recorder.responses.filter((r) => r.status === 500)).toEqual([]);
  });
});
