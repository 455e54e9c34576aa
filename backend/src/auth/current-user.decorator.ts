import { SetMetadata, createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

export interface AuthenticatedUser {
  id: string;
}

/** The caller and the token version their token was issued at (see TokenVersions). */
export interface Session {
  userId: string;
  tokenVersion: number;
}

const USER = Symbol('user');
const SESSION = Symbol('session');
type WithUser = Request & { [USER]?: AuthenticatedUser; [SESSION]?: Session };

export function setAuthenticatedUser(request: Request, user: AuthenticatedUser, tokenVersion: number): void {
  (request as WithUser)[USER] = user;
  (request as WithUser)[SESSION] = { userId: user.id, tokenVersion };
}

export function authenticatedUserOf(request: Request): AuthenticatedUser | undefined {
  return (request as WithUser)[USER];
}

/** The caller and their token's version, as established by the AuthGuard (undefined on a public route). */
export function sessionOf(request: Request): Session | undefined {
  return (request as WithUser)[SESSION];
}

/** The caller, as established by the AuthGuard. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedUser => {
  const user = authenticatedUserOf(context.switchToHttp().getRequest<Request>());
  if (!user) throw new Error('CurrentUser used on a public route');
  return user;
});

export const VERSION_CHECKED_BY_HANDLER = 'parley:version-checked-by-handler';

/**
 * The handler's own statement checks that the token's version is still the account's, in the
 * same round trip as its read (a hot read path); the guard then checks the token's signature,
 * expiry and claims only. Such a handler must take `@CurrentSession()` and refuse a stale
 * version with `unauthenticated` — the account tests hold every such route to it.
 */
export const TokenVersionCheckedByHandler = () => SetMetadata(VERSION_CHECKED_BY_HANDLER, true);

/** The caller and their token's version, for a handler marked `@TokenVersionCheckedByHandler()`. */
export const CurrentSession = createParamDecorator((_data: unknown, context: ExecutionContext): Session => {
  const session = sessionOf(context.switchToHttp().getRequest<Request>());
  if (!session) throw new Error('CurrentSession used on a public route');
  return session;
});
