import { AppError } from '../errors/app-error.js';
import { decodeChatCursor, encodeChatCursor } from './chat-cursor.js';

describe('chat cursor', () => {
  it('round-trips a position', () => {
    const cursor = { updatedAt: new Date('2026-11-21T10:11:12.345Z'), id: '0b0c3f5e-1a2b-4c3d-8e9f-0123456789ab' };
    expect(decodeChatCursor(encodeChatCursor(cursor))).toEqual(cursor);
  });

  it.each([
    '',
    'bogus',
    Buffer.from('["not a date","x"]').toString('base64url'),
    Buffer.from('{}').toString('base64url'),
  ])('rejects %p as a validation error', (value) => {
    expect(() => decodeChatCursor(value)).toThrow(AppError);
  });
});
