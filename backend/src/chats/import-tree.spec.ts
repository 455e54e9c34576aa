import { importedMessage, importedTree } from './import-tree.js';

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

describe('importedMessage', () => {
  const reply = (status?: string, finishReason?: string | null) => ({
    role: 'assistant' as const,
    content: 'Once,',
    status,
    finishReason,
  });

  it('stores a message complete, marked imported', () => {
    expect(importedMessage({ role: 'user', content: 'Hi', status: 'complete' })).toEqual({
      role: 'user',
      content: 'Hi',
      status: 'complete',
      metadata: { imported: true },
    });
    expect(importedMessage(reply())).toEqual({
      role: 'assistant',
      content: 'Once,',
      status: 'complete',
      metadata: { imported: true },
    });
  });

  it('keeps a stopped reply stopped, and no finish reason with it', () => {
    expect(importedMessage(reply('cancelled', 'max_tokens'))).toMatchObject({
      status: 'cancelled',
      metadata: { imported: true },
    });
    expect(importedMessage(reply('cancelled', 'max_tokens')).metadata).not.toHaveProperty('finishReason');
  });

  it('keeps why a complete reply was cut off, and nothing else', () => {
    expect(importedMessage(reply('complete', 'max_tokens')).metadata).toEqual({
      imported: true,
      finishReason: 'max_tokens',
    });
    expect(importedMessage(reply('complete', 'tool_limit')).metadata).toEqual({
      imported: true,
      finishReason: 'tool_limit',
    });
    for (const other of ['stop', 'safety', 'error', 'stopped', 'MAX_TOKENS', null, undefined])
      expect(importedMessage(reply('complete', other)).metadata).toEqual({ imported: true });
  });

  it('imports a user message as complete whatever the file says, and a failed or running reply too', () => {
    expect(
      importedMessage({ role: 'user', content: 'Go on.', status: 'cancelled', finishReason: 'max_tokens' }),
    ).toEqual({
      role: 'user',
      content: 'Go on.',
      status: 'complete',
      metadata: { imported: true },
    });
    for (const status of ['failed', 'streaming', 'pending', 'whatever'])
      expect(importedMessage(reply(status)).status).toBe('complete');
  });
});
