import fc from 'fast-check';
import { AppError } from '../errors/app-error.js';
import { importedTree, type ImportedTree } from './import-tree.js';

// Properties of reading a `parley.chat` file's tree, beside the examples in import-tree.spec.ts.
type FileMessage = { role: 'user'; content: string; id?: string; parentId?: string | null };
const chat = { characterId: 'captain-mira' };

/** A tree as the export writes it: unique ids, each parent earlier in the file, an active leaf. */
const tree = fc
  .integer({ min: 1, max: 40 })
  .chain((n) =>
    fc.record({
      ids: fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: n, maxLength: n }),
      parents: fc.tuple(...Array.from({ length: n }, (_, i) => (i === 0 ? fc.constant(null) : fc.nat(i - 1)))),
      leaf: fc.option(fc.nat(n - 1), { nil: undefined }),
    }),
  )
  .map(({ ids, parents, leaf }) => ({
    messages: ids.map((id, i): FileMessage => ({
      role: 'user',
      content: 'x',
      id,
      parentId: parents[i] === null ? null : ids[parents[i]],
    })),
    parents: parents as Array<number | null>,
    leaf,
  }));

/** The shape every accepted file has: one root first, each parent before its child, a leaf in the file. */
function expectWellFormed(result: ImportedTree, length: number): void {
  expect(result.parents).toHaveLength(length);
  expect(result.parents[0]).toBeNull();
  result.parents.slice(1).forEach((parent, i) => {
    expect(parent).not.toBeNull();
    expect(parent).toBeGreaterThanOrEqual(0);
    expect(parent).toBeLessThanOrEqual(i);
  });
  expect(result.leaf).toBeGreaterThanOrEqual(0);
  expect(result.leaf).toBeLessThan(length);
}

function refusal(run: () => unknown): { pointer: string } {
  try {
    run();
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('validation_failed');
    const errors = error.details.errors ?? [];
    expect(errors).toHaveLength(1);
    return errors[0];
  }
  throw new Error('accepted');
}

describe('importedTree (properties)', () => {
  it('rebuilds exactly the tree an export wrote, with its active leaf (the last message when none is named)', () => {
    fc.assert(
      fc.property(tree, ({ messages, parents, leaf }) => {
        const activeLeafId = leaf === undefined ? undefined : messages[leaf].id;
        const result = importedTree({ chat: { ...chat, activeLeafId }, messages });
        expect(result).toEqual({ parents, leaf: leaf ?? messages.length - 1 });
      }),
      { numRuns: 300 },
    );
  });

  it('reads a file without parents (version 1) as one path in file order, ids or not', () => {
    fc.assert(
      fc.property(
        fc.array(fc.option(fc.string({ maxLength: 4 }), { nil: undefined }), { minLength: 1, maxLength: 30 }),
        (ids) => {
          const messages = ids.map((id): FileMessage => ({ role: 'user', content: 'x', id }));
          const result = importedTree({ chat, messages });
          expect(result).toEqual({ parents: ids.map((_, i) => (i === 0 ? null : i - 1)), leaf: ids.length - 1 });
        },
      ),
    );
  });

  it('refuses one broken link of an exported tree with 400 and the field that is wrong', () => {
    const broken = tree
      .filter(({ messages }) => messages.length >= 2)
      .chain((t) =>
        fc.record({
          t: fc.constant(t),
          at: fc.integer({ min: 1, max: t.messages.length - 1 }),
          how: fc.constantFrom('later parent', 'own parent', 'unknown parent', 'second root', 'duplicate id', 'no id'),
        }),
      );
    fc.assert(
      fc.property(broken, ({ t, at, how }) => {
        const messages = t.messages.map((m) => ({ ...m }));
        const unknown = `${messages.map((m) => m.id).join('')}?`;
        let pointer = `/messages/${at}/parentId`;
        if (how === 'later parent') messages[at].parentId = at + 1 < messages.length ? messages[at + 1].id : unknown;
        if (how === 'own parent') messages[at].parentId = messages[at].id;
        if (how === 'unknown parent') messages[at].parentId = unknown;
        if (how === 'second root') messages[at].parentId = null;
        if (how === 'duplicate id') {
          messages[at].id = messages[at - 1].id;
          pointer = `/messages/${at}/id`;
        }
        if (how === 'no id') {
          delete messages[at].id;
          pointer = `/messages/${at}/id`;
        }
        // Cut the file after the broken message, so no later message names its lost id.
        const cut = messages.slice(0, at + 1);
        expect(refusal(() => importedTree({ chat, messages: cut })).pointer).toBe(pointer);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses an active leaf that names no message of the file', () => {
    fc.assert(
      fc.property(tree, fc.string({ maxLength: 12 }), ({ messages }, leafId) => {
        fc.pre(!messages.some((m) => m.id === leafId));
        expect(refusal(() => importedTree({ chat: { ...chat, activeLeafId: leafId }, messages })).pointer).toBe(
          '/chat/activeLeafId',
        );
      }),
    );
  });

  it('answers any list of ids and parent ids with a well-formed tree or a validation_failed, never a throw', () => {
    // A small alphabet, so parents often name an id of the file (earlier, later or its own).
    const id = fc.constantFrom('a', 'b', 'c', 'd', 'e');
    const message = fc.record(
      { id: fc.option(id, { nil: undefined }), parentId: fc.option(fc.option(id, { nil: null }), { nil: undefined }) },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(
        fc.array(message, { minLength: 1, maxLength: 8 }),
        fc.option(id, { nil: undefined }),
        (raw, leafId) => {
          const messages = raw.map((m): FileMessage => ({ role: 'user', content: 'x', ...m }));
          let result: ImportedTree;
          try {
            result = importedTree({ chat: { ...chat, activeLeafId: leafId }, messages });
          } catch (error) {
            expect(error).toBeInstanceOf(AppError);
            expect((error as AppError).code).toBe('validation_failed');
            return;
          }
          expectWellFormed(result, messages.length);
          if (messages.some((m) => m.parentId !== undefined)) {
            // A tree: each message's parent is the message its parentId names, the leaf the one named.
            result.parents.forEach((parent, i) => {
              if (parent !== null) expect(messages[parent].id).toBe(messages[i].parentId);
            });
            if (leafId !== undefined) expect(messages[result.leaf].id).toBe(leafId);
            expect(new Set(messages.map((m) => m.id)).size).toBe(messages.length);
          }
        },
      ),
      { numRuns: 1000 },
    );
  });
});
