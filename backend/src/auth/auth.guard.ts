import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { AppError } from '../errors/app-error.js';
import { IS_PUBLIC } from './public.decorator.js';
import { VERSION_CHECKED_BY_HANDLER, setAuthenticatedUser } from './current-user.decorator.js';
import { TokenService } from './token.service.js';
import { TokenVersions } from './token-versions.js';

/**
 * Global guard: every route needs a valid bearer token unless marked @Public(), issued at the
 * account's current token version (so tokens from before a sign-out-everywhere, a password
 * change or the account's deletion are refused). That takes a read per request; a hot read
 * path marked `@TokenVersionCheckedByHandler()` folds it into its own statement instead.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    private readonly versions: TokenVersions,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<Request>();
    const [scheme, token] = (request.headers.authorization ?? '').split(' ');
    if (scheme?.toLowerCase() !== 'bearer' || !token) throw new AppError('unauthenticated');
    const { user, version } = this.tokens.session(token);
    if (!this.reflector.getAllAndOverride<boolean>(VERSION_CHECKED_BY_HANDLER, targets)) {
      await this.versions.check(user.id, version);
    }
    setAuthenticatedUser(request, user, version);
    return true;
  }
}
