import { Injectable } from '@nestjs/common';
import { createSigner, createVerifier } from 'fast-jwt';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import type { AuthenticatedUser } from './current-user.decorator.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

// Verified tokens remembered, least recently used first out.
const TOKENS_CACHED = 10_000;

type Claims = { sub?: unknown; exp?: unknown; ver?: unknown };

/**
 * Access tokens: HS256 JWTs with our issuer, audience and lifetime. The signer and the verifier
 * are made once, with their options parsed and the key prepared; the verifier accepts HS256 only
 * (`none` and any other algorithm are refused) and requires the issuer, the audience and an
 * expiry, each checked. Whether the token's version is still current is not its concern (see
 * `session`), so remembering a verified token revokes nothing late.
 */
@Injectable()
export class TokenService {
  private readonly ttlSeconds: number;
  private readonly sign: (claims: Record<string, unknown>) => string;
  private readonly decode: (token: string) => Claims;

  constructor(config: AppConfig) {
    const { jwtSecret, jwtTtlSeconds, jwtIssuer, jwtAudience } = config.auth;
    this.ttlSeconds = jwtTtlSeconds;
    this.sign = createSigner({
      key: jwtSecret,
      algorithm: 'HS256',
      expiresIn: jwtTtlSeconds * 1000,
      iss: jwtIssuer,
      aud: jwtAudience,
    });
    this.decode = createVerifier({
      key: jwtSecret,
      algorithms: ['HS256'],
      allowedIss: jwtIssuer,
      allowedAud: jwtAudience,
      requiredClaims: ['iss', 'aud', 'exp'],
      // A client sends the same token on every request until it expires: what a verification
      // found is kept (by the token's SHA-256) until the token's own expiry, so a repeat costs a
      // hash instead of the HMAC and the claims' checks.
      cache: TOKENS_CACHED,
    });
  }

  /** A token for the user at the account's current token version (see TokenVersions). */
  issue(userId: string, version = 0): { accessToken: string; expiresIn: number } {
    return { accessToken: this.sign({ sub: userId, ver: version }), expiresIn: this.ttlSeconds };
  }

  verify(token: string): AuthenticatedUser {
    return this.session(token).user;
  }

  /**
   * The user a token names, the token version it was issued at (0 for tokens from before
   * versions existed) and when it expires (a socket stays open until then). Whether the version
   * is still current is the caller's to check (TokenVersions): this reads no database.
   */
  session(token: string): { user: AuthenticatedUser; version: number; expiresAtMs: number } {
    let payload: Claims;
    try {
      payload = this.decode(token);
    } catch {
      throw new AppError('unauthenticated');
    }
    // A token without an expiry would never lapse: refuse it even if correctly signed.
    if (typeof payload.exp !== 'number' || typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
      throw new AppError('unauthenticated');
    }
    const version = payload.ver ?? 0;
    if (typeof version !== 'number' || !Number.isInteger(version) || version < 0) throw new AppError('unauthenticated');
    return { user: { id: payload.sub }, version, expiresAtMs: payload.exp * 1000 };
  }
}
