import { randomUUID } from 'node:crypto';
import { jest } from '@jest/globals';
import { Reflector } from '@nestjs/core';
import type { ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import jwt from 'jsonwebtoken';
import { unitConfig } from '../../test/support/turn-fixtures.js';
import { AppError } from '../errors/app-error.js';
import { AuthGuard } from './auth.guard.js';
import { TokenVersionCheckedByHandler, authenticatedUserOf, sessionOf } from './current-user.decorator.js';
import { IS_PUBLIC, Public } from './public.decorator.js';
import { TokenService } from './token.service.js';
import type { TokenVersions } from './token-versions.js';

const SECRET = 'x'.repeat(40);
const config = unitConfig({ JWT_SECRET: SECRET, JWT_TTL_SECONDS: '900' });
const tokens = new TokenService(config);
const userId = randomUUID();

/** A token signed with our secret, built by hand so each claim can be got wrong on purpose. */
function forged(claims: Record<string, unknown>, options: jwt.SignOptions = {}, secret: string = SECRET): string {
  return jwt.sign(claims, secret, { algorithm: 'HS256', ...options });
}

const valid = { issuer: 'parley', audience: 'parley-api', expiresIn: 60 } as const;

function codeOf(call: () => unknown): string | undefined {
  try {
    call();
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
  return undefined;
}

describe(TokenService.name, () => {
  it('issues an HS256 token for the user with our issuer, audience and lifetime', () => {
    const before = Math.floor(Date.now() / 1000);
    const { accessToken, expiresIn } = tokens.issue(userId);
    expect(expiresIn).toBe(900);
    const decoded = jwt.decode(accessToken, { complete: true })!;
    expect(decoded.header.alg).toBe('HS256');
    const payload = decoded.payload as jwt.JwtPayload;
    expect(payload).toMatchObject({ sub: userId, iss: 'parley', aud: 'parley-api' });
    expect(payload.exp! - payload.iat!).toBe(900);
    expect(payload.iat).toBeGreaterThanOrEqual(before);
  });

  it('verifies its own token and says when it expires', () => {
    const { accessToken } = tokens.issue(userId);
    const { exp } = jwt.decode(accessToken) as jwt.JwtPayload;
    expect(tokens.verify(accessToken)).toEqual({ id: userId });
    expect(tokens.session(accessToken)).toEqual({ user: { id: userId }, version: 0, expiresAtMs: exp! * 1000 });
  });

  it('refuses a token it has verified before once the token has expired', () => {
    const { accessToken } = tokens.issue(userId);
    expect(tokens.verify(accessToken)).toEqual({ id: userId });
    jest.useFakeTimers({ now: Date.now() + 901_000 });
    try {
      expect(codeOf(() => tokens.verify(accessToken))).toBe('unauthenticated');
    } finally {
      jest.useRealTimers();
    }
  });

  it('carries the token version it was issued at; a token without one is at version 0', () => {
    expect(tokens.session(tokens.issue(userId, 7).accessToken).version).toBe(7);
    expect(tokens.session(forged({ sub: userId }, valid)).version).toBe(0);
  });

  it.each([
    ['another secret', forged({ sub: userId }, valid, 'y'.repeat(40))],
    ['another issuer', forged({ sub: userId }, { ...valid, issuer: 'someone-else' })],
    ['another audience', forged({ sub: userId }, { ...valid, audience: 'another-api' })],
    ['no issuer', forged({ sub: userId }, { audience: 'parley-api', expiresIn: 60 })],
    ['no audience', forged({ sub: userId }, { issuer: 'parley', expiresIn: 60 })],
    ['no expiry', forged({ sub: userId }, { issuer: 'parley', audience: 'parley-api' })],
    [
      'an expiry in the past',
      forged({ sub: userId, exp: Math.floor(Date.now() / 1000) - 10 }, { issuer: 'parley', audience: 'parley-api' }),
    ],
    ['no subject', forged({}, valid)],
    ['a subject that is not a user id', forged({ sub: 'admin' }, valid)],
    ['a numeric subject', forged({ role: 'x' }, { ...valid, subject: '42' })],
    // Its text is a user id, but it is not a string.
    ['a subject that is a list holding a user id', forged({ sub: [userId] }, valid)],
    ['another algorithm (HS512)', jwt.sign({ sub: userId }, SECRET, { ...valid, algorithm: 'HS512' })],
    ['no signature (alg none)', jwt.sign({ sub: userId }, '', { ...valid, algorithm: 'none' })],
    ['a version that is not a whole number', forged({ sub: userId, ver: '1' }, valid)],
    ['a fractional version', forged({ sub: userId, ver: 1.5 }, valid)],
    ['a negative version', forged({ sub: userId, ver: -1 }, valid)],
    ['garbage', 'not.a.token'],
  ])('refuses a token with %s as unauthenticated', (_name, token) => {
    expect(codeOf(() => tokens.verify(token))).toBe('unauthenticated');
  });
});

describe(AuthGuard.name, () => {
  const reflector = new Reflector();
  // The account is at version 2; any other version (or another user) is refused.
  const versions = {
    check: async (id: string, version: number) => {
      if (id !== userId || version !== 2) throw new AppError('unauthenticated');
    },
  } as unknown as TokenVersions;
  const guard = new AuthGuard(reflector, tokens, versions);
  const handler = () => undefined;
  class Controller {}

  function contextOf(request: Partial<Request>, isPublic = false): ExecutionContext {
    Reflect.defineMetadata(IS_PUBLIC, isPublic, handler);
    return {
      getHandler: () => handler,
      getClass: () => Controller,
      switchToHttp: () => ({ getRequest: () => request }),
    } as unknown as ExecutionContext;
  }

  async function codeOfAsync(call: () => Promise<unknown>): Promise<string | undefined> {
    try {
      await call();
    } catch (error) {
      if (error instanceof AppError) return error.code;
      throw error;
    }
    return undefined;
  }

  it('lets a public route through without a token, naming no one', async () => {
    const request = { headers: {} } as Request;
    await expect(guard.canActivate(contextOf(request, true))).resolves.toBe(true);
    expect(authenticatedUserOf(request)).toBeUndefined();
  });

  it('names the user of a valid bearer token at the current version (the scheme in any case)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const request = { headers: { authorization: `${scheme} ${tokens.issue(userId, 2).accessToken}` } } as Request;
      await expect(guard.canActivate(contextOf(request))).resolves.toBe(true);
      expect(authenticatedUserOf(request)).toEqual({ id: userId });
    }
  });

  it.each([
    ['no header', undefined],
    ['an empty header', ''],
    ['another scheme', `Basic ${Buffer.from('a:b').toString('base64')}`],
    ['a scheme with no token', 'Bearer'],
    ['a scheme and a space only', 'Bearer '],
    ['a bad token', 'Bearer not.a.token'],
    ['a token of an earlier version', `Bearer ${tokens.issue(userId, 1).accessToken}`],
    ['a token of another account (or a deleted one)', `Bearer ${tokens.issue(randomUUID(), 2).accessToken}`],
  ])('refuses %s with unauthenticated, naming no one', async (_name, authorization) => {
    const request = { headers: authorization === undefined ? {} : { authorization } } as Request;
    expect(await codeOfAsync(() => guard.canActivate(contextOf(request)))).toBe('unauthenticated');
    expect(authenticatedUserOf(request)).toBeUndefined();
  });

  describe('with the route decorators', () => {
    // Routes marked the way controllers mark them, so the guard reads the metadata the decorators set.
    class Routes {
      @Public()
      open(): void {}

      @TokenVersionCheckedByHandler()
      hot(): void {}

      plain(): void {}
    }
    const checked: { id: string; version: number }[] = [];
    const recording = {
      check: async (id: string, version: number) => {
        checked.push({ id, version });
        await versions.check(id, version);
      },
    } as unknown as TokenVersions;
    const routesGuard = new AuthGuard(reflector, tokens, recording);

    function contextFor(handler: () => void, request: Partial<Request>): ExecutionContext {
      return {
        getHandler: () => handler,
        getClass: () => Routes,
        switchToHttp: () => ({ getRequest: () => request }),
      } as unknown as ExecutionContext;
    }

    beforeEach(() => {
      checked.length = 0;
    });

    it('lets a @Public() route through without a token', async () => {
      const request = { headers: {} } as Request;
      await expect(routesGuard.canActivate(contextFor(Routes.prototype.open, request))).resolves.toBe(true);
      expect(sessionOf(request)).toBeUndefined();
      expect(checked).toEqual([]);
    });

    it('checks the version on an undecorated route and gives the handler the session', async () => {
      const request = { headers: { authorization: `Bearer ${tokens.issue(userId, 2).accessToken}` } } as Request;
      await expect(routesGuard.canActivate(contextFor(Routes.prototype.plain, request))).resolves.toBe(true);
      expect(checked).toEqual([{ id: userId, version: 2 }]);
      expect(sessionOf(request)).toEqual({ userId, tokenVersion: 2 });
    });

    it('leaves the version to a @TokenVersionCheckedByHandler() route, handing it the token version', async () => {
      // Version 1 is stale (the account is at 2): the handler, not the guard, refuses it.
      const request = { headers: { authorization: `Bearer ${tokens.issue(userId, 1).accessToken}` } } as Request;
      await expect(routesGuard.canActivate(contextFor(Routes.prototype.hot, request))).resolves.toBe(true);
      expect(checked).toEqual([]);
      expect(authenticatedUserOf(request)).toEqual({ id: userId });
      expect(sessionOf(request)).toEqual({ userId, tokenVersion: 1 });
    });

    it.each(['Basic', 'Token', 'Bearer:', 'xBearer'])(
      'refuses a valid token under the %s scheme with unauthenticated',
      async (scheme) => {
        const request = { headers: { authorization: `${scheme} ${tokens.issue(userId, 2).accessToken}` } } as Request;
        expect(await codeOfAsync(() => routesGuard.canActivate(contextFor(Routes.prototype.plain, request)))).toBe(
          'unauthenticated',
        );
        expect(sessionOf(request)).toBeUndefined();
      },
    );
  });
});
