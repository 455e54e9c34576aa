import fc from 'fast-check';
import { AppError } from '../errors/app-error.js';
import { parseIdempotencyKey } from './idempotency-key.js';

/** The one issue a malformed header is refused with. */
function refusal(header: string | string[]): { location: string; pointer: string; keyword: string; message: string } {
  try {
    parseIdempotencyKey(header);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    expect(error.code).toBe('validation_failed');
    const errors = error.details.errors ?? [];
    expect(errors).toHaveLength(1);
    return errors[0] as { location: string; pointer: string; keyword: string; message: string };
  }
  throw new Error(`accepted ${JSON.stringify(header)}`);
}

// Printable ASCII a bare token allows (no space, no `"`), and what a quoted one allows (no `"`, no `\`).
const bareChar = fc
  .integer({ min: 0x21, max: 0x7e })
  .filter((c) => c !== 0x22)
  .map((c) => String.fromCharCode(c));
const quotedChar = fc
  .integer({ min: 0x20, max: 0x7e })
  .filter((c) => c !== 0x22 && c !== 0x5c)
  .map((c) => String.fromCharCode(c));

describe(parseIdempotencyKey.name, () => {
  it('is undefined when the header is absent', () => {
    expect(parseIdempotencyKey(undefined)).toBeUndefined();
  });

  it('reads a bare token and the same key quoted as the same key', () => {
    fc.assert(
      fc.property(fc.string({ unit: bareChar, minLength: 1, maxLength: 255 }), (key) => {
        expect(parseIdempotencyKey(key)).toBe(key);
        fc.pre(!key.includes('\\'));
        expect(parseIdempotencyKey(`"${key}"`)).toBe(key);
      }),
    );
    expect(parseIdempotencyKey('"with space"')).toBe('with space');
    expect(parseIdempotencyKey('"a"')).toBe('a');
  });

  it('takes 255 characters bare or quoted, and refuses 256', () => {
    expect(parseIdempotencyKey('k'.repeat(255))).toBe('k'.repeat(255));
    expect(parseIdempotencyKey(`"${'k'.repeat(255)}"`)).toBe('k'.repeat(255));
    expect(refusal('k'.repeat(256))).toMatchObject({ keyword: 'pattern' });
    expect(refusal(`"${'k'.repeat(256)}"`)).toMatchObject({ keyword: 'maxLength' });
    expect(refusal('k'.repeat(258))).toEqual({
      location: 'header',
      pointer: '/Idempotency-Key',
      message: 'must be at most 255 characters',
      keyword: 'maxLength',
    });
  });

  it('refuses the header sent twice, empty, or with characters outside the token rules, pointing at the header', () => {
    expect(refusal(['a', 'b'])).toEqual({
      location: 'header',
      pointer: '/Idempotency-Key',
      message: 'must be sent once, as a single value',
      keyword: 'type',
    });
    expect(refusal('')).toEqual({
      location: 'header',
      pointer: '/Idempotency-Key',
      message: 'must not be empty',
      keyword: 'minLength',
    });
    for (const header of [
      'with space',
      '""',
      '"a"b"',
      '"a\\b"',
      'caf\u00e9',
      'a"b',
      '"unclosed',
      'tab\there',
      '"\u007f"',
    ]) {
      expect(refusal(header)).toEqual({
        location: 'header',
        pointer: '/Idempotency-Key',
        message: 'must be 1 to 255 printable ASCII characters, quoted ("…") or as a bare token',
        keyword: 'pattern',
      });
    }
  });

  it('answers any header text with the key or validation_failed, never another error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: quotedChar, maxLength: 260 }).map((s) => `"${s}"`),
        ),
        (header) => {
          let key: string | undefined;
          try {
            key = parseIdempotencyKey(header);
          } catch (error) {
            expect(error).toBeInstanceOf(AppError);
            return;
          }
          expect(key).toBeDefined();
          expect(key!.length).toBeGreaterThanOrEqual(1);
          expect(key!.length).toBeLessThanOrEqual(255);
          expect(header === key || header === `"${key}"`).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
