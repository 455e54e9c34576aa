import { fingerprintOf } from './turn-pipeline.js';

describe('fingerprintOf', () => {
  const chatId = 'chat-1';
  const messageId = 'message-1';

  it('tells every kind of turn apart, so one key never serves two different actions', () => {
    const prints = [
      fingerprintOf({ kind: 'send', chatId, content: 'hello' }),
      fingerprintOf({ kind: 'regenerate', chatId, messageId }),
      fingerprintOf({ kind: 'edit', chatId, messageId, content: 'hello' }),
      fingerprintOf({ kind: 'continue', chatId, messageId }),
    ];
    expect(new Set(prints).size).toBe(4);
  });

  it('tells edits apart by their message and their content, and repeats alike', () => {
    const edit = (id: string, content: string) => fingerprintOf({ kind: 'edit', chatId, messageId: id, content });
    expect(edit(messageId, 'a')).toBe(edit(messageId, 'a'));
    expect(edit(messageId, 'a')).not.toBe(edit(messageId, 'b'));
    expect(edit(messageId, 'a')).not.toBe(edit('message-2', 'a'));
  });
});
