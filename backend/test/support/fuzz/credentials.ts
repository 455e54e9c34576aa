import fc from 'fast-check';
import jwt from 'jsonwebtoken';
import type { Draw } from './draw.js';

export interface TokenSettings {
  secret: string;
  issuer: string;
  audience: string;
}

export interface AuthVariant {
  /** The Authorization header sent, or undefined for none. */
  header?: string;
  note: string;
  /**
   * On an operation that needs a token: `valid` (the caller is signed in as the account),
   * `refused` (401 unauthenticated), or `unclear` (the contract does not say, e.g. a correctly
   * signed token for an account that does not exist).
   */
  outcome: 'valid' | 'refused' | 'unclear';
  /** Whether the header carries the account's own token, so a success acts as that account. */
  carriesToken?: boolean;
}

/**
 * Authorization headers a client may send wrongly: none, other schemes, garbage, and tokens
 * that are expired, unsigned, signed with another key or algorithm, for another issuer or
 * audience, without an expiry, not yet valid, or for no account.
 */
export function authVariant(draw: Draw, token: string, userId: string, settings: TokenSettings): AuthVariant {
  const sign = (payload: object, options: jwt.SignOptions = {}, secret: string = settings.secret) =>
    jwt.sign(payload, secret, { algorithm: 'HS256', issuer: settings.issuer, audience: settings.audience, ...options });
  const now = Math.floor(Date.now() / 1000);
  const kind = draw.pick([
    'none',
    'scheme-only',
    'garbage',
    'basic',
    'other-scheme',
    'no-scheme',
    'lowercase-scheme',
    'two-spaces',
    'trailing-word',
    'tampered',
    'truncated',
    'expired',
    'no-expiry',
    'wrong-secret',
    'alg-none',
    'hs512',
    'wrong-issuer',
    'wrong-audience',
    'sub-not-uuid',
    'not-yet-valid',
    'unknown-account',
    'latin1',
  ] as const);
  switch (kind) {
    case 'none':
      return { note: 'no Authorization header', outcome: 'refused' };
    case 'scheme-only':
      return { header: 'Bearer', note: 'Bearer without a token', outcome: 'refused' };
    case 'garbage': {
      const garbage = draw.pick(['null', 'undefined', 'x', 'a.b.c', '...', 'eyJhbGciOiJIUzI1NiJ9', '%00']);
      return { header: `Bearer ${garbage}`, note: `Bearer ${garbage}`, outcome: 'refused' };
    }
    case 'basic':
      return { header: 'Basic dXNlcjpwYXNzd29yZA==', note: 'Basic credentials', outcome: 'refused' };
    case 'other-scheme':
      return { header: `Token ${token}`, note: 'a valid token under another scheme', outcome: 'refused' };
    case 'no-scheme':
      return { header: token, note: 'a valid token without a scheme', outcome: 'refused' };
    case 'lowercase-scheme':
      // RFC 9110 §11.1: the scheme is case-insensitive.
      return {
        header: `${draw.pick(['bearer', 'BEARER', 'BeArEr'])} ${token}`,
        note: 'the scheme in another case',
        outcome: 'valid',
        carriesToken: true,
      };
    case 'two-spaces':
      return { header: `Bearer  ${token}`, note: 'two spaces after Bearer', outcome: 'unclear', carriesToken: true };
    case 'trailing-word':
      return {
        header: `Bearer ${token} extra`,
        note: 'a word after the token',
        outcome: 'unclear',
        carriesToken: true,
      };
    case 'tampered': {
      const [head, body, signature] = token.split('.');
      const flipped = `${signature!.slice(0, -2)}${signature!.endsWith('AA') ? 'AB' : 'AA'}`;
      return {
        header: `Bearer ${head}.${body}.${flipped}`,
        note: 'a token with a changed signature',
        outcome: 'refused',
      };
    }
    case 'truncated':
      return {
        header: `Bearer ${token.slice(0, draw.int(1, token.length - 1))}`,
        note: 'a truncated token',
        outcome: 'refused',
      };
    case 'expired':
      return {
        header: `Bearer ${sign({ sub: userId, exp: now - draw.pick([1, 60, 86400 * 365]) })}`,
        note: 'an expired token',
        outcome: 'refused',
      };
    case 'no-expiry':
      return { header: `Bearer ${sign({ sub: userId })}`, note: 'a token without exp', outcome: 'refused' };
    case 'wrong-secret':
      return {
        header: `Bearer ${sign({ sub: userId }, { expiresIn: 600 }, 'another-secret-that-is-long-enough-for-hs256')}`,
        note: 'a token signed with another key',
        outcome: 'refused',
      };
    case 'alg-none': {
      const encode = (part: object) => Buffer.from(JSON.stringify(part)).toString('base64url');
      const payload = { sub: userId, exp: now + 600, iss: settings.issuer, aud: settings.audience };
      return {
        header: `Bearer ${encode({ alg: 'none', typ: 'JWT' })}.${encode(payload)}.`,
        note: 'an unsigned (alg none) token',
        outcome: 'refused',
      };
    }
    case 'hs512':
      return {
        header: `Bearer ${sign({ sub: userId }, { expiresIn: 600, algorithm: 'HS512' })}`,
        note: 'a token signed with HS512',
        outcome: 'refused',
      };
    case 'wrong-issuer':
      return {
        header: `Bearer ${sign({ sub: userId }, { expiresIn: 600, issuer: 'someone-else' })}`,
        note: 'another issuer',
        outcome: 'refused',
      };
    case 'wrong-audience':
      return {
        header: `Bearer ${sign({ sub: userId }, { expiresIn: 600, audience: 'another-api' })}`,
        note: 'another audience',
        outcome: 'refused',
      };
    case 'sub-not-uuid':
      return {
        header: `Bearer ${sign({ sub: draw.pick(['admin', '1', "' OR 1=1 --", userId.toUpperCase() + 'x']) }, { expiresIn: 600 })}`,
        note: 'a subject that is not a user id',
        outcome: 'refused',
      };
    case 'not-yet-valid':
      return {
        header: `Bearer ${sign({ sub: userId, nbf: now + 3600 }, { expiresIn: 7200 })}`,
        note: 'a token not valid before an hour from now',
        outcome: 'refused',
      };
    case 'unknown-account':
      return {
        header: `Bearer ${sign({ sub: draw.value(fc.uuid()) }, { expiresIn: 600 })}`,
        note: 'a well-signed token for no account',
        outcome: 'unclear',
      };
    case 'latin1':
      return {
        header: `Bearer ${token.slice(0, 10)}é${token.slice(10)}`,
        note: 'a token with a Latin-1 byte',
        outcome: 'refused',
      };
  }
}
