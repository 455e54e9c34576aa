import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { insertChat, insertUser } from '../../test/support/db-rows.js';
import { insertTree, trees, type Tree } from '../../test/support/message-trees.js';
import { useTestDatabase } from '../../test/support/test-database.js';

// The prompt's path (migration MessagePath): read by the (chat_id, seq) index a window at a time,
// walked by primary key once the windows' budget is spent. Whatever the tree, the start and the
// length asked for, it must be the walk's answer.
const db = useTestDatabase();

interface PathRow {
  id: string;
  seq: number;
  role: string;
  content: string;
  status: string;
  metadata: Record<string, unknown> | null;
}

// The walk up the tree a message at a time (what the path was read by before).
const WALK = `WITH RECURSIVE path AS (
    SELECT id, parent_id, 1 AS depth FROM messages WHERE id = $2 AND chat_id = $1
    UNION ALL
    SELECT m.id, m.parent_id, path.depth + 1 FROM messages m JOIN path ON m.id = path.parent_id
    WHERE path.depth < $3
  )
  SELECT m.id, m.seq, m.role, m.content, m.status, CASE WHEN m.parent_id IS NULL THEN m.metadata END AS metadata
  FROM path JOIN messages m ON m.id = path.id ORDER BY path.depth`;

describe('message_path', () => {
  let dataSource: DataSource;
  let user: string;
  beforeAll(async () => {
    dataSource = db().dataSource;
    user = await insertUser(dataSource);
  });

  const path = (chat: string, from: string, limit: number) =>
    rowsOf<PathRow>(dataSource, 'SELECT * FROM message_path($1, $2, $3)', [chat, from, limit]);
  const walk = (chat: string, from: string, limit: number) => rowsOf<PathRow>(dataSource, WALK, [chat, from, limit]);

  async function chatOf(tree: Tree) {
    const chat = await insertChat(dataSource, user);
    return { chat, ids: await insertTree(dataSource, chat, tree) };
  }

  it('gives the walk’s path on any tree, from any message, at any length', async () => {
    await fc.assert(
      fc.asyncProperty(trees, fc.nat(), fc.integer({ min: 1, max: 12 }), async (tree, pick, limit) => {
        const { chat, ids } = await chatOf(tree);
        const from = ids[pick % ids.length]!;
        const read = await path(chat, from, limit);
        expect(read).toEqual(await walk(chat, from, limit));
        expect(read.length).toBeGreaterThan(0);
      }),
      { numRuns: 150 },
    );
  });

  it('starts a new window at a parent that lies below the one read', async () => {
    // A chain of 30, and a reply to message 3 made last (seq 31): the window from it holds
    // seqs 31 down to 12, so its parent is read in a second window.
    const seqs = Array.from({ length: 31 }, (_, i) => i + 1);
    const { chat, ids } = await chatOf({
      parents: seqs.map((_, i) => (i === 0 ? null : i === 30 ? 2 : i - 1)),
      seqs,
      leaf: 30,
    });
    const read = await path(chat, ids[30]!, 10);
    expect(read.map((row) => row.seq)).toEqual([31, 3, 2, 1]);
    expect(read).toEqual(await walk(chat, ids[30]!, 10));
  });

  // Six path messages, each followed by ten replies to it that were left (swipes): a path of five
  // reads far more than four times five rows in windows before it reaches its end.
  function crowded(): Tree {
    const parents: Array<number | null> = [null];
    let previous = 0;
    for (let k = 1; k <= 6; k++) {
      const message = parents.length;
      parents.push(previous);
      for (let s = 0; s < 10; s++) parents.push(message);
      previous = message;
    }
    const leaf = parents.length;
    parents.push(previous);
    return { parents, seqs: parents.map((_, i) => i + 1), leaf };
  }

  it('walks the rest by primary key once other branches crowd the path past the windows’ budget', async () => {
    const { chat, ids } = await chatOf(crowded());
    const leaf = ids.length - 1;
    const read = await path(chat, ids[leaf]!, 5);
    expect(read.map((row) => row.seq)).toEqual([leaf + 1, 57, 46, 35, 24]);
    expect(read).toEqual(await walk(chat, ids[leaf]!, 5));
    const whole = await path(chat, ids[leaf]!, 100);
    expect(whole.map((row) => row.seq)).toEqual([leaf + 1, 57, 46, 35, 24, 13, 2, 1]);
  });

  it('reads the messages’ columns, and nothing for a message of another chat or a length of 0', async () => {
    const { chat, ids } = await chatOf({ parents: [null, 0, 1], seqs: [1, 2, 3], leaf: 2 });
    const [newest] = await path(chat, ids[2]!, 1);
    expect(newest).toEqual({
      id: ids[2],
      seq: 3,
      role: 'assistant',
      content: 'message 3',
      status: 'complete',
      metadata: null,
    });
    const other = await insertChat(dataSource, user);
    expect(await path(other, ids[2]!, 10)).toEqual([]);
    expect(await path(chat, randomUUID(), 10)).toEqual([]);
    expect(await path(chat, ids[2]!, 0)).toEqual([]);
  });

  it('gives the metadata of the path’s root only (the greeting’s flag), not the replies’ manifests', async () => {
    const withMetadata = async (tree: Tree) => {
      const { chat, ids } = await chatOf(tree);
      await rowsOf(dataSource, `UPDATE messages SET metadata = '{"manifest": {"attempts": []}}' WHERE chat_id = $1`, [
        chat,
      ]);
      await rowsOf(dataSource, `UPDATE messages SET metadata = '{"greeting": true}' WHERE id = $1`, [ids[0]]);
      return { chat, ids };
    };
    // Read by the windows.
    const chain = await withMetadata({ parents: [null, 0, 1], seqs: [1, 2, 3], leaf: 2 });
    expect((await path(chain.chat, chain.ids[2]!, 10)).map((row) => row.metadata)).toEqual([
      null,
      null,
      { greeting: true },
    ]);
    // The root reached by the walk past the windows' budget.
    const tree = await withMetadata(crowded());
    // A path of eight in 32 rows of windows: its last three (the root among them) are walked.
    const whole = await path(tree.chat, tree.ids.at(-1)!, 8);
    expect(whole).toEqual(await walk(tree.chat, tree.ids.at(-1)!, 8));
    expect(whole.map((row) => row.metadata)).toEqual([null, null, null, null, null, null, null, { greeting: true }]);
  });
});
