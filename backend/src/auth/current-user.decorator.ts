import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';

export interface AuthenticatedUser {
  id: string;
}

const USER = Symbol('user');
type WithUser = Request & { [USER]?: AuthenticatedUser };

export function setAuthenticatedUser(request: Request, user: AuthenticatedUser): void {
  (request as WithUser)[USER] = user;
}

export function authenticatedUserOf(request: Request): AuthenticatedUser | undefined {
  return (request as WithUser)[USER];
}

/** The caller, as established by the AuthGuard. */
export const CurrentUser = createParamDecorator((_data: unknown, context: ExecutionContext): AuthenticatedUser => {
  const user = authenticatedUserOf(context.switchToHttp().getRequest<Request>());
  if (!user) throw new Error('CurrentUser used on a public route');
  return user;
});
