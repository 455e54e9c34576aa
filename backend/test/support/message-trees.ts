import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import type { DataSource } from 'typeorm';
import { rowsOf } from '../../src/database/sql.js';

// Conversation trees inserted straight into a chat's messages, and an arbitrary of them, for the
// statements that read a path up the tree (the history page, the prompt's path).

/** A tree in creation order: each message's parent (an earlier message; none for the root), its seq. */
export interface Tree {
  parents: Array<number | null>;
  seqs: number[];
  leaf: number;
}

/** The chat's messages, inserted as the tree says (roles alternating down each branch); their ids. */
export async function insertTree(dataSource: DataSource, chatId: string, tree: Tree): Promise<string[]> {
  const ids = tree.parents.map(() => randomUUID());
  const depth: number[] = [];
  tree.parents.forEach((parent, i) => (depth[i] = parent === null ? 0 : depth[parent]! + 1));
  await rowsOf(
    dataSource,
    `INSERT INTO messages (id, chat_id, seq, role, content, status, parent_id)
     SELECT r.id, $1, r.seq, r.role, 'message ' || r.seq, 'complete', r.parent
       FROM unnest($2::uuid[], $3::int[], $4::text[], $5::uuid[]) AS r(id, seq, role, parent)`,
    [
      chatId,
      ids,
      tree.seqs,
      depth.map((d) => (d % 2 === 0 ? 'assistant' : 'user')),
      tree.parents.map((parent) => (parent === null ? null : ids[parent])),
    ],
  );
  await rowsOf(dataSource, 'UPDATE chats SET last_seq = $2, active_leaf_id = $3 WHERE id = $1', [
    chatId,
    tree.seqs.at(-1),
    ids[tree.leaf],
  ]);
  return ids;
}

/**
 * Trees that are mostly chains, as chats are: each message continues the one before it, or, now
 * and then, branches off an earlier one (a swipe, an edit); some start with a long chain, so that
 * a page can lie far below the newest message. Seqs rise with gaps (deleted messages).
 */
export const trees = fc
  .record({ chain: fc.constantFrom(0, 0, 150), branched: fc.integer({ min: 1, max: 30 }) })
  .chain(({ chain, branched }) => {
    const n = chain + branched;
    return fc.record({
      parents: fc.tuple(
        ...Array.from({ length: n }, (_, i) =>
          i === 0
            ? fc.constant(null)
            : i < chain
              ? fc.constant(i - 1)
              : fc.oneof({ weight: 4, arbitrary: fc.constant(i - 1) }, { weight: 1, arbitrary: fc.nat(i - 1) }),
        ),
      ),
      gaps: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: n, maxLength: n }),
      leaf: fc.oneof({ weight: 3, arbitrary: fc.constant(n - 1) }, { weight: 2, arbitrary: fc.nat(n - 1) }),
    });
  })
  .map(({ parents, gaps, leaf }): Tree => {
    let seq = 0;
    return { parents: parents as Array<number | null>, seqs: gaps.map((gap) => (seq += gap)), leaf };
  });
