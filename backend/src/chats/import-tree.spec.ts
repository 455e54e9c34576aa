import { importedTree } from './import-tree.js';

const m = (id?: string, parentId?: string | null) => ({ role: 'user' as const, content: 'x', id, parentId });
const chat = { characterId: 'captain-mira' };

describe('importedTree', () => {
  it('reads a version 1 file as one path, the last message its leaf', () => {
    expect(importedTree({ chat, messages: [m(), m(), m()] })).toEqual({ parents: [null, 0, 1], leaf: 2 });
  });

  it('rebuilds branches from parent ids, with the named active leaf', () => {
    const messages = [m('g', null), m('u1', 'g'), m('a1', 'u1'), m('a2', 'u1'), m('u2', 'a1')];
    expect(importedTree({ chat: { ...chat, activeLeafId: 'a2' }, messages })).toEqual({
      parents: [null, 0, 1, 1, 2],
      leaf: 3,
    });
  });

  it.each([
    ['a parent that comes later', [m('a', null), m('b', 'c'), m('c', 'a')], '/messages/1/parentId'],
    ['an unknown parent', [m('a', null), m('b', 'zzz')], '/messages/1/parentId'],
    ['a second root', [m('a', null), m('b', null)], '/messages/1/parentId'],
    ['a duplicate id', [m('a', null), m('a', 'a')], '/messages/1/id'],
  ])('refuses %s with 400 and the field', (_, messages, pointer) => {
    expect(() => importedTree({ chat, messages })).toThrow(
      expect.objectContaining({
        code: 'validation_failed',
        details: { errors: [expect.objectContaining({ pointer })] },
      }),
    );
  });

  it('refuses an active leaf that is not in the file', () => {
    expect(() => importedTree({ chat: { ...chat, activeLeafId: 'nope' }, messages: [m('a', null)] })).toThrow(
      expect.objectContaining({ code: 'validation_failed' }),
    );
  });
});
