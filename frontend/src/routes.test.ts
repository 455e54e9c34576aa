import { describe, expect, it } from 'vitest';
import { chatIdFrom, movedFromHash, paths } from './routes';

const A = '11111111-1111-4111-8111-111111111111';

describe('routes', () => {
  it('takes a chat id from the address only when it is one', () => {
    expect(chatIdFrom(A)).toBe(A);
    expect(chatIdFrom('not-a-chat')).toBeNull();
    expect(chatIdFrom(undefined)).toBeNull();
  });

  it('moves an old #/chats/<id> link to the chat address, and leaves other hashes alone', () => {
    expect(movedFromHash(`#/chats/${A}`)).toBe(paths.chat(A));
    expect(movedFromHash('#/chats/not-a-chat')).toBeNull();
    expect(movedFromHash('#main')).toBeNull();
  });
});
