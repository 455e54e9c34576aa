import fc from 'fast-check';
import { AppError } from '../errors/app-error.js';
import { CursorCodec } from './cursor-codec.js';
import type { AppConfig } from '../config/app-config.js';

const codecWith = (secret: string) => new CursorCodec({ auth: { jwtSecret: secret } } as AppConfig);
const codec = codecWith('a-secret-that-is-long-enough-for-the-tests-0001');
const position = fc.array(fc.oneof(fc.string(), fc.integer(), fc.boolean(), fc.constant(null)), { maxLength: 4 });
const user = fc.uuid();

function refusal(run: () => unknown): AppError {
  try {
    run();
  } catch (error) {
    if (error instanceof AppError) return error;
    throw error;
  }
  throw new Error('the cursor was accepted');
}

describe(CursorCodec.name, () => {
  it('gives back the position it encoded, for the same user and listing', () => {
    fc.assert(
      fc.property(user, position, (userId, at) => {
        expect(codec.decode('chats', userId, codec.encode('chats', userId, at))).toEqual(at);
      }),
    );
  });

  it('writes only URL-safe characters (the contract pattern)', () => {
    fc.assert(
      fc.property(user, position, (userId, at) => {
        expect(codec.encode('chats', userId, at)).toMatch(/^[A-Za-z0-9_-]+$/);
      }),
    );
  });

  it('refuses a cursor issued to another user', () => {
    fc.assert(
      fc.property(user, user, position, (owner, other, at) => {
        fc.pre(owner !== other);
        const error = refusal(() => codec.decode('chats', other, codec.encode('chats', owner, at)));
        expect(error.code).toBe('validation_failed');
        expect(error.details.errors?.[0]).toMatchObject({ location: 'query', pointer: '/cursor' });
      }),
    );
  });

  it('refuses a cursor signed with another server key', () => {
    const other = codecWith('another-secret-that-is-long-enough-for-tests-02');
    fc.assert(
      fc.property(user, position, (userId, at) => {
        expect(refusal(() => codec.decode('chats', userId, other.encode('chats', userId, at))).code).toBe(
          'validation_failed',
        );
      }),
    );
  });

  it('refuses any single-character change', () => {
    fc.assert(
      fc.property(user, position, fc.nat(), fc.constantFrom(...'AQgw_-09z'), (userId, at, where, replacement) => {
        const cursor = codec.encode('chats', userId, at);
        const index = where % cursor.length;
        fc.pre(cursor[index] !== replacement);
        const changed = cursor.slice(0, index) + replacement + cursor.slice(index + 1);
        expect(refusal(() => codec.decode('chats', userId, changed)).code).toBe('validation_failed');
      }),
    );
  });

  it('refuses a position built by hand (plain base64url JSON, as cursors once were)', () => {
    const forged = Buffer.from(JSON.stringify(['2030-01-01T00:00:00.000Z', crypto.randomUUID()])).toString('base64url');
    expect(refusal(() => codec.decode('chats', crypto.randomUUID(), forged)).code).toBe('validation_failed');
  });

  it('refuses garbage of any shape without throwing anything but a 400', () => {
    fc.assert(
      fc.property(user, fc.string(), (userId, garbage) => {
        expect(refusal(() => codec.decode('chats', userId, garbage)).code).toBe('validation_failed');
      }),
    );
  });
});
