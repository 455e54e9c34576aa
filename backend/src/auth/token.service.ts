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

  issue(userId: string): { accessToken: string; expiresIn: number } {
    const { jwtTtlSeconds, jwtIssuer, jwtAudience } = this.config.auth;
    const accessToken = this.jwt.sign(
      { sub: userId },
      { algorithm: 'HS256', expiresIn: jwtTtlSeconds, issuer: jwtIssuer, audience: jwtAudience },
    );
    return { accessToken, expiresIn: jwtTtlSeconds };
  }

  verify(token: string): AuthenticatedUser {
    return this.session(token).user;
  }

  /** The user a token names and when it expires (a socket stays open until then). */
  session(token: string): { user: AuthenticatedUser; expiresAtMs: number } {
    const { jwtIssuer, jwtAudience } = this.config.auth;
    let payload: { sub?: unknown; exp?: unknown };
    try {
      payload = this.jwt.verify(token, { algorithms: ['HS256'], issuer: jwtIssuer, audience: jwtAudience });
    } catch {
      throw new AppError('unauthenticated');
    }
    // A token without an expiry would never lapse: refuse it even if correctly signed.
    if (typeof payload.exp !== 'number' || typeof payload.sub !== 'string' || !UUID.test(payload.sub)) {
      throw new AppError('unauthenticated');
    }
    return { user: { id: payload.sub }, expiresAtMs: payload.exp * 1000 };
  }
}
