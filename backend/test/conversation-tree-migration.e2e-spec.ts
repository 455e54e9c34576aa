import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { migrations } from '../src/database/migrations/index.js';
import { ConversationTree1796500000000 } from '../src/database/migrations/1796500000000-ConversationTree.js';
import { createTestDatabase, dropTestDatabase } from './support/test-app.js';

// A database as the release before the tree left it: chats written in the old shape (linear,
// replies pointing at their user message by reply_to_id), then the tree migration.
function source(url: string, upTo: number): DataSource {
  return new DataSource({ type: 'postgres', url, migrations: migrations.slice(0, upTo), logging: false });
}

interface Row {
  id: string;
  seq: number;
  parent_id: string | null;
}

describe(ConversationTree1796500000000.name, () => {
  let url: string;
  let db: DataSource;
  const treeAt = migrations.indexOf(ConversationTree1796500000000);

  beforeAll(async () => {
    url = await createTestDatabase();
    db = source(url, treeAt);
    await db.initialize();
    await db.runMigrations();
  });

  afterAll(async () => {
    await db.destroy();
    await dropTestDatabase(url);
  });

  // Messages in seq order; `to` is the index (in this list) of the user message a reply answers.
  async function oldChat(
    messages: Array<{ role: 'user' | 'assistant'; status?: string; to?: number; greeting?: boolean }>,
  ): Promise<{ chatId: string; ids: string[] }> {
    const [{ id: userId }] = await db.query(
      `INSERT INTO users (email, password_hash, token_balance) VALUES ($1, 'x', 100) RETURNING id`,
      [`${randomUUID()}@example.com`],
    );
    const [{ id: chatId }] = await db.query(
      `INSERT INTO chats (user_id, character_id, last_seq) VALUES ($1, 'captain-mira', $2) RETURNING id`,
      [userId, messages.length],
    );
    const ids = messages.map(() => randomUUID());
    for (const [i, m] of messages.entries()) {
      await db.query(
        `INSERT INTO messages (id, chat_id, seq, role, content, status, reply_to_id, metadata)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          ids[i],
          chatId,
          i + 1,
          m.role,
          m.status === 'failed' ? '' : `message ${i + 1}`,
          m.status ?? 'complete',
          m.to === undefined ? null : ids[m.to],
          JSON.stringify(m.greeting ? { greeting: true } : {}),
        ],
      );
    }
    return { chatId, ids };
  }

  it('turns every old chat into one path without losing a row', async () => {
    await db.query(
      `INSERT INTO characters (id, version, translations) VALUES ('captain-mira', 1, '{}') ON CONFLICT DO NOTHING`,
    );
    // greeting, u1, a1 (failed), a1' (regenerated, complete), u2, a2 (complete), a2' (failed retry)
    const regenerated = await oldChat([
      { role: 'assistant', greeting: true },
      { role: 'user' },
      { role: 'assistant', status: 'failed', to: 1 },
      { role: 'assistant', to: 1 },
      { role: 'user' },
      { role: 'assistant', to: 4 },
      { role: 'assistant', status: 'failed', to: 4 },
    ]);
    // A user message whose earlier turn only failed: it follows the failed reply.
    const failedOnly = await oldChat([
      { role: 'assistant', greeting: true },
      { role: 'user' },
      { role: 'assistant', status: 'failed', to: 1 },
      { role: 'user' },
    ]);
    const greetingOnly = await oldChat([{ role: 'assistant', greeting: true }]);
    const before = await db.query('SELECT count(*)::int AS n FROM messages');

    await db.destroy();
    db = source(url, treeAt + 1);
    await db.initialize();
    expect((await db.runMigrations()).map((m) => m.name)).toEqual([ConversationTree1796500000000.name]);

    expect(await db.query('SELECT count(*)::int AS n FROM messages')).toEqual(before);
    const tree = async (chatId: string): Promise<Array<string | null>> =>
      (
        (await db.query('SELECT id, seq, parent_id FROM messages WHERE chat_id = $1 ORDER BY seq', [chatId])) as Row[]
      ).map((r) => r.parent_id);
    const leaf = async (chatId: string): Promise<string | null> =>
      (await db.query('SELECT active_leaf_id FROM chats WHERE id = $1', [chatId]))[0].active_leaf_id;

    const [g, u1, a1, a1b, u2, a2, a2b] = regenerated.ids;
    // Replies hang off their user message; u2 follows the complete reply a1', not the failed a1.
    expect(await tree(regenerated.chatId)).toEqual([null, g, u1, u1, a1b, u2, u2]);
    // The newest reply to the newest user message, even a failed one (it is what the user saw last).
    expect(await leaf(regenerated.chatId)).toBe(a2b);
    expect(a1).toBeDefined();
    expect(a2).toBeDefined();

    const [fg, fu1, fa1, fu2] = failedOnly.ids;
    expect(await tree(failedOnly.chatId)).toEqual([null, fg, fu1, fa1]);
    expect(await leaf(failedOnly.chatId)).toBe(fu2);

    expect(await tree(greetingOnly.chatId)).toEqual([null]);
    expect(await leaf(greetingOnly.chatId)).toBe(greetingOnly.ids[0]);

    // Every parent is in the same chat with a smaller seq.
    expect(
      await db.query(
        `SELECT count(*)::int AS n FROM messages m JOIN messages p ON p.id = m.parent_id
         WHERE p.chat_id <> m.chat_id OR p.seq >= m.seq`,
      ),
    ).toEqual([{ n: 0 }]);
  });
});
