import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { rowsOf } from '../database/sql.js';
import { insertChat, insertUser } from '../../test/support/db-rows.js';
import { insertTree, trees } from '../../test/support/message-trees.js';
import { useTestDatabase } from '../../test/support/test-database.js';

// The history page's statement (migration MessagePageChain): read by the (chat_id, seq) index
// where the active path is a chain there, walked up the tree otherwise. Both must give the page
// the walk gives, on any tree, from any start, at any page size.
const db = useTestDatabase();
const MAX_SEQ = 2_147_483_647;

interface PageRow {
  current: boolean;
  owned: boolean;
  id: string | null;
  seq: number | null;
  alt_index: number | null;
  alt_count: number | null;
  [column: string]: unknown;
}

async function page(dataSource: DataSource, fn: string, user: string, chat: string, before: number, limit: number) {
  return rowsOf<PageRow>(dataSource, `SELECT * FROM ${fn}($1, 0, $2, $3, $4)`, [user, chat, before, limit]);
}

describe('message_page', () => {
  let dataSource: DataSource;
  let user: string;
  beforeAll(async () => {
    dataSource = db().dataSource;
    user = await insertUser(dataSource);
  });

  it('gives the page the walk gives, on any tree, from any start, at any page size', async () => {
    await fc.assert(
      fc.asyncProperty(
        trees,
        fc.integer({ min: 1, max: 8 }),
        fc.nat(),
        fc.constantFrom('newest', 'a message', 'no message'),
        async (tree, limit, pick, anchor) => {
          const chat = await insertChat(dataSource, user);
          await insertTree(dataSource, chat, tree);
          const at = tree.seqs[pick % tree.seqs.length]!;
          const before = anchor === 'newest' ? MAX_SEQ : anchor === 'a message' ? at : at + 1;
          const read = await page(dataSource, 'message_page', user, chat, before, limit);
          const walked = await page(dataSource, 'message_page_walk', user, chat, before, limit);
          expect(read).toEqual(walked);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('reads a linear chat newest first, one more than the page for whether there is more', async () => {
    const chat = await insertChat(dataSource, user);
    const seqs = Array.from({ length: 12 }, (_, i) => i + 1);
    const ids = await insertTree(dataSource, chat, {
      parents: seqs.map((_, i) => (i === 0 ? null : i - 1)),
      seqs,
      leaf: 11,
    });
    const newest = await page(dataSource, 'message_page', user, chat, MAX_SEQ, 5);
    expect(newest.map((row) => row.seq)).toEqual([12, 11, 10, 9, 8, 7]);
    expect(newest.map((row) => row.id)).toEqual(ids.slice(6).reverse());
    const older = await page(dataSource, 'message_page', user, chat, 7, 5);
    expect(older.map((row) => row.seq)).toEqual([6, 5, 4, 3, 2, 1]);
    const oldest = await page(dataSource, 'message_page', user, chat, 3, 5);
    expect(oldest.map((row) => row.seq)).toEqual([2, 1]);
  });

  it('counts a reply’s alternatives when the chosen one is older than the others', async () => {
    // greeting ← user ← reply (seq 3), then two more replies to the same message (swipes).
    const chat = await insertChat(dataSource, user);
    await insertTree(dataSource, chat, { parents: [null, 0, 1, 1, 1], seqs: [1, 2, 3, 4, 5], leaf: 2 });
    const rows = await page(dataSource, 'message_page', user, chat, MAX_SEQ, 10);
    expect(rows.map((row) => [row.seq, row.alt_index, row.alt_count])).toEqual([
      [3, 1, 3],
      [2, 1, 1],
      [1, 0, 0],
    ]);
    const second = await insertChat(dataSource, user);
    await insertTree(dataSource, second, { parents: [null, 0, 1, 1, 1], seqs: [1, 2, 3, 4, 5], leaf: 3 });
    const chosen = await page(dataSource, 'message_page', user, second, MAX_SEQ, 10);
    expect(chosen.map((row) => [row.seq, row.alt_index, row.alt_count])).toEqual([
      [4, 2, 3],
      [2, 1, 1],
      [1, 0, 0],
    ]);
  });

  it('counts the alternatives of the page’s oldest message among older ones too', async () => {
    // greeting ← user (seq 2) and an edit of it (seq 3) ← reply (seq 4); a page of one reads
    // the reply and, for whether there is more, the edit: its sibling is older than it.
    const chat = await insertChat(dataSource, user);
    await insertTree(dataSource, chat, { parents: [null, 0, 0, 2], seqs: [1, 2, 3, 4], leaf: 3 });
    const rows = await page(dataSource, 'message_page', user, chat, MAX_SEQ, 1);
    expect(rows.map((row) => [row.seq, row.alt_index, row.alt_count])).toEqual([
      [4, 1, 1],
      [3, 2, 2],
    ]);
  });

  it('counts the alternatives of a page far below the newest message', async () => {
    // A chain of 200, and at its end an edit of message 20 (seq 201): the page before seq 31
    // holds message 20, which has an alternative 180 messages newer than the page.
    const chat = await insertChat(dataSource, user);
    const seqs = Array.from({ length: 201 }, (_, i) => i + 1);
    const parents = seqs.map((_, i) => (i === 0 ? null : i === 200 ? 18 : i - 1));
    await insertTree(dataSource, chat, { parents, seqs, leaf: 199 });
    const rows = await page(dataSource, 'message_page', user, chat, 31, 20);
    expect(rows.map((row) => row.seq)).toEqual(Array.from({ length: 21 }, (_, i) => 30 - i));
    expect(rows.find((row) => row.seq === 20)).toMatchObject({ alt_index: 1, alt_count: 2 });
    expect(rows.filter((row) => row.alt_count !== 1).map((row) => row.seq)).toEqual([20]);
  });

  it('answers a stale token and another user’s chat with the flags only', async () => {
    const chat = await insertChat(dataSource, user);
    await insertTree(dataSource, chat, { parents: [null, 0], seqs: [1, 2], leaf: 1 });
    const stale = await rowsOf<PageRow>(dataSource, 'SELECT * FROM message_page($1, 7, $2, $3, 5)', [
      user,
      chat,
      MAX_SEQ,
    ]);
    expect(stale).toHaveLength(1);
    expect(stale[0]).toMatchObject({ current: false, owned: true, id: null });
    const other = await insertUser(dataSource);
    const foreign = await page(dataSource, 'message_page', other, chat, MAX_SEQ, 5);
    expect(foreign).toHaveLength(1);
    expect(foreign[0]).toMatchObject({ current: true, owned: false, id: null });
    expect(await page(dataSource, 'message_page', randomUUID(), chat, MAX_SEQ, 5)).toEqual([]);
  });
});
