import { AppError } from '../errors/app-error.js';

// The contract's `IdempotencyKey` parameter: a structured-field string whose characters need no
// escaping (`\` and `"` are not allowed inside the quotes), or a bare token. Both name the same key.
const QUOTED = /^"([\x20\x21\x23-\x5B\x5D-\x7E]{1,255})"$/;
const BARE = /^[\x21\x23-\x7E]{1,255}$/;
const MAX_HEADER_LENGTH = 257;

/** Reads the `Idempotency-Key` header: the key, undefined when absent, validation_failed when malformed. */
export function parseIdempotencyKey(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (typeof header !== 'string') throw invalid('must be sent once, as a single value', 'type');
  if (header.length === 0) throw invalid('must not be empty', 'minLength');
  if (header.length > MAX_HEADER_LENGTH) throw invalid('must be at most 255 characters', 'maxLength');
  const quoted = QUOTED.exec(header);
  if (quoted) return quoted[1];
  if (BARE.test(header)) return header;
  throw invalid('must be 1 to 255 printable ASCII characters, quoted ("…") or as a bare token', 'pattern');
}

function invalid(message: string, keyword: string): AppError {
  return new AppError('validation_failed', {
    errors: [{ location: 'header', pointer: '/Idempotency-Key', message, keyword }],
  });
}
