import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { AppConfig } from '../config/app-config.js';
import { AppError } from '../errors/app-error.js';
import type { AuthenticatedUser } from './current-user.decorator.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class TokenService {
  constructor(
    private readonly jwt: JwtService,
    private readonly config: AppConfig,
  ) {}

  /** A token for the user at the account's current token version (see TokenVersions). */
  issue(userId: string, version = 0): { accessToken: string; expiresIn: number } {
    const { jwtTtlSeconds, jwtIssuer, jwtAudience } = this.config.auth;
    const accessToken = this.jwt.sign(
      { sub: userId, ver: version },
      { algorithm: 'HS256', expiresIn: jwtTtlSeconds, issuer: jwtIssuer, audience: jwtAudience },
    );
    return { accessToken, expiresIn: jwtTtlSeconds };
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
    const { jwtIssuer, jwtAudience } = this.config.auth;
    let payload: { sub?: unknown; exp?: unknown; ver?: unknown };
    try {
      payload = this.jwt.verify(token, { algorithms: ['HS256'], issuer: jwtIssuer, audience: jwtAudience });
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
